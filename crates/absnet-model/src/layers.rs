//! Building blocks shared by every backbone and head: a convolution whose padding follows either
//! PyTorch (fixed, symmetric) or TensorFlow ("same", computed from the input size), a BatchNorm
//! with frozen statistics, and their composition with an activation.
//!
//! Parameter names follow PyTorch (`weight`, `bias`, `running_mean`, `running_var`) so that the
//! import name tables only rename the module path, never the leaf.

use absnet_engine::Geometry;

use crate::{depthwise, elementwise, pointwise};
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use crate::profile::{OpKind, linear_flops, record};

/// How a convolution pads its input (PyTorch's symmetric padding or TensorFlow's "same").
pub use absnet_engine::Padding;

/// Static description of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub groups: usize,
    pub bias: bool,
    pub padding: Padding,
}

impl ConvSpec {
    /// A dense `kernel × kernel` convolution, stride 1, no dilation, no bias, PyTorch padding.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Self {
            in_channels,
            out_channels,
            kernel,
            stride: 1,
            dilation: 1,
            groups: 1,
            bias: false,
            padding: Padding::Symmetric,
        }
    }
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
    pub fn depthwise(self) -> Self {
        let channels = self.in_channels;
        self.groups(channels)
    }
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The kind of operation this convolution is, for profiles.
    pub fn op_kind(&self) -> OpKind {
        if self.groups > 1 && self.groups == self.in_channels {
            OpKind::DepthwiseConv
        } else if self.kernel == 1 {
            OpKind::PointwiseConv
        } else if self.dilation > 1 {
            OpKind::DilatedConv
        } else {
            OpKind::DenseConv
        }
    }

    /// FLOPs of this convolution producing `[batch, out_channels, height, width]`
    /// (multiply-add = 2, bias not counted).
    pub fn flops(&self, output: [usize; 4]) -> u64 {
        let [batch, channels, height, width] = output.map(|d| d as u64);
        let per_output = (self.in_channels / self.groups * self.kernel * self.kernel) as u64;
        2 * batch * channels * height * width * per_output
    }

    /// The kernel's spatial geometry.
    pub fn geometry(&self) -> Geometry {
        Geometry {
            kernel: self.kernel,
            stride: self.stride,
            dilation: self.dilation,
            padding: self.padding,
        }
    }

    /// Output length along a spatial axis of length `len`.
    fn output_len(&self, len: usize) -> usize {
        self.geometry().output_len(len)
    }

    /// `(begin, end)` padding of one spatial axis of length `len`.
    fn pad_axis(&self, len: usize) -> (usize, usize) {
        self.geometry().pad(len)
    }
}

/// A 2-D convolution, `weight: [out, in / groups, k, k]`.
#[derive(Module, Debug)]
pub struct Conv {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    #[module(skip)]
    pub spec: ConvSpec,
}

impl Conv {
    /// PyTorch's default initialisation: Kaiming-uniform with `a = sqrt(5)`, i.e. U(±1/sqrt(fan_in)).
    pub fn new(spec: ConvSpec, device: &Device) -> Self {
        let fan_in = spec.in_channels / spec.groups * spec.kernel * spec.kernel;
        let fan_out = spec.out_channels / spec.groups * spec.kernel * spec.kernel;
        let init = Initializer::KaimingUniform {
            gain: 1.0 / 3f64.sqrt(),
            fan_out_only: false,
        };
        let shape = [
            spec.out_channels,
            spec.in_channels / spec.groups,
            spec.kernel,
            spec.kernel,
        ];
        let weight = init.init_with(shape, Some(fan_in), Some(fan_out), device);
        let bias = spec
            .bias
            .then(|| init.init_with([spec.out_channels], Some(fan_in), Some(fan_out), device));
        Self { weight, bias, spec }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let bias = self.bias.as_ref().map(Param::val);
        self.forward_with(x, self.weight.val(), bias, Activation::Identity)
    }

