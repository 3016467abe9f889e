//! What the ops recorded on Flex with autodiff share (`elementwise`, `depthwise`, `pointwise`):
//! recognising a tensor of that graph, taking its primitive and node out through burn's
//! documented extension path (`Tensor::try_into_primitive`), handing buffers back, and — for
//! the convolutions — the op itself: Flex's forward, the state, the gradients registered.

use std::fmt::Debug;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::{
    Autodiff, DispatchAutodiffContext, DispatchKindConversion, DispatchTensor, DispatchTensorKind,
    Flex, GradientCheckpointingStrategy, TensorMetadata,
};
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Shape, Tensor, TensorData};

/// The checkpointing strategy of `x`'s graph when `x` is an f32 autodiff tensor on Flex.
pub(crate) fn flex_autodiff<const D: usize>(
    x: &Tensor<D>,
) -> Option<GradientCheckpointingStrategy> {
    if x.dtype() != DType::F32 {
        return None;
    }
    let dispatch = x.clone().into_dispatch();
    match (dispatch.kind, dispatch.autodiff) {
        (DispatchTensorKind::Autodiff(inner), DispatchAutodiffContext::Enabled(strategy))
            if matches!(*inner, DispatchTensorKind::Flex(_)) =>
        {
            Some(strategy)
        }
        _ => None,
    }
}

/// `t`'s primitive on `Autodiff<Flex, C>` and the guard of its node (checked by the caller).
pub(crate) fn parts<C: CheckpointStrategy, const D: usize>(t: Tensor<D>) -> (FlexTensor, NodeGuard)
where
    DispatchTensor: DispatchKindConversion<Autodiff<Flex, C>>,
{
    t.try_into_primitive::<Autodiff<Flex, C>>()
        .expect("an autodiff Flex tensor with this checkpointing strategy")
        .into_parts()
}

/// `x` in the contiguous layout (itself when it is).
pub(crate) fn contiguous(x: FlexTensor) -> FlexTensor {
    if x.is_contiguous() {
        x
    } else {
        x.to_contiguous()
    }
}

/// A Flex tensor of `values` in `shape`.
pub(crate) fn flex(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// The gradients a recorded convolution is asked for (its parents that are tracked).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    pub input: bool,
    pub weight: bool,
    pub bias: bool,
}

/// The gradients of the input, the weight and the bias, each where it was wanted (flat, in
/// their tensors' layouts).
#[derive(Debug, Default)]
pub(crate) struct ConvGrads {
    pub input: Option<Vec<f32>>,
    pub weight: Option<Vec<f32>>,
    pub bias: Option<Vec<f32>>,
}

/// A convolution whose backward absnet computes: from the contiguous f32 input `[batch, in,
/// h, w]`, weight `[out, in / groups, k, k]` and output gradient, the gradients wanted.
pub(crate) trait ConvBackward: Debug + Send + 'static {
    fn gradients(
        &self,
        x: &FlexTensor,
        weight: &FlexTensor,
        grad: &FlexTensor,
        wanted: Wanted,
    ) -> ConvGrads;
}

/// `conv2d(x, weight, bias, options)`, recorded as one op whose backward is `op`'s on Flex
/// with autodiff, else burn's (the caller has checked that `op` computes this convolution).
pub(crate) fn conv2d<Op: ConvBackward>(
    op: Op,
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let strategy = flex_autodiff(&x)
        .filter(|_| flex_autodiff(&weight).is_some())
        .filter(|_| bias.as_ref().is_none_or(|b| flex_autodiff(b).is_some()));
    match strategy {
        Some(GradientCheckpointingStrategy::Disabled) => {
            conv2d_tracked::<NoCheckpointing, Op>(op, x, weight, bias, options)
        }
        Some(GradientCheckpointingStrategy::Balanced) => {
            conv2d_tracked::<BalancedCheckpointing, Op>(op, x, weight, bias, options)
        }
        None => burn_conv2d(x, weight, bias, options),
    }
}

/// The recorded convolution: its state is the input and the weight.
#[derive(Debug)]
struct RecordedConv<Op>(Op);

impl<Op: ConvBackward> Backward<Flex, 3> for RecordedConv<Op> {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, weight) = ops.state;
        let (x, weight) = (contiguous(x), contiguous(weight));
        let wanted = Wanted {
            input: node_x.is_some(),
            weight: node_weight.is_some(),
            bias: node_bias.is_some(),
        };
        let computed = self.0.gradients(&x, &weight, &grad, wanted);
        let outputs = weight.shape().dims::<4>()[0];
        let pairs = [
            (node_x, computed.input, x.shape()),
            (node_weight, computed.weight, weight.shape()),
            (node_bias, computed.bias, [outputs].into()),
        ];
        for (node, values, shape) in pairs {
            if let (Some(node), Some(values)) = (node, values) {
                grads.register::<Flex>(node.id, flex(values, shape));
            }
        }
    }
}

