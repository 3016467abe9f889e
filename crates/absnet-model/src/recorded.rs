//! What the ops recorded on Flex with autodiff share (`elementwise`, `depthwise`, `pointwise`):
//! recognising a tensor of that graph, taking its primitive and node out through burn's
//! documented extension path (`Tensor::try_into_primitive`), and handing buffers back.

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::ops::NodeGuard;
use burn::backend::flex::FlexTensor;
use burn::backend::{
    Autodiff, DispatchAutodiffContext, DispatchKindConversion, DispatchTensor, DispatchTensorKind,
    Flex, GradientCheckpointingStrategy,
};
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

/// Checks of a recorded convolution against burn's, values and gradients.
#[cfg(test)]
pub(crate) mod check {
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Device, Tensor, TensorData};

    pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Output and the gradients of `Σ conv(x, w, b) · r` for x, w and b, on `device`, through
    /// `conv` (a recorded op's or burn's).
    #[allow(clippy::type_complexity)]
    pub(crate) fn value_and_grads(
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

    pub(crate) fn assert_close(ours: &[f32], burns: &[f32], what: &str) {
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