    /// `activation(conv(x))` with this convolution's geometry and these weights (a BatchNorm
    /// folded in on the fly).
    fn forward_with(
        &self,
        x: Tensor<4>,
        weight: Tensor<4>,
        bias: Option<Tensor<1>>,
        activation: Activation,
    ) -> Tensor<4> {
        let [batch, _, h, w] = x.dims();
        let output = [
            batch,
            self.spec.out_channels,
            self.spec.output_len(h),
            self.spec.output_len(w),
        ];
        let (kind, flops) = (self.spec.op_kind(), self.spec.flops(output));
        let options = ConvOptions::new_with_padding(
            [self.spec.stride; 2],
            [self.spec.pad_axis(h), self.spec.pad_axis(w)],
            [self.spec.dilation; 2],
            self.spec.groups,
        );
        let x = record(kind, flops, || match kind {
            OpKind::DepthwiseConv => depthwise::conv2d(x, weight, bias, options),
            OpKind::PointwiseConv => pointwise::conv2d(x, weight, bias, options),
            _ => conv2d(x, weight, bias, options),
        });
        activate(activation, x)
    }
}

/// BatchNorm in inference form: normalises with the stored running statistics. The statistics
/// are never updated (the reference trains with BatchNorm frozen; with batch 8 the running
/// estimates would only get worse); `weight` and `bias` stay trainable.
#[derive(Module, Debug)]
pub struct BatchNorm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub running_mean: Param<Tensor<1>>,
    pub running_var: Param<Tensor<1>>,
    #[module(skip)]
    pub eps: f64,
}

impl BatchNorm {
    pub fn new(channels: usize, eps: f64, device: &Device) -> Self {
        let frozen = |init: Initializer| init.init([channels], device).set_require_grad(false);
        Self {
            weight: Initializer::Ones.init([channels], device),
            bias: Initializer::Zeros.init([channels], device),
            running_mean: frozen(Initializer::Zeros),
            running_var: frozen(Initializer::Ones),
            eps,
        }
    }

    /// Per-channel `(scale, shift)` with `y = x * scale + shift`.
    fn affine(&self) -> (Tensor<1>, Tensor<1>) {
        let scale = self.weight.val() / (self.running_var.val() + self.eps).sqrt();
        let shift = self.bias.val() - self.running_mean.val() * scale.clone();
        (scale, shift)
    }
}

/// The activation applied after a convolution (absnet-engine's, so both paths name it alike).
pub use absnet_engine::Activation;

/// `activation(x)` on burn's tensors.
pub fn activate<const D: usize>(activation: Activation, x: Tensor<D>) -> Tensor<D> {
    match activation {
        Activation::Identity => x,
        Activation::Relu => record(OpKind::Elementwise, 0, || elementwise::relu(x)),
        Activation::Relu6 => record(OpKind::Elementwise, 0, || elementwise::relu6(x)),
    }
}

/// Convolution → optional BatchNorm → activation (torchvision's `Conv2dNormActivation`).
#[derive(Module, Debug)]
pub struct ConvNorm {
    pub conv: Conv,
    pub norm: Option<BatchNorm>,
    #[module(skip)]
    pub activation: Activation,
}

impl ConvNorm {
    /// Convolution without bias followed by BatchNorm.
    pub fn new(spec: ConvSpec, eps: f64, activation: Activation, device: &Device) -> Self {
        Self {
            conv: Conv::new(spec.bias(false), device),
            norm: Some(BatchNorm::new(spec.out_channels, eps, device)),
            activation,
        }
    }

