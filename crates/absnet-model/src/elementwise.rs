//! Element-wise passes on every core. Flex runs its unary and binary element-wise ops on one
//! thread while the others wait; between two convolutions that is a fifth of a MobileNetV2
//! forward at batch 1, and in a training step burn's ReLU6 (a clamp: two comparisons and two
//! masked fills forward, two masked fills backward) is the largest single-threaded item. Here a
//! forward on Flex without autodiff takes the tensor's buffer (without a copy when the tensor
//! owns it, as a fresh convolution output does), transforms it in place in chunks spread over
//! rayon's threads and hands it back; with autodiff on Flex, the rectifiers are one recorded op
//! whose forward and backward are one such pass each (the backward reads the output, which
//! the next convolution keeps anyway). Anything else — another backend, another dtype — goes
//! through burn's own op, so results are the same everywhere.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::{
    Autodiff, DispatchKindConversion, DispatchTensor, Flex, GradientCheckpointingStrategy,
};
use burn::tensor::activation;
use burn::tensor::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::recorded::{contiguous, flex, flex_autodiff, parts};

/// Elements per task: large enough to amortise scheduling, small enough to balance 2–64 threads.
const CHUNK: usize = 1 << 15;

/// Whether `x` can be transformed in place on the host.
pub(crate) fn in_place<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && !x.is_autodiff() && x.device() == Device::flex()
}

/// `f` applied to every element of `x`, in place where possible, else `fallback(x)`.
fn map<const D: usize>(
    x: Tensor<D>,
    f: impl Fn(f32) -> f32 + Sync,
    fallback: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    if !in_place(&x) {
        return fallback(x);
    }
    let device = x.device();
    let mut data = x.into_data();
    let values = data.as_mut_slice::<f32>().expect("an f32 tensor");
    values
        .par_chunks_mut(CHUNK)
        .for_each(|chunk| chunk.iter_mut().for_each(|v| *v = f(*v)));
    Tensor::from_data(data, &device)
}

/// `min(max(x, 0), upper)`, NaN kept: ReLU with `upper` infinite, ReLU6 with 6.
fn rectify(v: f32, upper: f32) -> f32 {
    if v.is_nan() || (v > 0.0 && v < upper) {
        v
    } else if v > 0.0 {
        upper
    } else {
        0.0
    }
}

/// The rectifier's gradient from its output: passed where the output is strictly inside
/// `(0, upper)` or NaN, zero where it was cut — PyTorch's `hardtanh_backward` and burn's
/// `relu_backward` (burn's clamp also passes it at exactly 0 and 6, where the output cannot
/// tell a cut from a boundary value).
fn rectify_backward(output: f32, grad: f32, upper: f32) -> f32 {
    if output.is_nan() || (output > 0.0 && (output < upper || upper == f32::INFINITY)) {
        grad
    } else {
        0.0
    }
}

/// `f` applied element by element to a contiguous f32 Flex tensor, in its own buffer when it
/// owns it, else into a new one.
fn flex_map(x: FlexTensor, f: impl Fn(f32) -> f32 + Sync) -> FlexTensor {
    let mut x = contiguous(x);
    if let Some(values) = x.try_storage_mut::<f32>() {
        values
            .par_chunks_mut(CHUNK)
            .for_each(|chunk| chunk.iter_mut().for_each(|v| *v = f(*v)));
        return x;
    }
    let input = x.as_slice::<f32>().expect("a contiguous f32 tensor");
    let mut values = vec![0.0f32; input.len()];
    values
        .par_chunks_mut(CHUNK)
        .zip(input.par_chunks(CHUNK))
        .for_each(|(out, x)| out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v)));
    flex(values, x.layout().shape().clone())
}

/// The recorded rectifier: its state is the output, the gradient is masked in one pass.
#[derive(Debug)]
struct Rectifier {
    upper: f32,
}

