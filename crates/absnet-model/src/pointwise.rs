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

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::tensor::Tensor;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use crate::recorded::{self, ConvBackward, ConvGrads, Wanted};

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
    if !pointwise {
        return burn_conv2d(x, weight, bias, options);
    }
    recorded::conv2d(Pointwise, x, weight, bias, options)
}

/// The 1×1 convolution's backward.
#[derive(Debug)]
struct Pointwise;

impl ConvBackward for Pointwise {
    fn gradients(
        &self,
        x: &FlexTensor,
        weight: &FlexTensor,
        grad: &FlexTensor,
        wanted: Wanted,
    ) -> ConvGrads {
        let [batch, inputs, height, width] = x.shape().dims();
        let outputs = weight.shape().dims::<4>()[0];
        let pixels = height * width;
        let grad = grad.as_slice::<f32>().expect("an f32 gradient");
        let image = |values, channels, n| Matrix::image(values, channels, pixels, n);
        let mut grads = ConvGrads::default();
        if wanted.input {
            let weight = weight.as_slice::<f32>().expect("an f32 weight");
            let transposed = Matrix::rows(weight, outputs, inputs).transposed();
            let mut values = vec![0.0f32; batch * inputs * pixels];
            for (n, input) in values.chunks_exact_mut(inputs * pixels).enumerate() {
                gemm(input, transposed, image(grad, outputs, n), false);
            }
            grads.input = Some(values);
        }
        if wanted.weight {
            let x = x.as_slice::<f32>().expect("an f32 input");
            let mut values = vec![0.0f32; outputs * inputs];
            for n in 0..batch {
                let x = image(x, inputs, n).transposed();
                gemm(&mut values, image(grad, outputs, n), x, n > 0);
            }
            grads.weight = Some(values);
        }
        if wanted.bias {
            let values = (0..outputs)
                .into_par_iter()
                .map(|o| {
                    (0..batch)
                        .map(|n| image(grad, outputs, n).row(o).iter().sum::<f32>())
                        .sum()
                })
                .collect();
            grads.bias = Some(values);
        }
        grads
    }
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
    use crate::recorded::check::{
        assert_frozen_weight_passes_the_input_gradient, assert_matches_burn,
    };
    use burn::tensor::{Device, Distribution};

    #[test]
    fn recorded_pointwise_matches_burns_values_and_gradients() {
        let flex = Device::flex();
        // An expansion and a projection; odd sizes leave partial tiles in every gemm.
        for (inputs, outputs) in [(5, 24), (24, 7)] {
            let data = (
                Tensor::<4>::random([3, inputs, 11, 13], Distribution::Normal(0.0, 1.0), &flex),
                Tensor::<4>::random([outputs, inputs, 1, 1], Distribution::Default, &flex),
                Tensor::<1>::random([outputs], Distribution::Default, &flex),
            );
            let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
            assert_matches_burn(conv2d, &data, &options, &format!("{inputs} → {outputs}"));
        }
    }

    #[test]
    fn a_frozen_layer_passes_the_input_gradient_alone() {
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert_frozen_weight_passes_the_input_gradient(
            conv2d,
            [2, 4, 5, 6],
            [3, 4, 1, 1],
            &options,
        );
    }
}