/// The convolution recorded on `Autodiff<Flex, C>`, where its tensors live (checked by the
/// caller). A bias that is absent enters as an untracked zero.
fn conv2d_tracked<C: CheckpointStrategy, Op: ConvBackward>(
    op: Op,
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4>
where
    DispatchTensor: DispatchKindConversion<Autodiff<Flex, C>>,
{
    let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &x.device()));
    let (x, node_x) = parts::<C, 4>(x);
    let (weight, node_weight) = parts::<C, 4>(weight);
    let (bias, node_bias) = parts::<C, 1>(bias);
    let output = Flex::conv2d(x.clone(), weight.clone(), Some(bias), options);
    let output = match RecordedConv(op)
        .prepare::<C>([node_x, node_weight, node_bias])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((x, weight), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Tensor::from_primitive::<Autodiff<Flex, C>>(output)
}

/// Checks of a recorded convolution against burn's, values and gradients.
#[cfg(test)]
pub(crate) mod check {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Output and the gradients of `Σ conv(x, w, b) · r` for x, w and b, on `device`, through
    /// `conv` (a recorded op's or burn's).
    #[allow(clippy::type_complexity)]
    fn value_and_grads(
        conv: fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>) -> Tensor<4>,
        inputs: &(Tensor<4>, Tensor<4>, Tensor<1>),
        options: &ConvOptions<2>,
        with_bias: bool,
        device: &Device,
    ) -> [Vec<f32>; 4] {
        let (x, w, b) = inputs;
        let x = Tensor::<4>::from_data(x.to_data(), device).require_grad();
        let w = Tensor::<4>::from_data(w.to_data(), device).require_grad();
        let b = Tensor::<1>::from_data(b.to_data(), device).require_grad();
        // The layer's weight is a product (a BatchNorm folded in), as in the model.
        let y = conv(
            x.clone(),
            w.clone() * 1.0,
            with_bias.then(|| b.clone() * 1.0),
            options.clone(),
        );
        // The same fixed weights of the outputs for both paths.
        let n = y.dims().iter().product::<usize>();
        let r: Vec<f32> = (0..n)
            .map(|i| (i * 7919 % 23) as f32 / 11.0 - 1.0)
            .collect();
        let r = Tensor::<4>::from_data(TensorData::new(r, y.dims()), device);
        let output = values(y.clone());
        let grads = (y * r).sum().backward();
        let bias_grad = if with_bias {
            values(b.grad(&grads).unwrap())
        } else {
            vec![]
        };
        [
            output,
            values(x.grad(&grads).unwrap()),
            values(w.grad(&grads).unwrap()),
            bias_grad,
        ]
    }

    /// `conv`'s output and gradients against burn's `conv2d` on `data` with `options`, under
    /// both checkpointing strategies, with and without a bias, within 1e-5 of the largest value.
    pub(crate) fn assert_matches_burn(
        conv: fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>) -> Tensor<4>,
        data: &(Tensor<4>, Tensor<4>, Tensor<1>),
        options: &ConvOptions<2>,
        case: &str,
    ) {
        let graphs = [
            Device::flex().autodiff(),
            Device::flex().autodiff().gradient_checkpointing(),
        ];
        for graph in &graphs {
            for with_bias in [true, false] {
                let ours = value_and_grads(conv, data, options, with_bias, graph);
                let burns = value_and_grads(conv2d, data, options, with_bias, graph);
                for (what, (ours, burns)) in ["output", "∂x", "∂w", "∂b"]
                    .iter()
                    .zip(ours.iter().zip(&burns))
                {
                    assert_close(ours, burns, &format!("{what} ({case})"));
                }
            }
        }
    }

    /// With a weight that takes no gradient (a frozen layer), `conv` registers none for it and
    /// still passes burn's input gradient.
    pub(crate) fn assert_frozen_weight_passes_the_input_gradient(
        conv: fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>) -> Tensor<4>,
        x: [usize; 4],
        weight: [usize; 4],
        options: &ConvOptions<2>,
    ) {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random(x, Distribution::Default, &device).require_grad();
        let w = Tensor::<4>::random(weight, Distribution::Default, &device);
        let grads = conv(x.clone(), w.clone(), None, options.clone())
            .sum()
            .backward();
        assert!(w.grad(&grads).is_none());
        let ours = values(x.grad(&grads).unwrap());
        let x2 = Tensor::<4>::from_data(x.to_data(), &device).require_grad();
        let grads = conv2d(x2.clone(), w, None, options.clone())
            .sum()
            .backward();
        assert_close(&ours, &values(x2.grad(&grads).unwrap()), "∂x");
    }

    fn assert_close(ours: &[f32], burns: &[f32], what: &str) {
        assert_eq!(ours.len(), burns.len(), "{what}: lengths");
        let scale = burns
            .iter()
            .map(|v| v.abs())
            .fold(0.0f32, f32::max)
            .max(1.0);
        for (i, (a, b)) in ours.iter().zip(burns).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * scale,
                "{what}[{i}]: {a} against burn's {b}"
            );
        }
    }
}
