use std::mem::MaybeUninit;

use pulp::{Arch, Simd, WithSimd};

use crate::activation::Activation;
use crate::feature_map::FeatureMap;
use crate::geometry::Geometry;
use crate::parallel::{for_row_blocks, rows_per_task};
use crate::pointwise::Pointwise;

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
        let row_len = out_w * channels;
        let per_task = rows_per_task(x.batch * out_h, 1);
        let arch = Arch::new();
        let fill = |out: &mut [MaybeUninit<f32>]| {
            for_row_blocks(out, row_len, per_task, |first, block| {
                arch.dispatch(Rows {
                    layer: self,
                    x,
                    first,
                    out_h,
                    out: block,
                })
            })
        };
        // SAFETY: `Rows` writes every channel of every pixel of its rows, and the blocks cover
        // the output.
        unsafe { FeatureMap::written_by([x.batch, out_h, out_w, channels], fill) }
    }

    /// `pointwise` applied to this layer's output (plus `residual`, the pointwise layer's shape,
    /// where given) — a depthwise-separable convolution, the second half of an inverted
    /// residual block — one band of output rows at a time: each band's depthwise output, the
    /// block's widest map, is projected while it is still in cache and never written whole.
    pub fn forward_then(
        &self,
        pointwise: &Pointwise,
        x: &FeatureMap,
        residual: Option<&FeatureMap>,
    ) -> FeatureMap {
        let channels = self.bias.len();
        assert_eq!(x.channels, channels, "input channels");
        assert_eq!(
            pointwise.in_channels(),
            channels,
            "pointwise input channels"
        );
        let g = self.geometry;
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        let n = pointwise.out_channels();
        if let Some(r) = residual {
            let shape = [r.batch, r.height, r.width, r.channels];
            assert_eq!(shape, [x.batch, out_h, out_w, n], "residual shape");
        }
        let band = (BAND_VALUES / (out_w * channels)).max(1);
        let per_task = rows_per_task(x.batch * out_h, 1).min(band);
        let arch = Arch::new();
        let fill = |out: &mut [MaybeUninit<f32>]| {
            for_row_blocks(out, out_w * n, per_task, |first, block| {
                let rows = block.len() / (out_w * n);
                let len = rows * out_w * channels;
                let mut hidden = Vec::with_capacity(len);
                arch.dispatch(Rows {
                    layer: self,
                    x,
                    first,
                    out_h,
                    out: &mut hidden.spare_capacity_mut()[..len],
                });
                // SAFETY: `Rows` wrote every channel of every pixel of its rows.
                unsafe { hidden.set_len(len) };
                pointwise.forward_pixels(first * out_w, &hidden, block, residual);
            })
        };
        // SAFETY: `forward_pixels` writes every value of each block, and the blocks cover the
        // output.
        unsafe { FeatureMap::written_by([x.batch, out_h, out_w, n], fill) }
    }
}

/// Values of a band's depthwise output in [`Depthwise::forward_then`]: 1 MiB of f32, half of
/// a core's L2 on the Xeons measured (2 MiB), so the band stays there for its projection.
const BAND_VALUES: usize = 1 << 18;

/// A block of output rows, from row `first` (counted over the batch) on.
struct Rows<'a> {
    layer: &'a Depthwise,
    x: &'a FeatureMap,
    first: usize,
    out_h: usize,
    out: &'a mut [MaybeUninit<f32>],
}

/// One tap of an output row: the input row it reads, where its weights start, and its column
/// offset from the pixel's first tap.
struct Tap<'a> {
    row: &'a [f32],
    weight: usize,
    dx: usize,
}

impl WithSimd for Rows<'_> {
    type Output = ();

    // Inlined into pulp's per-instruction-set entry points, so the plain loops below are
    // vectorised for AVX-512 or AVX2 + FMA, whichever the CPU has.
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let (layer, x) = (self.layer, self.x);
        let g = layer.geometry;
        let channels = layer.bias.len();
        let (top, left) = (g.pad(x.height).0, g.pad(x.width).0);
        let out_w = g.output_len(x.width);
        let mut taps = Vec::with_capacity(g.kernel * g.kernel);
        for (i, out_row) in self.out.chunks_exact_mut(out_w * channels).enumerate() {
            let (n, y) = ((self.first + i) / self.out_h, (self.first + i) % self.out_h);
            taps.clear();
            for (ky, iy) in g.taps(y, top, x.height) {
                let row = x.row(n, iy);
                taps.extend((0..g.kernel).map(|kx| Tap {
                    row,
                    weight: (ky * g.kernel + kx) * channels,
                    dx: kx * g.dilation,
                }));
            }
            for (ox, out) in out_row.chunks_exact_mut(channels).enumerate() {
                // The pixel's first tap's column; taps left or right of the row are padding.
                let origin = (ox * g.stride) as isize - left as isize;
                let column = |tap: &Tap| {
                    let ix = origin + tap.dx as isize;
                    (0..x.width as isize)
                        .contains(&ix)
                        .then_some(ix as usize * channels)
                };
                let mut c = 0;
                c = channel_blocks::<32>(c, out, &taps, column, layer);
                c = channel_blocks::<8>(c, out, &taps, column, layer);
                channel_blocks::<1>(c, out, &taps, column, layer);
            }
        }
    }
}

/// Computes channels `from..` of one output pixel in blocks of `B` (as many whole blocks as
/// fit), each block's sums kept in registers over every tap inside the input; returns the
/// first channel left.
#[inline(always)]
fn channel_blocks<const B: usize>(
    from: usize,
    out: &mut [MaybeUninit<f32>],
    taps: &[Tap],
    column: impl Fn(&Tap) -> Option<usize>,
    layer: &Depthwise,
) -> usize {
    let mut c = from;
    while c + B <= out.len() {
        let mut sum: [f32; B] = layer.bias[c..c + B].try_into().expect("B values");
        for tap in taps {
            let Some(at) = column(tap) else { continue };
            let input: &[f32; B] = tap.row[at + c..at + c + B].try_into().expect("B values");
            let w = tap.weight + c;
            let weight: &[f32; B] = layer.weight[w..w + B].try_into().expect("B values");
            for j in 0..B {
                sum[j] = input[j].mul_add(weight[j], sum[j]);
            }
        }
        for (o, s) in out[c..c + B].iter_mut().zip(sum) {
            o.write(layer.activation.apply(s));
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
            // Then a projection to 24 channels, with and without a residual, in bands.
            let projection = random(24 * channels, 4);
            let pointwise = Pointwise::new(&projection, random(24, 5), Activation::Identity);
            let projected = pointwise.forward(&expected, None);
            assert_close(&layer.forward_then(&pointwise, &x, None), &projected, 1e-5);
            let mut doubled = projected.clone();
            doubled.values.iter_mut().for_each(|v| *v *= 2.0);
            let with_residual = layer.forward_then(&pointwise, &x, Some(&projected));
            assert_close(&with_residual, &doubled, 1e-5);
        }
    }
}
