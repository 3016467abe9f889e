use std::mem::MaybeUninit;

use crate::activation::{Activation, bias_activation};
use crate::feature_map::FeatureMap;
use crate::geometry::Geometry;
use crate::parallel::{for_row_blocks, matmul, matmul_add, rows_per_task};
use crate::winograd::Winograd;

/// A dense `k × k` convolution, any dilation, computed one of three ways:
///
/// - **Winograd F(2×2, 3×3) or F(4×4, 3×3)** (3×3, stride 1, at least [`WINOGRAD_CHANNELS`]
///   channels in and out: the neck's dilated layers): see [`crate::winograd`].
/// - **per tap** (stride 1, the neck's dilated 3×3 and the saliency head's 7×7 layers): the
///   input, padded left and right only, is read in place as the left-hand matrix of one gemm
///   per tap, `[pixels, in] · [in, out]`, shifted by the tap's offset and accumulated — no
///   im2col, whose patches would be `k·k` times the input (K = 12,544 for a 7×7 layer on 256
///   channels). Without dilation a row of taps reads `k` consecutive pixels, whose channels lie
///   one after another: for few input channels one gemm per row of taps then, each output's
///   row of `k·in` values read in place (the left-hand rows overlap, one pixel apart) — `k`
///   times fewer, wider gemms, which the head's narrow layers (32 → 8 → 1 channels) need. The
///   output is computed on the padded width and its extra columns dropped. A tap whose rows
///   fall in the top or bottom padding is skipped for those rows: at dilation 16 on a 40-row
///   map, a third of the outer taps' rows.
/// - **im2col** (strided layers with few input channels: a stem reading the image's 3): each
///   task gathers its output rows' patches (`k·k·in` values per pixel) and multiplies them by
///   the weights in one gemm.
#[derive(Clone, Debug)]
pub struct Dense(Method);

/// Input channels below which an undilated layer runs one gemm per row of taps instead of one
/// per tap: measured on the 7×7 head at 40 × 60 (Xeon, AVX-512), one gemm per row is 1.3–1.8×
/// faster at 32 → 8 channels and 4.9× at 8 → 1, but 1.2× slower at 256 → 32, where each tap's
/// gemm is wide enough and reads its left-hand rows without packing them.
const WIDE_TAPS_BELOW: usize = 64;

/// Channels in and out from which a 3×3 stride-1 layer runs by Winograd: with fewer, its 16
/// or 36 gemms are too thin to pay for the transforms.
pub const WINOGRAD_CHANNELS: usize = 16;

#[derive(Clone, Debug)]
enum Method {
    Winograd(Winograd),
    Direct(Direct),
}

impl Dense {
    /// `weight` in PyTorch's layout `[out, in, k, k]`, `bias` `[out]`.
    pub fn new(weight: &[f32], bias: Vec<f32>, geometry: Geometry, activation: Activation) -> Self {
        let out = bias.len();
        let in_channels = weight.len() / (out * geometry.kernel * geometry.kernel);
        let winograd = geometry.kernel == 3
            && geometry.stride == 1
            && in_channels.min(out) >= WINOGRAD_CHANNELS;
        Self(if winograd {
            Method::Winograd(Winograd::new(weight, bias, geometry, activation))
        } else {
            Method::Direct(Direct::new(weight, bias, geometry, activation))
        })
    }

    /// `activation(conv(x) + bias)`, plus `residual` (same shape as the output) where given.
    pub fn forward(&self, x: &FeatureMap, residual: Option<&FeatureMap>) -> FeatureMap {
        match &self.0 {
            Method::Winograd(layer) => layer.forward(x, residual),
            Method::Direct(layer) => layer.forward(x, residual),
        }
    }
}

/// The per-tap and im2col ways.
#[derive(Clone, Debug)]
struct Direct {
    /// `[(ky, kx, in), out]`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    in_channels: usize,
    geometry: Geometry,
    activation: Activation,
}

impl Direct {
    fn new(weight: &[f32], bias: Vec<f32>, geometry: Geometry, activation: Activation) -> Self {
        let out = bias.len();
        let taps = geometry.kernel * geometry.kernel;
        let in_channels = weight.len() / (out * taps);
        assert_eq!(
            weight.len(),
            out * in_channels * taps,
            "weight [out, in, k, k]"
        );
        let mut packed = vec![0.0; weight.len()];
        for (o, filter) in weight.chunks_exact(in_channels * taps).enumerate() {
            for (i, plane) in filter.chunks_exact(taps).enumerate() {
                for (tap, w) in plane.iter().enumerate() {
                    packed[(tap * in_channels + i) * out + o] = *w;
                }
            }
        }
        Self {
            weight: packed,
            bias,
            in_channels,
            geometry,
            activation,
        }
    }