impl Backward<Flex, 1> for Rectifier {
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        let upper = self.upper;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let mut grad = contiguous(grad);
            let output = contiguous(output);
            let out = output.as_slice::<f32>().expect("a contiguous f32 tensor");
            if let Some(values) = grad.try_storage_mut::<f32>() {
                values
                    .par_chunks_mut(CHUNK)
                    .zip(out.par_chunks(CHUNK))
                    .for_each(|(g, o)| {
                        g.iter_mut()
                            .zip(o)
                            .for_each(|(g, &o)| *g = rectify_backward(o, *g, upper))
                    });
                return grad;
            }
            let incoming = grad.as_slice::<f32>().expect("a contiguous f32 tensor");
            let mut values = vec![0.0f32; incoming.len()];
            values
                .par_chunks_mut(CHUNK)
                .zip(incoming.par_chunks(CHUNK).zip(out.par_chunks(CHUNK)))
                .for_each(|(v, (g, o))| {
                    v.iter_mut()
                        .zip(g.iter().zip(o))
                        .for_each(|(v, (&g, &o))| *v = rectify_backward(o, g, upper))
                });
            flex(values, grad.layout().shape().clone())
        });
    }
}

/// The rectifier recorded on `Autodiff<Flex, C>`, where `x` lives (checked by the caller).
fn rectify_tracked<C: CheckpointStrategy, const D: usize>(x: Tensor<D>, upper: f32) -> Tensor<D>
where
    DispatchTensor: DispatchKindConversion<Autodiff<Flex, C>>,
{
    let (input, node) = parts::<C, D>(x);
    let output = flex_map(input, |v| rectify(v, upper));
    let output = match (Rectifier { upper })
        .prepare::<C>([node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Tensor::from_primitive::<Autodiff<Flex, C>>(output)
}

/// `min(max(x, 0), upper)` on every core: in place without autodiff, as one recorded op with
/// it on Flex, else `fallback(x)`.
fn rectifier<const D: usize>(
    x: Tensor<D>,
    upper: f32,
    fallback: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    if !x.is_autodiff() {
        return map(x, |v| rectify(v, upper), fallback);
    }
    match flex_autodiff(&x) {
        Some(GradientCheckpointingStrategy::Disabled) => {
            rectify_tracked::<NoCheckpointing, D>(x, upper)
        }
        Some(GradientCheckpointingStrategy::Balanced) => {
            rectify_tracked::<BalancedCheckpointing, D>(x, upper)
        }
        None => fallback(x),
    }
}

/// `max(x, 0)`, NaN kept (as PyTorch and burn).
pub(crate) fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    rectifier(x, f32::INFINITY, activation::relu)
}

/// `min(max(x, 0), 6)`, NaN kept. Where it is not recorded (another backend or dtype) and a
/// gradient is taken, burn's `relu` then `clamp_max`: they pass no gradient at exactly 0, as
/// PyTorch and the recorded op — burn's `relu6`, a clamp, passes it there, and a channel that a
/// frozen BatchNorm zeroes is exactly 0 at every pixel — and differ from both only at exactly 6.
pub(crate) fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    rectifier(x, 6.0, |x| {
        if x.is_autodiff() {
            activation::relu(x).clamp_max(6.0)
        } else {
            activation::relu6(x)
        }
    })
}

