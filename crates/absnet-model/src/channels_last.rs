//! Inference forwards on absnet-engine's channels-last layers. On Flex, an inference forward
//! (f32, no autodiff) of a model whose norms are folded runs the convolutions of its mobile
//! encoder, its ABSNet neck and its conv saliency head there instead of through burn's own: one
//! layout through each of them, each layer's bias, activation and residual computed in the pass
//! that produces it. Training, other backends and other dtypes run burn's layers, which stay
//! the definition: the two agree to float rounding (tests in `tests/parity.rs`).

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use absnet_engine::{Dense, Depthwise, FeatureMap, Pointwise};
use burn::tensor::{Device, Tensor, TensorData};

use crate::elementwise;
use crate::layers::ConvNorm;
use crate::profile::{OpKind, record};

/// Which convolutions a folded model's inference forward on Flex runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// absnet-engine's channels-last layers (the mobile encoders, the neck, the conv head).
    #[default]
    ChannelsLast,
    /// burn Flex's own convolutions in the channels-first layout, as training runs them.
    Flex,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::ChannelsLast, Engine::Flex];

    pub fn name(self) -> &'static str {
        match self {
            Engine::ChannelsLast => "channels-last",
            Engine::Flex => "flex",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| format!("unknown engine `{s}`: expected `channels-last` or `flex`"))
    }
}

/// Whether an inference forward of `x` can run on the channels-last layers.
pub(crate) fn applies(x: &Tensor<4>) -> bool {
    elementwise::in_place(x)
}

/// `x` (`[batch, channels, height, width]`, f32 on Flex) in the channels-last layout.
pub(crate) fn to_feature_map(x: Tensor<4>) -> FeatureMap {
    let shape: [usize; 4] = x.dims();
    let values = x
        .into_data()
        .try_into_vec::<f32>()
        .expect("an f32 tensor (checked by `applies`)");
    FeatureMap::from_nchw(&values, shape)
}

/// `map` back in the channels-first layout, as a tensor on `device`.
pub(crate) fn to_tensor(map: &FeatureMap, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(map.to_nchw(), map.nchw_shape()), device)
}

/// Features handed from the encoder to the neck and the heads: a tensor, or on the
/// channels-last path a channels-last map that becomes a tensor only when a layer that needs
/// one asks (once). A tap no head reads is then never converted, and the encoder's `c5` reaches
/// the neck, and the neck's output the conv head, without leaving the channels-last layout.
#[derive(Clone)]
pub struct Features(Kind);

#[derive(Clone)]
enum Kind {
    /// Boxed: a GPU backend's tensor is many times the size of the other variant.
    Tensor(Box<Tensor<4>>),
    ChannelsLast {
        map: Arc<FeatureMap>,
        device: Device,
        tensor: Arc<OnceLock<Tensor<4>>>,
    },
}

impl Features {
    pub(crate) fn channels_last(map: Arc<FeatureMap>, device: &Device) -> Self {
        Self(Kind::ChannelsLast {
            map,
            device: device.clone(),
            tensor: Arc::default(),
        })
    }

    /// `[batch, channels, height, width]`.
    pub fn tensor(&self) -> Tensor<4> {
        match &self.0 {
            Kind::Tensor(x) => (**x).clone(),
            Kind::ChannelsLast {
                map,
                device,
                tensor,
            } => tensor.get_or_init(|| to_tensor(map, device)).clone(),
        }
    }

    /// The features as a channels-last map, when the channels-last layers apply to them.
    pub(crate) fn map(&self) -> Option<Arc<FeatureMap>> {
        match &self.0 {
            Kind::Tensor(x) => applies(x).then(|| Arc::new(to_feature_map((**x).clone()))),
            Kind::ChannelsLast { map, .. } => Some(map.clone()),
        }
    }

    /// The channels-last map these features already are, if they are one (never a conversion).
    pub(crate) fn channels_last_map(&self) -> Option<&FeatureMap> {
        match &self.0 {
            Kind::Tensor(_) => None,
            Kind::ChannelsLast { map, .. } => Some(map),
        }
    }

    pub fn device(&self) -> Device {
        match &self.0 {
            Kind::Tensor(x) => x.device(),
            Kind::ChannelsLast { device, .. } => device.clone(),
        }
    }

    /// The same features cut from the autodiff graph (channels-last maps never are in one).
    pub fn detach(self) -> Self {
        match self.0 {
            Kind::Tensor(x) => Self(Kind::Tensor(Box::new(x.detach()))),
            channels_last => Self(channels_last),
        }
    }
}

