//! The 1×1 convolution as one recorded op on Flex with autodiff. burn computes a convolution's
//! weight gradient as a convolution of the input and the output gradient with batch and
//! channels swapped — for a 1×1 layer one whose kernel is the whole map, which Flex runs as an
//! im2col copy and one matrix–vector product per input channel, after copying both tensors
//! into the swapped layout — and its input gradient as a transposed convolution (a gemm, then
//! a col2im copy). In a MobileNetV2 training step those are most of the time that is not a
//! gemm microkernel. Here the forward is Flex's own 1×1 convolution and the backward three
//! products straight on the NCHW buffers, per image: `∂x = Wᵀ · ∂y`, `∂W += ∂y · xᵀ` (one
//! gemm over the image's pixels, accumulated over the batch) and `∂b` the gradient's sums.
//! Anything else — another backend, another dtype, no autodiff, stride, padding or groups —
//! goes through burn's `conv2d`, so results are the same everywhere up to summation order.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{
    BalancedCheckpointing, CheckpointStrategy, NoCheckpointing,
};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::{
    Autodiff, DispatchKindConversion, DispatchTensor, Flex, GradientCheckpointingStrategy,
    TensorMetadata,
};
use burn::tensor::Tensor;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use crate::recorded::{contiguous, flex, flex_autodiff, parts};

/// `conv2d(x, weight, bias, options)` for a 1×1 `weight: [out, in, 1, 1]` at stride 1 without
/// padding or groups: recorded as one op on Flex with autodiff, else burn's.
pub(crate) fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let pointwise = weight.dims()[2..] == [1, 1]
        && options.stride == [1, 1]
        && options.padding == [(0, 0); 2]
        && options.groups == 1;
    let strategy = flex_autodiff(&x)
        .filter(|_| pointwise && flex_autodiff(&weight).is_some())
        .filter(|_| bias.as_ref().is_none_or(|b| flex_autodiff(b).is_some()));
    match strategy {
        Some(GradientCheckpointingStrategy::Disabled) => {
            conv2d_tracked::<NoCheckpointing>(x, weight, bias, options)
        }
        Some(GradientCheckpointingStrategy::Balanced) => {
            conv2d_tracked::<BalancedCheckpointing>(x, weight, bias, options)
        }
        None => burn_conv2d(x, weight, bias, options),
    }
}

/// The recorded 1×1 convolution; its state is the input and the weight.
#[derive(Debug)]
struct PointwiseConv;

impl Backward<Flex, 3> for PointwiseConv {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, weight) = ops.state;
        let (x, weight) = (contiguous(x), contiguous(weight));
        let [batch, inputs, height, width] = x.shape().dims();
        let outputs = weight.shape().dims::<4>()[0];
        let pixels = height * width;
        let grad_values = grad.as_slice::<f32>().expect("an f32 gradient");
        let image = |values, channels, n| Matrix::image(values, channels, pixels, n);
        if let Some(node) = node_x {
            let weight_values = weight.as_slice::<f32>().expect("an f32 weight");
            let transposed = Matrix::rows(weight_values, outputs, inputs).transposed();
            let mut values = vec![0.0f32; batch * inputs * pixels];
            for (n, input) in values.chunks_exact_mut(inputs * pixels).enumerate() {
                gemm(input, transposed, image(grad_values, outputs, n), false);
            }
            grads.register::<Flex>(node.id, flex(values, x.shape()));
        }
        if let Some(node) = node_weight {
            let x_values = x.as_slice::<f32>().expect("an f32 input");
            let mut values = vec![0.0f32; outputs * inputs];
            for n in 0..batch {
                let x = image(x_values, inputs, n).transposed();
                gemm(&mut values, image(grad_values, outputs, n), x, n > 0);
            }
            grads.register::<Flex>(node.id, flex(values, weight.shape()));
        }
        if let Some(node) = node_bias {
            let values = (0..outputs)
                .into_par_iter()
                .map(|o| {
                    (0..batch)
                        .map(|n| image(grad_values, outputs, n).row(o).iter().sum::<f32>())
                        .sum()
                })
                .collect();
            grads.register::<Flex>(node.id, flex(values, [outputs].into()));
        }
    }
}

