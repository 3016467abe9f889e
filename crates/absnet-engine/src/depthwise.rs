use pulp::{Arch, Simd, WithSimd};

use crate::activation::Activation;
use crate::feature_map::FeatureMap;
use crate::geometry::Geometry;
use crate::parallel::{for_row_blocks, rows_per_task};

/// A depthwise convolution (one `k × k` filter per channel), any stride and dilation. In the
/// channels-last layout each tap reads its pixel's channels as one contiguous vector, so the
/// kernel runs across the channels in SIMD registers, all taps accumulated before one store;
/// taps that fall in the padding are skipped, never multiplied by zeros.
#[derive(Clone, Debug)]
pub struct Depthwise {
    /// `[ky, kx, channel]`.
    weight: Vec<f32>,
    bias: Vec<f32>,
    geometry: Geometry,
    activation: Activation,
}

impl Depthwise {
    /// `weight` in PyTorch's layout `[channels, 1, k, k]`, `bias` `[channels]`.
    pub fn new(weight: &[f32], bias: Vec<f32>, geometry: Geometry, activation: Activation) -> Self {
        let channels = bias.len();
        let taps = geometry.kernel * geometry.kernel;
        assert_eq!(weight.len(), channels * taps, "weight [channels, 1, k, k]");
        let mut packed = vec![0.0; weight.len()];
        for (c, filter) in weight.chunks_exact(taps).enumerate() {
            for (tap, w) in filter.iter().enumerate() {
                packed[tap * channels + c] = *w;
            }
        }
        Self {
            weight: packed,
            bias,
            geometry,
            activation,
        }
    }

    pub fn forward(&self, x: &FeatureMap) -> FeatureMap {
        let channels = self.bias.len();
        assert_eq!(x.channels, channels, "input channels");
        let g = self.geometry;
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        let (top, left) = (g.pad(x.height).0, g.pad(x.width).0);
        let mut out = FeatureMap::zeros(x.batch, out_h, out_w, channels);
        let row_len = out.row_len();
        let per_task = rows_per_task(x.batch * out_h, 1);
        let arch = Arch::new();
        for_row_blocks(&mut out.values, row_len, per_task, |first, block| {
            for (i, out_row) in block.chunks_exact_mut(row_len).enumerate() {
                let (n, y) = ((first + i) / out_h, (first + i) % out_h);
                let input_rows = g
                    .taps(y, top, x.height)
                    .map(|(ky, iy)| (ky, x.row(n, iy)))
                    .collect();
                arch.dispatch(Row {
                    layer: self,
                    input_rows,
                    input_width: x.width,
                    left,
                    out: out_row,
                });
            }
        });
        out
    }
}

/// One output row: the input rows its taps read (`(ky, row)`), and where to write.
struct Row<'a> {
    layer: &'a Depthwise,
    input_rows: Vec<(usize, &'a [f32])>,
    input_width: usize,
    left: usize,
    out: &'a mut [f32],
}

impl WithSimd for Row<'_> {
    type Output = ();

    // Inlined into pulp's per-instruction-set entry points, so the plain loops below are
    // vectorised for AVX-512 or AVX2 + FMA, whichever the CPU has.
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let layer = self.layer;
        let channels = layer.bias.len();
        let kernel = layer.geometry.kernel;
        let mut taps: Vec<(&[f32], &[f32])> = Vec::with_capacity(kernel * kernel);
        for (x, out) in self.out.chunks_exact_mut(channels).enumerate() {
            taps.clear();
            for &(ky, row) in &self.input_rows {
                for (kx, ix) in layer.geometry.taps(x, self.left, self.input_width) {
                    let tap = ky * kernel + kx;
                    taps.push((
                        &row[ix * channels..(ix + 1) * channels],
                        &layer.weight[tap * channels..(tap + 1) * channels],
                    ));
                }
            }
            let mut c = 0;
            c = channel_blocks::<32>(c, out, &taps, layer);
            c = channel_blocks::<8>(c, out, &taps, layer);
            channel_blocks::<1>(c, out, &taps, layer);
        }
    }
}

/// Computes channels `from..` of one output pixel in blocks of `B` (as many whole blocks as
/// fit), each block's sums kept in registers over every tap; returns the first channel left.
#[inline(always)]
fn channel_blocks<const B: usize>(
    from: usize,
    out: &mut [f32],
    taps: &[(&[f32], &[f32])],
    layer: &Depthwise,
) -> usize {
    let mut c = from;
    while c + B <= out.len() {
        let mut sum: [f32; B] = layer.bias[c..c + B].try_into().expect("B values");
        for (input, weight) in taps {
            let input: &[f32; B] = input[c..c + B].try_into().expect("B values");
            let weight: &[f32; B] = weight[c..c + B].try_into().expect("B values");
            for j in 0..B {
                sum[j] = input[j].mul_add(weight[j], sum[j]);
            }
        }
        for (o, s) in out[c..c + B].iter_mut().zip(sum) {
            *o = layer.activation.apply(s);
        }
        c += B;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Padding;
    use crate::reference::{assert_close, convolution, random, random_map};

    #[test]
    fn matches_the_plain_convolution_at_every_stride_dilation_and_padding() {
        for (kernel, stride, dilation, padding, channels) in [
            (3, 1, 1, Padding::Symmetric, 32),
            (3, 2, 1, Padding::Symmetric, 44),
            (3, 1, 4, Padding::Symmetric, 17),
            (5, 2, 1, Padding::TfSame, 48),
            (5, 1, 1, Padding::TfSame, 40),
            (3, 1, 16, Padding::Symmetric, 8),
        ] {
            let geometry = Geometry {
                kernel,
                stride,
                dilation,
                padding,
            };
            let x = random_map(2, 13, 10, channels, 1);
            let weight = random(channels * kernel * kernel, 2);
            let bias = random(channels, 3);
            let layer = Depthwise::new(&weight, bias.clone(), geometry, Activation::Relu6);
            let expected = convolution(
                &x,
                &weight,
                &bias,
                channels,
                channels,
                geometry,
                Activation::Relu6,
            );
            assert_close(&layer.forward(&x), &expected, 1e-5);
        }
    }
}
