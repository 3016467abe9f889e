//! Element-wise passes of an inference forward on every core. Flex runs its unary and binary
//! element-wise ops on one thread while the others wait; between two convolutions that is a
//! fifth of a MobileNetV2 forward at batch 1. Here a forward on Flex without autodiff takes the
//! tensor's buffer (without a copy when the tensor owns it, as a fresh convolution output does),
//! transforms it in place in chunks spread over rayon's threads and hands it back. Anything
//! else — a training forward (the graph must record the op), another backend, another dtype —
//! goes through burn's own op, so results are the same everywhere.

use burn::tensor::activation;
use burn::tensor::{DType, Device, Tensor};
use rayon::prelude::*;

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

/// `max(x, 0)`, NaN kept (as PyTorch and burn).
pub(crate) fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    map(
        x,
        |v| if v.is_nan() || v > 0.0 { v } else { 0.0 },
        activation::relu,
    )
}

/// `min(max(x, 0), 6)`, NaN kept.
pub(crate) fn relu6<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    map(x, |v| v.clamp(0.0, 6.0), activation::relu6)
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

    #[test]
    fn autodiff_tensors_keep_their_graph() {
        let device = Device::flex().autodiff();
        let x =
            Tensor::<1>::from_data(TensorData::from([-1.0f32, 2.0, 8.0]), &device).require_grad();
        let grads = relu6(x.clone()).sum().backward();
        let grad = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(grad, vec![0.0, 1.0, 0.0]);
    }
}