    fn forward(&self, x: &FeatureMap, residual: Option<&FeatureMap>) -> FeatureMap {
        if self.geometry.stride == 1 {
            self.forward_per_tap(x, residual)
        } else {
            assert!(residual.is_none(), "a residual with a strided convolution");
            self.forward_im2col(x)
        }
    }

    fn forward_per_tap(&self, x: &FeatureMap, residual: Option<&FeatureMap>) -> FeatureMap {
        let (cin, cout) = (self.in_channels, self.bias.len());
        assert_eq!(x.channels, cin, "input channels");
        let g = self.geometry;
        let (top, _) = g.pad(x.height);
        let (left, right) = g.pad(x.width);
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        if let Some(r) = residual {
            let shape = [r.batch, r.height, r.width, r.channels];
            assert_eq!(shape, [x.batch, out_h, out_w, cout], "residual shape");
        }
        let padded_w = x.width + left + right;
        let padded = pad_columns(x, left, padded_w);
        let per_task = rows_per_task(x.batch * out_h, 1);
        let row_len = out_w * cout;
        let fill = |out: &mut [MaybeUninit<f32>]| {
            for_row_blocks(out, row_len, per_task, |first, block| {
                let rows = block.len() / row_len;
                // The block's rows image by image (a block may straddle two).
                let mut done = 0;
                while done < rows {
                    let (n, y0) = ((first + done) / out_h, (first + done) % out_h);
                    let count = (out_h - y0).min(rows - done);
                    let mut sums = vec![0.0; ((count - 1) * padded_w + out_w) * cout];
                    for ky in 0..g.kernel {
                        // Output row y reads input row y + dy; rows reading padding are skipped.
                        let dy = (ky * g.dilation) as isize - top as isize;
                        let from = y0.max((-dy).max(0) as usize);
                        let to = (y0 + count).min((x.height as isize - dy).max(0) as usize);
                        if from >= to {
                            continue;
                        }
                        let pixels = (to - from - 1) * padded_w + out_w;
                        let image = n * x.height;
                        let input_row = (image as isize + from as isize + dy) as usize;
                        let at = (from - y0) * padded_w * cout;
                        let dst = &mut sums[at..at + pixels * cout];
                        let row_taps = g.kernel * cin * cout;
                        if g.dilation == 1 && cin < WIDE_TAPS_BELOW {
                            // The row's taps read consecutive pixels: one gemm over them, each
                            // output's k pixels read in place as one row of k·in values.
                            let start = input_row * padded_w * cin;
                            let lhs = &padded[start..start + (pixels + g.kernel - 1) * cin];
                            let rhs = &self.weight[ky * row_taps..(ky + 1) * row_taps];
                            matmul_add(dst, lhs, cin, rhs, [pixels, g.kernel * cin, cout]);
                            continue;
                        }
                        for kx in 0..g.kernel {
                            let start = (input_row * padded_w + kx * g.dilation) * cin;
                            let lhs = &padded[start..start + pixels * cin];
                            let tap = ky * g.kernel + kx;
                            let rhs = &self.weight[tap * cin * cout..(tap + 1) * cin * cout];
                            matmul_add(dst, lhs, cin, rhs, [pixels, cin, cout]);
                        }
                    }
                    // The valid columns of each row, with bias, activation and residual.
                    let out = &mut block[done * row_len..(done + count) * row_len];
                    for (y, out_row) in out.chunks_exact_mut(row_len).enumerate() {
                        let sums_row = &mut sums[y * padded_w * cout..][..row_len];
                        let at = ((n * out_h + y0 + y) * out_w) * cout;
                        let residual = residual.map(|r| &r.values[at..at + row_len]);
                        bias_activation(sums_row, &self.bias, self.activation, residual);
                        for (o, s) in out_row.iter_mut().zip(sums_row.iter()) {
                            o.write(*s);
                        }
                    }
                    done += count;
                }
            })
        };
        // SAFETY: every row of every block is written by the loop over its valid columns.
        unsafe { FeatureMap::written_by([x.batch, out_h, out_w, cout], fill) }
    }

