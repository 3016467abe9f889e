use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::activation::{Activation, bias_activation};
use crate::feature_map::FeatureMap;
use crate::parallel::{for_row_blocks, matmul, rows_per_task};

/// Weights (in values) past which one gemm over every thread beats one per block of rows: a
/// block would re-pack weights larger than a core's L2 cache for every few hundred rows.
const LARGE_WEIGHTS: usize = 1 << 16;

/// A 1×1 convolution: over the channels-last layout, the pixels times the weights as one gemm
/// (`[pixels, in] · [in, out]`), no im2col and no layout change.
#[derive(Clone, Debug)]
pub struct Pointwise {
    /// `[in, out]`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    in_channels: usize,
    activation: Activation,
}

impl Pointwise {
    /// `weight` in PyTorch's layout `[out, in, 1, 1]`, `bias` `[out]`.
    pub fn new(weight: &[f32], bias: Vec<f32>, activation: Activation) -> Self {
        let out = bias.len();
        let in_channels = weight.len() / out;
        assert_eq!(
            in_channels * out,
            weight.len(),
            "weight [out, in] with out = bias length"
        );
        let mut packed = vec![0.0; weight.len()];
        for (o, row) in weight.chunks_exact(in_channels).enumerate() {
            for (i, w) in row.iter().enumerate() {
                packed[i * out + o] = *w;
            }
        }
        Self {
            weight: packed,
            bias,
            in_channels,
            activation,
        }
    }

    pub fn out_channels(&self) -> usize {
        self.bias.len()
    }

    /// `activation(conv(x) + bias)`, plus `residual` (same shape as the output) where given.
    pub fn forward(&self, x: &FeatureMap, residual: Option<&FeatureMap>) -> FeatureMap {
        assert_eq!(x.channels, self.in_channels, "input channels");
        let (k, n) = (self.in_channels, self.out_channels());
        let pixels = x.batch * x.height * x.width;
        if let Some(r) = residual {
            let shape = (r.channels, r.values.len());
            assert_eq!(shape, (n, pixels * n), "residual shape");
        }
        let per_task = rows_per_task(pixels, 64);
        let threads = rayon::current_num_threads();
        let fill = |out: &mut [MaybeUninit<f32>]| {
            if pixels.div_ceil(per_task) < threads || k * n >= LARGE_WEIGHTS {
                // Few pixels, or weights that do not stay in cache for one block of rows (the
                // deepest layers): one gemm over every thread, blocked by gemm itself, then the
                // epilogue.
                let parallelism = gemm::Parallelism::Rayon(threads);
                let out = matmul(out, &x.values, &self.weight, [pixels, k, n], parallelism);
                out.par_chunks_mut(n * per_task)
                    .enumerate()
                    .for_each(|(task, block)| self.epilogue(task * per_task, block, residual));
            } else {
                for_row_blocks(out, n, per_task, |first, block| {
                    let rows = block.len() / n;
                    let lhs = &x.values[first * k..(first + rows) * k];
                    self.forward_pixels(first, lhs, block, residual);
                });
            }
        };
        // SAFETY: `matmul` writes every value of the slice it is given, and the slices cover
        // the output.
        unsafe { FeatureMap::written_by([x.batch, x.height, x.width, n], fill) }
    }

    /// The outputs of the pixels `first..` whose inputs are `lhs` (`[pixels, in]`) into `out`
    /// (`[pixels, out]`), on the calling thread, plus their rows of `residual` where given.
    pub(crate) fn forward_pixels(
        &self,
        first: usize,
        lhs: &[f32],
        out: &mut [MaybeUninit<f32>],
        residual: Option<&FeatureMap>,
    ) {
        let (k, n) = (self.in_channels, self.out_channels());
        let pixels = lhs.len() / k;
        let out = matmul(
            out,
            lhs,
            &self.weight,
            [pixels, k, n],
            gemm::Parallelism::None,
        );
        self.epilogue(first, out, residual);
    }

    /// Bias, activation and residual on the outputs of the pixels `first..`.
    fn epilogue(&self, first: usize, block: &mut [f32], residual: Option<&FeatureMap>) {
        let n = self.out_channels();
        let residual = residual.map(|r| &r.values[first * n..first * n + block.len()]);
        bias_activation(block, &self.bias, self.activation, residual);
    }

    pub(crate) fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// Whether this layer's weights are small enough to run once per band of rows
    /// ([`crate::Depthwise::forward_then`]): larger ones would be packed again for every band,
    /// and run better as one gemm over all the rows.
    pub fn fits_a_band(&self) -> bool {
        self.weight.len() < LARGE_WEIGHTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Geometry;
    use crate::reference::{assert_close, convolution, random, random_map};

    #[test]
    fn matches_the_plain_convolution_with_bias_activation_and_residual() {
        for (pixels, cin, cout) in [(1, 3, 5), (7 * 9, 16, 24), (40 * 30, 32, 96)] {
            let x = random_map(2, pixels, 1, cin, 1);
            let weight = random(cout * cin, 2);
            let bias = random(cout, 3);
            for activation in [Activation::Identity, Activation::Relu6] {
                let layer = Pointwise::new(&weight, bias.clone(), activation);
                let expected =
                    convolution(&x, &weight, &bias, cout, 1, Geometry::new(1), activation);
                assert_close(&layer.forward(&x, None), &expected, 1e-5);
                let mut with_residual = expected.clone();
                with_residual
                    .values
                    .iter_mut()
                    .zip(&expected.values)
                    .for_each(|(v, e)| *v += e);
                assert_close(&layer.forward(&x, Some(&expected)), &with_residual, 1e-5);
            }
        }
    }
}