/// `a + b` for tensors of the same shape, written into `a`'s buffer where possible.
pub(crate) fn add<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    if !in_place(&a) || !in_place(&b) || a.dims() != b.dims() {
        return a + b;
    }
    let device = a.device();
    let mut sum = a.into_data();
    let addend = b.into_data();
    let addend = addend.as_slice::<f32>().expect("an f32 tensor");
    sum.as_mut_slice::<f32>()
        .expect("an f32 tensor")
        .par_chunks_mut(CHUNK)
        .zip(addend.par_chunks(CHUNK))
        .for_each(|(sum, addend)| sum.iter_mut().zip(addend).for_each(|(s, a)| *s += a));
    Tensor::from_data(sum, &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    #[test]
    fn in_place_passes_equal_burns_ops() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 8, 33, 70], Distribution::Normal(0.0, 5.0), &device);
        let y = Tensor::<4>::random([2, 8, 33, 70], Distribution::Normal(0.0, 5.0), &device);
        assert_eq!(
            max_abs_diff(relu(x.clone()), activation::relu(x.clone())),
            0.0
        );
        assert_eq!(
            max_abs_diff(relu6(x.clone()), activation::relu6(x.clone())),
            0.0
        );
        assert_eq!(max_abs_diff(add(x.clone(), y.clone()), x + y), 0.0);
    }

    #[test]
    fn nan_passes_through_as_in_burn() {
        let device = Device::flex();
        let x = Tensor::<1>::from_data(TensorData::from([f32::NAN, -1.0, 7.0]), &device);
        let values = relu6(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert!(values[0].is_nan());
        assert_eq!(&values[1..], &[0.0, 6.0]);
        assert!(relu(x).into_data().try_to_vec::<f32>().unwrap()[0].is_nan());
    }

    #[test]
    fn a_shared_input_is_left_untouched() {
        let device = Device::flex();
        let x = Tensor::<1>::from_data(TensorData::from([-1.0f32, 2.0]), &device);
        let kept = x.clone();
        let _ = relu(x);
        assert_eq!(
            kept.into_data().try_to_vec::<f32>().unwrap(),
            vec![-1.0, 2.0]
        );
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Values and gradients of `f(x) · w` summed, on `device`.
    fn value_and_grad(
        f: impl Fn(Tensor<4>) -> Tensor<4>,
        x: &Tensor<4>,
        w: &Tensor<4>,
        keep_input: bool,
        device: &Device,
    ) -> (Vec<f32>, Vec<f32>) {
        let x = Tensor::<4>::from_data(x.to_data(), device).require_grad();
        let w = Tensor::<4>::from_data(w.to_data(), device);
        // A second use of the input keeps its buffer shared: the op must not write into it.
        let h = x.clone() * 1.0;
        let y = if keep_input {
            f(h.clone()) + h * 0.0
        } else {
            f(h)
        };
        let output = values(y.clone());
        let grads = (y * w).sum().backward();
        (output, values(x.grad(&grads).unwrap()))
    }

    #[test]
    fn recorded_rectifiers_match_burns_values_and_gradients() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 8, 33, 70], Distribution::Normal(0.0, 5.0), &device);
        let w = Tensor::<4>::random([2, 8, 33, 70], Distribution::Normal(0.0, 1.0), &device);
        let graphs = [
            Device::flex().autodiff(),
            Device::flex().autodiff().gradient_checkpointing(),
        ];
        for graph in &graphs {
            for keep_input in [false, true] {
                assert_eq!(
                    value_and_grad(relu6, &x, &w, keep_input, graph),
                    value_and_grad(activation::relu6, &x, &w, keep_input, graph)
                );
                assert_eq!(
                    value_and_grad(relu, &x, &w, keep_input, graph),
                    value_and_grad(activation::relu, &x, &w, keep_input, graph)
                );
            }
        }
    }

    #[test]
    fn recorded_relu6_passes_the_gradient_inside_its_bounds_as_pytorch() {
        // torch.nn.functional.relu6 (hardtanh) passes no gradient at exactly 0 and 6; burn's
        // clamp passes it there. NaN passes its gradient through, as in both.
        let device = Device::flex().autodiff();
        let x = Tensor::<1>::from_data(
            TensorData::from([-1.0f32, 0.0, 2.0, 6.0, 8.0, f32::NAN]),
            &device,
        )
        .require_grad();
        let grads = relu6(x.clone()).sum().backward();
        let grad = values(x.grad(&grads).unwrap());
        assert_eq!(grad, vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    }
}