    fn forward_im2col(&self, x: &FeatureMap) -> FeatureMap {
        let (cin, cout) = (self.in_channels, self.bias.len());
        assert_eq!(x.channels, cin, "input channels");
        let g = self.geometry;
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        let (top, left) = (g.pad(x.height).0, g.pad(x.width).0);
        let patch = g.kernel * g.kernel * cin;
        let row_len = out_w * cout;
        let per_task = rows_per_task(x.batch * out_h, 1);
        let fill = |out: &mut [MaybeUninit<f32>]| {
            for_row_blocks(out, row_len, per_task, |first, block| {
                let pixels = block.len() / cout;
                let mut patches = vec![0.0; pixels * patch];
                let rows = patches.chunks_exact_mut(out_w * patch).enumerate();
                for (i, patch_row) in rows {
                    let (n, y) = ((first + i) / out_h, (first + i) % out_h);
                    for (ox, pixel) in patch_row.chunks_exact_mut(patch).enumerate() {
                        for (ky, iy) in g.taps(y, top, x.height) {
                            let input = x.row(n, iy);
                            for (kx, ix) in g.taps(ox, left, x.width) {
                                let at = (ky * g.kernel + kx) * cin;
                                pixel[at..at + cin]
                                    .copy_from_slice(&input[ix * cin..(ix + 1) * cin]);
                            }
                        }
                    }
                }
                let shape = [pixels, patch, cout];
                let parallelism = gemm::Parallelism::None;
                let block = matmul(block, &patches, &self.weight, shape, parallelism);
                bias_activation(block, &self.bias, self.activation, None);
            })
        };
        // SAFETY: `matmul` writes every value of the slice it is given, and the slices cover
        // the output.
        unsafe { FeatureMap::written_by([x.batch, out_h, out_w, cout], fill) }
    }
}

/// `x` with `left` zero columns before each row and zeros after it up to `width` columns.
fn pad_columns(x: &FeatureMap, left: usize, width: usize) -> Vec<f32> {
    let c = x.channels;
    let mut padded = vec![0.0; x.batch * x.height * width * c];
    for (row, source) in padded
        .chunks_exact_mut(width * c)
        .zip(x.values.chunks_exact(x.width * c))
    {
        row[left * c..(left + x.width) * c].copy_from_slice(source);
    }
    padded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Padding;
    use crate::reference::{assert_close, convolution, random, random_map};

    #[test]
    fn matches_the_plain_convolution() {
        for (kernel, stride, dilation, padding, cin, cout) in [
            (3, 2, 1, Padding::Symmetric, 3, 32),
            (3, 2, 1, Padding::TfSame, 3, 32),
            (3, 1, 1, Padding::Symmetric, 5, 7),
            (3, 1, 4, Padding::Symmetric, 16, 12),
            // Dilation 16 on 15 rows: the outer rows of taps read nothing but padding.
            (3, 1, 16, Padding::Symmetric, 8, 8),
            (7, 1, 1, Padding::Symmetric, 32, 8),
            (7, 1, 1, Padding::Symmetric, 8, 1),
            // Channels enough for one gemm per tap.
            (3, 1, 1, Padding::Symmetric, 64, 4),
            (5, 1, 2, Padding::TfSame, 6, 5),
        ] {
            let geometry = Geometry {
                kernel,
                stride,
                dilation,
                padding,
            };
            let x = random_map(2, 15, 12, cin, 1);
            let weight = random(cout * cin * kernel * kernel, 2);
            let bias = random(cout, 3);
            let layer = Direct::new(&weight, bias.clone(), geometry, Activation::Relu);
            let expected = convolution(&x, &weight, &bias, cout, 1, geometry, Activation::Relu);
            assert_close(&layer.forward(&x, None), &expected, 1e-5);
            let chosen = Dense::new(&weight, bias.clone(), geometry, Activation::Relu);
            assert_close(&chosen.forward(&x, None), &expected, 1e-5);
            if stride == 1 {
                let mut doubled = expected.clone();
                doubled.values.iter_mut().for_each(|v| *v *= 2.0);
                assert_close(&layer.forward(&x, Some(&expected)), &doubled, 1e-5);
            }
        }
    }
}
