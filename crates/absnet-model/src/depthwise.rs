//! The depthwise convolution as one recorded op on Flex with autodiff. burn computes a grouped
//! convolution's weight gradient group by group — for a depthwise layer one convolution per
//! channel whose kernel is the whole output map, through Flex's im2col with a scalar gather —
//! and its input gradient as a grouped transposed convolution of one-channel gemms; in a
//! MobileNetV2 training step that is the largest item after the dense gemms. Here the forward
//! is Flex's own depthwise kernel and the backward two direct passes over the planes on
//! rayon's threads: the input gradient plane by plane (`∂x += w · ∂y` shifted per tap), the
//! weight and bias gradients channel by channel (one dot product per tap over the batch).
//! Anything else — another backend, another dtype, no autodiff — goes through burn's
//! `conv2d`, so results are the same everywhere up to summation order.

use std::ops::Range;

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::tensor::Tensor;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use crate::recorded::{self, ConvBackward, ConvGrads, Wanted};

/// `conv2d(x, weight, bias, options)` for a depthwise `weight: [channels, 1, k, k]`
/// (`options.groups == channels`): recorded as one op on Flex with autodiff, else burn's.
pub(crate) fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let [_, channels, _, _] = x.dims();
    if options.groups != channels || weight.dims()[..2] != [channels, 1] {
        return burn_conv2d(x, weight, bias, options);
    }
    let op = Depthwise {
        options: options.clone(),
    };
    recorded::conv2d(op, x, weight, bias, options)
}

/// The depthwise convolution's backward.
#[derive(Debug)]
struct Depthwise {
    options: ConvOptions<2>,
}

impl ConvBackward for Depthwise {
    fn gradients(
        &self,
        x: &FlexTensor,
        weight: &FlexTensor,
        grad: &FlexTensor,
        wanted: Wanted,
    ) -> ConvGrads {
        let [batch, channels, height, width] = x.shape().dims();
        let [_, _, kernel, _] = weight.shape().dims();
        let [_, _, out_height, out_width] = grad.shape().dims();
        let planes = Planes {
            batch,
            channels,
            kernel,
            rows: Axis::new(&self.options, 0, height, out_height),
            cols: Axis::new(&self.options, 1, width, out_width),
        };
        let grad = grad.as_slice::<f32>().expect("an f32 gradient");
        let mut grads = ConvGrads::default();
        if wanted.input {
            let weight = weight.as_slice::<f32>().expect("an f32 weight");
            grads.input = Some(planes.input_grad(grad, weight));
        }
        if wanted.weight || wanted.bias {
            let x = x.as_slice::<f32>().expect("an f32 input");
            let (weight, bias) = planes.weight_and_bias_grad(grad, x);
            grads.weight = wanted.weight.then_some(weight);
            grads.bias = wanted.bias.then_some(bias);
        }
        grads
    }
}

/// One spatial axis: input index `o · stride + tap · dilation − pad` for output `o`.
#[derive(Clone, Copy, Debug)]
struct Axis {
    input: usize,
    output: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
}

impl Axis {
    fn new(options: &ConvOptions<2>, axis: usize, input: usize, output: usize) -> Self {
        Self {
            input,
            output,
            stride: options.stride[axis],
            dilation: options.dilation[axis],
            pad: options.padding_begin()[axis],
        }
    }

    /// The outputs whose input under `tap` lies inside the input (not in the padding).
    fn valid(&self, tap: usize) -> Range<usize> {
        let offset = tap * self.dilation;
        let first = self.pad.saturating_sub(offset).div_ceil(self.stride);
        let end = (self.input + self.pad)
            .saturating_sub(offset)
            .div_ceil(self.stride)
            .min(self.output);
        first.min(end)..end
    }

    /// The input index of output `o` under `tap` (`o` in [`Self::valid`]).
    fn input_index(&self, o: usize, tap: usize) -> usize {
        o * self.stride + tap * self.dilation - self.pad
    }
}

/// The geometry of a depthwise convolution over `[batch, channels, rows, cols]` planes.
#[derive(Clone, Copy, Debug)]
struct Planes {
    batch: usize,
    channels: usize,
    kernel: usize,
    rows: Axis,
    cols: Axis,
}

impl Planes {
    fn input_plane(&self) -> usize {
        self.rows.input * self.cols.input
    }

    fn output_plane(&self) -> usize {
        self.rows.output * self.cols.output
    }