    /// With a BatchNorm, the convolution runs with the norm folded into its weights and bias —
    /// `W · scale`, `b · scale + shift`, computed from the parameters every call, so training
    /// still reaches the convolution's weights and the norm's `weight` and `bias` — instead of
    /// two broadcasts over the whole feature map forward and their counterparts backward.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (weight, bias) = self.weight_and_bias();
        self.conv.forward_with(x, weight, bias, self.activation)
    }

    /// The weight and bias the convolution runs with, the BatchNorm folded in.
    pub fn weight_and_bias(&self) -> (Tensor<4>, Option<Tensor<1>>) {
        match &self.norm {
            Some(norm) => {
                let (weight, bias) = self.folded(norm);
                (weight, Some(bias))
            }
            None => (
                self.conv.weight.val(),
                self.conv.bias.as_ref().map(Param::val),
            ),
        }
    }

    /// The convolution's weight and bias with `norm` folded in.
    fn folded(&self, norm: &BatchNorm) -> (Tensor<4>, Tensor<1>) {
        let (scale, shift) = norm.affine();
        let out = scale.dims()[0];
        let weight = self.conv.weight.val() * scale.clone().reshape([out, 1, 1, 1]);
        let bias = match &self.conv.bias {
            Some(bias) => bias.val() * scale + shift,
            None => shift,
        };
        (weight, bias)
    }

    /// Folds the BatchNorm into the convolution (`W' = W * scale`, `b' = b * scale + shift`), so
    /// inference runs one convolution with bias instead of a convolution and two broadcasts.
    /// Exact up to float rounding; only for inference (the folded layer has no running stats).
    pub fn fold_norm(self) -> Self {
        let Some(norm) = &self.norm else {
            return self;
        };
        let (weight, bias) = self.folded(norm);
        let spec = ConvSpec {
            bias: true,
            ..self.conv.spec
        };
        Self {
            conv: Conv {
                weight: Param::from_tensor(weight),
                bias: Some(Param::from_tensor(bias)),
                spec,
            },
            norm: None,
            activation: self.activation,
        }
    }
}

/// Fully connected layer in PyTorch's layout, `weight: [out, in]` (burn's own `Linear` stores
/// `[in, out]`; keeping PyTorch's makes import a pure renaming).
#[derive(Module, Debug)]
pub struct Linear {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Linear {
    /// PyTorch's default initialisation, U(±1/sqrt(in)) for weight and bias.
    pub fn new(input: usize, output: usize, device: &Device) -> Self {
        let init = Initializer::KaimingUniform {
            gain: 1.0 / 3f64.sqrt(),
            fan_out_only: false,
        };
        Self {
            weight: init.init_with([output, input], Some(input), Some(output), device),
            bias: init.init_with([output], Some(input), Some(output), device),
        }
    }

    /// `x: [batch, in]` → `[batch, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [out, input] = self.weight.dims();
        let flops = linear_flops(x.dims()[0], input, out);
        record(OpKind::PoolingAndLinear, flops, || {
            x.matmul(self.weight.val().transpose()) + self.bias.val().reshape([1, out])
        })
    }
}

/// Inverted residual (MobileNetV2's block, EfficientNet's MBConv without squeeze-excitation):
/// 1×1 expansion → depthwise k×k → linear 1×1 projection, plus the input when shapes allow.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    pub expand: Option<ConvNorm>,
    pub depthwise: ConvNorm,
    pub project: ConvNorm,
    #[module(skip)]
    pub residual: bool,
}

/// Shape of one inverted residual block.
#[derive(Clone, Copy, Debug)]
pub struct InvertedResidualSpec {
    pub input: usize,
    pub output: usize,
    pub kernel: usize,
    pub expansion: usize,
    pub stride: usize,
    pub dilation: usize,
    pub padding: Padding,
    pub eps: f64,
}