/// The 1×1 convolution recorded on `Autodiff<Flex, C>`, where its tensors live (checked by the
/// caller). A bias that is absent enters as an untracked zero.
fn conv2d_tracked<C: CheckpointStrategy>(
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
    let output = match PointwiseConv
        .prepare::<C>([node_x, node_weight, node_bias])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((x, weight), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Tensor::from_primitive::<Autodiff<Flex, C>>(output)
}

/// A strided view of a matrix inside a slice: element `(r, c)` at `r · row_stride + c ·
/// col_stride`.
#[derive(Clone, Copy, Debug)]
struct Matrix<'a> {
    values: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// `values` as a row-major `rows × cols` matrix.
    fn rows(values: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(values.len(), rows * cols, "a {rows}×{cols} matrix");
        Self {
            values,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Image `n` of an NCHW buffer as a row-major `channels × pixels` matrix.
    fn image(values: &'a [f32], channels: usize, pixels: usize, n: usize) -> Self {
        let len = channels * pixels;
        Self::rows(&values[n * len..][..len], channels, pixels)
    }

    fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Row `r` of a row-major matrix.
    fn row(&self, r: usize) -> &'a [f32] {
        assert_eq!(self.col_stride, 1, "a row-major matrix");
        &self.values[r * self.row_stride..][..self.cols]
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`; `dst` row-major, on every
/// thread.
fn gemm(dst: &mut [f32], lhs: Matrix, rhs: Matrix, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions");
    assert_eq!(dst.len(), m * n, "the product's size");
    if m * n == 0 {
        return;
    }
    for matrix in [lhs, rhs] {
        let last = (matrix.rows - 1) * matrix.row_stride + (matrix.cols - 1) * matrix.col_stride;
        assert!(
            matrix.rows * matrix.cols == 0 || last < matrix.values.len(),
            "a view inside its slice"
        );
    }
    // SAFETY: every element the strides address lies inside its slice (asserted above; an
    // empty inner dimension reads nothing), `dst` holds the m×n row-major product and is
    // borrowed mutably, so it aliases neither operand; it is read only when `accumulate`,
    // and then it is initialised (a `&mut [f32]`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.values.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.values.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorded::check::{assert_close, value_and_grads, values};
    use burn::tensor::{Device, Distribution};

    #[test]
    fn recorded_pointwise_matches_burns_values_and_gradients() {
        let flex = Device::flex();
        let graphs = [
            Device::flex().autodiff(),
            Device::flex().autodiff().gradient_checkpointing(),
        ];
        // An expansion and a projection; odd sizes leave partial tiles in every gemm.
        for (inputs, outputs) in [(5, 24), (24, 7)] {
            let data = (
                Tensor::<4>::random([3, inputs, 11, 13], Distribution::Normal(0.0, 1.0), &flex),
                Tensor::<4>::random([outputs, inputs, 1, 1], Distribution::Default, &flex),
                Tensor::<1>::random([outputs], Distribution::Default, &flex),
            );
            let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
            for graph in &graphs {
                for with_bias in [true, false] {
                    let ours = value_and_grads(conv2d, &data, &options, with_bias, graph);
                    let burns = value_and_grads(burn_conv2d, &data, &options, with_bias, graph);
                    for (what, (ours, burns)) in ["output", "∂x", "∂w", "∂b"]
                        .iter()
                        .zip(ours.iter().zip(&burns))
                    {
                        assert_close(ours, burns, &format!("{what} ({inputs} → {outputs})"));
                    }
                }
            }
        }
    }

    #[test]
    fn a_frozen_layer_passes_the_input_gradient_alone() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 4, 5, 6], Distribution::Default, &device).require_grad();
        let w = Tensor::<4>::random([3, 4, 1, 1], Distribution::Default, &device);
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let grads = conv2d(x.clone(), w.clone(), None, options.clone())
            .sum()
            .backward();
        assert!(w.grad(&grads).is_none());
        let ours = values(x.grad(&grads).unwrap());
        let x2 = Tensor::<4>::from_data(x.to_data(), &device).require_grad();
        let grads = burn_conv2d(x2.clone(), w, None, options).sum().backward();
        assert_close(&ours, &values(x2.grad(&grads).unwrap()), "∂x");
    }
}