    /// `∂x`, plane by plane: every output's gradient times each tap's weight, added at the
    /// input that tap read.
    fn input_grad(&self, grad: &[f32], weight: &[f32]) -> Vec<f32> {
        let (taps, cols) = (self.kernel * self.kernel, self.cols);
        let mut values = vec![0.0f32; self.batch * self.channels * self.input_plane()];
        values
            .par_chunks_mut(self.input_plane())
            .enumerate()
            .for_each(|(plane, input)| {
                let channel = plane % self.channels;
                let grad = &grad[plane * self.output_plane()..][..self.output_plane()];
                let weight = &weight[channel * taps..][..taps];
                for ty in 0..self.kernel {
                    for oy in self.rows.valid(ty) {
                        let iy = self.rows.input_index(oy, ty);
                        let grad_row = &grad[oy * cols.output..][..cols.output];
                        let input_row = &mut input[iy * cols.input..][..cols.input];
                        for tx in 0..self.kernel {
                            let w = weight[ty * self.kernel + tx];
                            let valid = cols.valid(tx);
                            if valid.is_empty() {
                                continue;
                            }
                            let first = cols.input_index(valid.start, tx);
                            let grad_row = &grad_row[valid];
                            if cols.stride == 1 {
                                let input_row = &mut input_row[first..][..grad_row.len()];
                                for (i, g) in input_row.iter_mut().zip(grad_row) {
                                    *i += w * g;
                                }
                            } else {
                                let input_row = input_row[first..].iter_mut().step_by(cols.stride);
                                for (i, g) in input_row.zip(grad_row) {
                                    *i += w * g;
                                }
                            }
                        }
                    }
                }
            });
        values
    }

    /// `(∂w, ∂b)`, channel by channel: per tap the dot product of the output gradient with the
    /// inputs that tap read, over the whole batch; the bias gradient is the gradient's sum.
    fn weight_and_bias_grad(&self, grad: &[f32], x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (taps, cols) = (self.kernel * self.kernel, self.cols);
        let per_channel: Vec<(Vec<f32>, f32)> = (0..self.channels)
            .into_par_iter()
            .map(|channel| {
                let mut weight = vec![0.0f32; taps];
                let mut bias = 0.0f32;
                for n in 0..self.batch {
                    let plane = n * self.channels + channel;
                    let grad = &grad[plane * self.output_plane()..][..self.output_plane()];
                    let x = &x[plane * self.input_plane()..][..self.input_plane()];
                    bias += sum(grad);
                    for ty in 0..self.kernel {
                        for oy in self.rows.valid(ty) {
                            let iy = self.rows.input_index(oy, ty);
                            let grad_row = &grad[oy * cols.output..][..cols.output];
                            let x_row = &x[iy * cols.input..][..cols.input];
                            for tx in 0..self.kernel {
                                let valid = cols.valid(tx);
                                if valid.is_empty() {
                                    continue;
                                }
                                let first = cols.input_index(valid.start, tx);
                                let grad_row = &grad_row[valid];
                                weight[ty * self.kernel + tx] += if cols.stride == 1 {
                                    dot(grad_row, &x_row[first..][..grad_row.len()])
                                } else {
                                    let x_row = x_row[first..].iter().step_by(cols.stride);
                                    grad_row.iter().zip(x_row).map(|(g, x)| g * x).sum()
                                };
                            }
                        }
                    }
                }
                (weight, bias)
            })
            .collect();
        let bias = per_channel.iter().map(|(_, b)| *b).collect();
        let weight = per_channel.into_iter().flat_map(|(w, _)| w).collect();
        (weight, bias)
    }
}

/// Lanes of the partial sums below: eight independent accumulators, which the compiler keeps
/// in one vector register (a single running sum cannot be vectorised without reordering).
const LANES: usize = 8;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn sum(a: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for lane in 0..LANES {
            lanes[lane] += chunk[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorded::check::{
        assert_frozen_weight_passes_the_input_gradient, assert_matches_burn,
    };
    use burn::tensor::{Device, Distribution};

    #[test]
    fn recorded_depthwise_matches_burns_values_and_gradients() {
        let flex = Device::flex();
        // (kernel, stride, dilation, padding (begin, end) per axis): MobileNetV2's 3×3 at
        // stride 1 and 2, the dilated encoder's 3×3 at dilation 2 and 4, EfficientNet's 5×5,
        // TensorFlow's asymmetric "same" padding, and taps that fall wholly in the padding.
        let cases = [
            (3, 1, 1, [(1, 1), (1, 1)]),
            (3, 2, 1, [(1, 1), (1, 1)]),
            (3, 1, 2, [(2, 2), (2, 2)]),
            (3, 1, 4, [(4, 4), (4, 4)]),
            (5, 2, 1, [(1, 2), (2, 2)]),
            (3, 1, 8, [(8, 8), (8, 8)]),
        ];
        for (kernel, stride, dilation, padding) in cases {
            let channels = 6;
            let inputs = (
                Tensor::<4>::random([2, channels, 13, 17], Distribution::Normal(0.0, 1.0), &flex),
                Tensor::<4>::random([channels, 1, kernel, kernel], Distribution::Default, &flex),
                Tensor::<1>::random([channels], Distribution::Default, &flex),
            );
            let options = ConvOptions {
                stride: [stride; 2],
                padding,
                dilation: [dilation; 2],
                groups: channels,
            };
            let case = format!("k {kernel}, s {stride}, d {dilation}");
            assert_matches_burn(conv2d, &inputs, &options, &case);
        }
    }

    #[test]
    fn a_frozen_weight_gets_no_gradient_and_the_input_still_does() {
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 4);
        assert_frozen_weight_passes_the_input_gradient(
            conv2d,
            [1, 4, 9, 9],
            [4, 1, 3, 3],
            &options,
        );
    }
}