impl InvertedResidual {
    pub fn new(spec: InvertedResidualSpec, device: &Device) -> Self {
        let hidden = spec.input * spec.expansion;
        let conv = |i, o, k| ConvSpec::new(i, o, k).padding(spec.padding);
        let expand = (spec.expansion != 1).then(|| {
            ConvNorm::new(
                conv(spec.input, hidden, 1),
                spec.eps,
                Activation::Relu6,
                device,
            )
        });
        let depthwise = ConvNorm::new(
            conv(hidden, hidden, spec.kernel)
                .stride(spec.stride)
                .dilation(spec.dilation)
                .depthwise(),
            spec.eps,
            Activation::Relu6,
            device,
        );
        let project = ConvNorm::new(
            conv(hidden, spec.output, 1),
            spec.eps,
            Activation::Identity,
            device,
        );
        Self {
            expand,
            depthwise,
            project,
            residual: spec.stride == 1 && spec.input == spec.output,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = x.clone();
        if let Some(expand) = &self.expand {
            y = expand.forward(y);
        }
        let y = self.project.forward(self.depthwise.forward(y));
        if self.residual {
            record(OpKind::Elementwise, 0, || elementwise::add(x, y))
        } else {
            y
        }
    }

    pub fn fold_norms(self) -> Self {
        Self {
            expand: self.expand.map(ConvNorm::fold_norm),
            depthwise: self.depthwise.fold_norm(),
            project: self.project.fold_norm(),
            residual: self.residual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_geometry() {
        let dense = ConvSpec::new(256, 256, 3);
        assert_eq!(dense.op_kind(), OpKind::DenseConv);
        assert_eq!(dense.dilation(4).op_kind(), OpKind::DilatedConv);
        assert_eq!(
            ConvSpec::new(96, 96, 3).depthwise().op_kind(),
            OpKind::DepthwiseConv
        );
        assert_eq!(ConvSpec::new(16, 96, 1).op_kind(), OpKind::PointwiseConv);
    }

    #[test]
    fn conv_flops_count_a_multiply_add_as_two() {
        // 3×3, 256 → 256 over 40×60: 2 · 256 · 40 · 60 · 256 · 9.
        let spec = ConvSpec::new(256, 256, 3).dilation(4);
        assert_eq!(spec.flops([1, 256, 40, 60]), 2_831_155_200);
        let depthwise = ConvSpec::new(96, 96, 3).depthwise();
        assert_eq!(depthwise.flops([2, 96, 10, 10]), 2 * 2 * 96 * 100 * 9);
    }

    #[test]
    fn tf_same_padding_puts_the_odd_pixel_at_the_end() {
        let spec = ConvSpec::new(3, 8, 3).stride(2).padding(Padding::TfSame);
        assert_eq!(spec.pad_axis(224), (0, 1));
        assert_eq!(spec.pad_axis(225), (1, 1));
        let spec5 = ConvSpec::new(3, 8, 5).stride(2).padding(Padding::TfSame);
        assert_eq!(spec5.pad_axis(112), (1, 2));
        let dilated = ConvSpec::new(3, 8, 3).dilation(4).padding(Padding::TfSame);
        assert_eq!(dilated.pad_axis(40), (4, 4));
    }

    #[test]
    fn symmetric_padding_scales_with_dilation() {
        assert_eq!(ConvSpec::new(3, 8, 3).dilation(16).pad_axis(10), (16, 16));
        assert_eq!(ConvSpec::new(3, 8, 7).pad_axis(10), (3, 3));
    }

    #[test]
    fn folding_batchnorm_keeps_the_output() {
        let device = Device::flex();
        let mut layer = ConvNorm::new(ConvSpec::new(4, 6, 3), 1e-5, Activation::Relu, &device);
        let norm = layer.norm.take().unwrap();
        let stats = |v: Vec<f32>| Param::from_data(burn::tensor::TensorData::new(v, [6]), &device);
        layer.norm = Some(BatchNorm {
            weight: stats(vec![0.5, 1.5, -1.0, 2.0, 0.1, 1.0]),
            bias: stats(vec![0.1, -0.2, 0.3, 0.0, 1.0, -1.0]),
            running_mean: stats(vec![0.2, -0.1, 0.0, 0.5, 0.3, -0.4]),
            running_var: stats(vec![1.0, 0.5, 2.0, 0.1, 3.0, 1.5]),
            ..norm
        });
        let x = Tensor::<4>::random(
            [2, 4, 9, 7],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        // The reference: the plain convolution, then BatchNorm's own formula with the running
        // statistics, then the activation — nothing folded anywhere.
        let norm = layer.norm.as_ref().unwrap();
        let per_channel = |p: &Param<Tensor<1>>| p.val().reshape([1, 6, 1, 1]);
        let convolved = layer.conv.forward(x.clone());
        let normalised = (convolved - per_channel(&norm.running_mean))
            / (per_channel(&norm.running_var) + norm.eps).sqrt()
            * per_channel(&norm.weight)
            + per_channel(&norm.bias);
        let unfolded = burn::tensor::activation::relu(normalised);
        let on_the_fly = layer.forward(x.clone());
        let on_the_fly_diff = (unfolded.clone() - on_the_fly)
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(on_the_fly_diff < 1e-5, "max |Δ| = {on_the_fly_diff}");
        let folded = layer.fold_norm().forward(x);
        let diff = (unfolded - folded).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "max |Δ| = {diff}");
    }
}