/// Each of `features` as a tensor.
pub(crate) fn tensors(features: &[Features]) -> Vec<Tensor<4>> {
    features.iter().map(Features::tensor).collect()
}

impl From<Tensor<4>> for Features {
    fn from(x: Tensor<4>) -> Self {
        Self(Kind::Tensor(Box::new(x)))
    }
}

impl fmt::Debug for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layout = match &self.0 {
            Kind::Tensor(_) => "tensor",
            Kind::ChannelsLast { .. } => "channels-last",
        };
        f.debug_tuple("Features").field(&layout).finish()
    }
}

/// One convolution of a [`ConvNorm`] as the engine layer for its kind.
#[derive(Debug)]
pub(crate) struct Conv {
    layer: Layer,
    spec: crate::layers::ConvSpec,
}

#[derive(Debug)]
enum Layer {
    Pointwise(Pointwise),
    Depthwise(Depthwise),
    Dense(Dense),
}

impl Conv {
    /// The engine layer computing what `conv.forward` computes (its norm folded in). `None`
    /// for a kind the engine has no layer for: grouped convolutions other than depthwise,
    /// strided or padded 1×1 convolutions.
    pub(crate) fn new(conv: &ConvNorm) -> Option<Self> {
        let spec = conv.conv.spec;
        let (weight, bias) = conv.weight_and_bias();
        let weight = host_values(weight.into_data());
        let bias = match bias {
            Some(bias) => host_values(bias.into_data()),
            None => vec![0.0; spec.out_channels],
        };
        let activation = conv.activation;
        let geometry = spec.geometry();
        let layer = if spec.groups == 1 && spec.kernel == 1 && spec.stride == 1 {
            Layer::Pointwise(Pointwise::new(&weight, bias, activation))
        } else if spec.groups == spec.in_channels && spec.groups == spec.out_channels {
            Layer::Depthwise(Depthwise::new(&weight, bias, geometry, activation))
        } else if spec.groups == 1 {
            Layer::Dense(Dense::new(&weight, bias, geometry, activation))
        } else {
            return None;
        };
        Some(Self { layer, spec })
    }

    /// The layer's output, plus `residual` where given (not for depthwise or strided layers),
    /// timed and counted in the profile as burn's layer is.
    pub(crate) fn forward(&self, x: &FeatureMap, residual: Option<&FeatureMap>) -> FeatureMap {
        let g = self.spec.geometry();
        let output = [
            x.batch,
            self.spec.out_channels,
            g.output_len(x.height),
            g.output_len(x.width),
        ];
        record(self.spec.op_kind(), self.spec.flops(output), || {
            match (&self.layer, residual) {
                (Layer::Pointwise(layer), residual) => layer.forward(x, residual),
                (Layer::Depthwise(layer), None) => layer.forward(x),
                (Layer::Dense(layer), residual) => layer.forward(x, residual),
                (Layer::Depthwise(_), Some(_)) => {
                    unreachable!("no residual after a depthwise layer")
                }
            }
        })
    }
}

/// `project` applied to `depthwise`'s output (plus `residual`), band by band so that the
/// depthwise output is never written whole (`Depthwise::forward_then`); `None` when the two are
/// not a depthwise layer and a 1×1 one, or when the projection's weights are too large to
/// re-read for every band.
pub(crate) fn depthwise_separable(
    depthwise: &Conv,
    project: &Conv,
    x: &FeatureMap,
    residual: Option<&FeatureMap>,
) -> Option<FeatureMap> {
    let (Layer::Depthwise(dw), Layer::Pointwise(pw)) = (&depthwise.layer, &project.layer) else {
        return None;
    };
    if !pw.fits_a_band() {
        return None;
    }
    let g = depthwise.spec.geometry();
    let (height, width) = (g.output_len(x.height), g.output_len(x.width));
    let flops = depthwise
        .spec
        .flops([x.batch, depthwise.spec.out_channels, height, width])
        + project
            .spec
            .flops([x.batch, project.spec.out_channels, height, width]);
    Some(record(OpKind::DepthwiseSeparable, flops, || {
        dw.forward_then(pw, x, residual)
    }))
}

/// Several [`ConvNorm`]s as engine layers; `None` if one has no counterpart.
pub(crate) fn convs<'a>(layers: impl IntoIterator<Item = &'a ConvNorm>) -> Option<Vec<Conv>> {
    layers.into_iter().map(Conv::new).collect()
}

/// A parameter's values as f32 on the host, whatever its dtype.
fn host_values(data: TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}
