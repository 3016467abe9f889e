//! 3×3 stride-1 convolutions, dilated or not, by Winograd's minimal filtering F(2×2, 3×3)
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): each 2×2
//! block of outputs from a 4×4 block of inputs with 16 multiplications per channel pair instead
//! of 36 — 2.25 times fewer. A dilated convolution is the same filter on a strided view of the
//! input: a tile's outputs and inputs lie `dilation` pixels apart, so tiles interleave instead
//! of touching, and each output is still covered once.
//!
//! Per block of tiles: the inputs transformed (`Bᵀ d B`, each of the 16 results a
//! `[tiles, in]` matrix), 16 gemms with the transformed weights (`G g Gᵀ`, precomputed, each
//! `[in, out]`), the products transformed back (`Aᵀ m A`) with bias and activation. F(2, 3)'s
//! transforms have entries 0, ±1 and ±½ only, so the result stays within float rounding of the
//! direct convolution (tested to 1e-5 relative).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::activation::Activation;
use crate::feature_map::FeatureMap;
use crate::geometry::Geometry;
use crate::parallel::matmul;

/// Tiles per task: enough rows for each of the 16 gemms to outweigh re-packing its weights.
const TILES_PER_TASK: usize = 128;

#[derive(Clone, Debug)]
pub(crate) struct Winograd {
    /// `G g Gᵀ` for every (in, out) pair: 16 `[in, out]` row-major matrices, one after another.
    weight: Vec<f32>,
    bias: Vec<f32>,
    in_channels: usize,
    geometry: Geometry,
    activation: Activation,
}

impl Winograd {
    /// `weight` in PyTorch's layout `[out, in, 3, 3]`; the geometry's stride must be 1.
    pub(crate) fn new(
        weight: &[f32],
        bias: Vec<f32>,
        geometry: Geometry,
        activation: Activation,
    ) -> Self {
        assert!(
            geometry.kernel == 3 && geometry.stride == 1,
            "3×3, stride 1"
        );
        let out = bias.len();
        let in_channels = weight.len() / (out * 9);
        assert_eq!(
            weight.len(),
            out * in_channels * 9,
            "weight [out, in, 3, 3]"
        );
        let mut transformed = vec![0.0; 16 * in_channels * out];
        for o in 0..out {
            for i in 0..in_channels {
                let g = &weight[(o * in_channels + i) * 9..][..9];
                // G g: 4×3, then (G g) Gᵀ: 4×4. G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
                let mut gg = [[0.0f32; 3]; 4];
                for col in 0..3 {
                    let (g0, g1, g2) = (g[col], g[3 + col], g[6 + col]);
                    gg[0][col] = g0;
                    gg[1][col] = 0.5 * (g0 + g1 + g2);
                    gg[2][col] = 0.5 * (g0 - g1 + g2);
                    gg[3][col] = g2;
                }
                for (row, r) in gg.iter().enumerate() {
                    let u = [
                        r[0],
                        0.5 * (r[0] + r[1] + r[2]),
                        0.5 * (r[0] - r[1] + r[2]),
                        r[2],
                    ];
                    for (col, v) in u.into_iter().enumerate() {
                        let xi = row * 4 + col;
                        transformed[(xi * in_channels + i) * out + o] = v;
                    }
                }
            }
        }
        Self {
            weight: transformed,
            bias,
            in_channels,
            geometry,
            activation,
        }
    }

    /// `activation(conv(x) + bias)`, plus `residual` (same shape as the output) where given.
    pub(crate) fn forward(&self, x: &FeatureMap, residual: Option<&FeatureMap>) -> FeatureMap {
        let (cin, cout) = (self.in_channels, self.bias.len());
        assert_eq!(x.channels, cin, "input channels");
        let g = self.geometry;
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        if let Some(r) = residual {
            let shape = [r.batch, r.height, r.width, r.channels];
            assert_eq!(shape, [x.batch, out_h, out_w, cout], "residual shape");
        }
        let (top, left) = (g.pad(x.height).0, g.pad(x.width).0);
        let (rows, columns) = (
            tile_origins(out_h, g.dilation),
            tile_origins(out_w, g.dilation),
        );
        let tiles: Vec<[usize; 3]> = (0..x.batch)
            .flat_map(|n| {
                let columns = &columns;
                rows.iter()
                    .flat_map(move |&y| columns.iter().map(move |&x| [n, y, x]))
            })
            .collect();
        let d = g.dilation;
        let fill = |out: &mut [MaybeUninit<f32>]| {
            let target = SharedOutput(out.as_mut_ptr(), out.len());
            tiles.par_chunks(TILES_PER_TASK).for_each(|block| {
                let t = block.len();
                // Bᵀ d B for every tile and channel: 16 [t, in] matrices.
                let mut transformed = vec![0.0f32; 16 * t * cin];
                let mut patch = vec![0.0f32; 16 * cin];
                for (k, &[n, y0, x0]) in block.iter().enumerate() {
                    for a in 0..4 {
                        for b in 0..4 {
                            let iy = (y0 + a * d) as isize - top as isize;
                            let ix = (x0 + b * d) as isize - left as isize;
                            let cell = &mut patch[(a * 4 + b) * cin..][..cin];
                            let inside = (0..x.height as isize).contains(&iy)
                                && (0..x.width as isize).contains(&ix);
                            if inside {
                                let row = x.row(n, iy as usize);
                                cell.copy_from_slice(&row[ix as usize * cin..][..cin]);
                            } else {
                                cell.fill(0.0);
                            }
                        }
                    }
                    input_transform(&mut patch, &mut transformed, k, t, cin);
                }
                let mut products = Vec::with_capacity(16 * t * cout);
                for xi in 0..16 {
                    let lhs = &transformed[xi * t * cin..][..t * cin];
                    let rhs = &self.weight[xi * cin * cout..][..cin * cout];
                    let dst = &mut products.spare_capacity_mut()[xi * t * cout..][..t * cout];
                    matmul(dst, lhs, rhs, [t, cin, cout], gemm::Parallelism::None);
                }
                // SAFETY: the 16 gemms wrote all 16 · t · out values.
                unsafe { products.set_len(16 * t * cout) };
                let mut pixel = vec![0.0f32; cout];
                for (k, &[n, y0, x0]) in block.iter().enumerate() {
                    for i in 0..2 {
                        for j in 0..2 {
                            let (y, x) = (y0 + i * d, x0 + j * d);
                            if y >= out_h || x >= out_w {
                                continue;
                            }
                            output_transform(&products, &mut pixel, k, t, [i, j]);
                            let at = ((n * out_h + y) * out_w + x) * cout;
                            let residual = residual.map(|r| &r.values[at..at + cout]);
                            for (c, v) in pixel.iter_mut().enumerate() {
                                *v = self.activation.apply(*v + self.bias[c]);
                                if let Some(r) = residual {
                                    *v += r[c];
                                }
                            }
                            target.write(at, &pixel);
                        }
                    }
                }
            })
        };
        // SAFETY: the tiles cover every output pixel once (`tile_origins`), and each pixel's
        // channels are written whole.
        unsafe { FeatureMap::written_by([x.batch, out_h, out_w, cout], fill) }
    }
}

/// The first rows (or columns) of the tiles along an output axis of `len`: a tile covers `y`
/// and `y + dilation`, so tiles start at the first `dilation` positions of every `2·dilation`.
fn tile_origins(len: usize, dilation: usize) -> Vec<usize> {
    (0..len).filter(|y| y % (2 * dilation) < dilation).collect()
}

/// `Bᵀ d B` of one tile, every channel at once: `patch` holds the 4×4 input cells' channel
/// vectors (and is overwritten by `Bᵀ d`); the 16 results go to tile `k` of the 16 `[t, in]`
/// matrices of `transformed`. Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
fn input_transform(patch: &mut [f32], transformed: &mut [f32], k: usize, t: usize, cin: usize) {
    // Bᵀ d, in place, column by column.
    for b in 0..4 {
        for c in 0..cin {
            let d = [0, 1, 2, 3].map(|a| patch[(a * 4 + b) * cin + c]);
            patch[b * cin + c] = d[0] - d[2];
            patch[(4 + b) * cin + c] = d[1] + d[2];
            patch[(8 + b) * cin + c] = d[2] - d[1];
            patch[(12 + b) * cin + c] = d[1] - d[3];
        }
    }
    // (Bᵀ d) B: each row's four cells.
    for a in 0..4 {
        let r = |b: usize| &patch[(a * 4 + b) * cin..][..cin];
        let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
        for (b, (x, y, sign)) in [
            (r0, r2, -1.0),
            (r1, r2, 1.0),
            (r2, r1, -1.0),
            (r1, r3, -1.0),
        ]
        .into_iter()
        .enumerate()
        {
            let target = &mut transformed[((a * 4 + b) * t + k) * cin..][..cin];
            for ((o, x), y) in target.iter_mut().zip(x).zip(y) {
                *o = x + sign * y;
            }
        }
    }
}

/// Output `[i, j]` of tile `k`'s 2×2 block, `(Aᵀ m A)[i][j]`, every channel at once, into
/// `pixel`. Aᵀ = [1 1 1 0; 0 1 -1 -1].
fn output_transform(products: &[f32], pixel: &mut [f32], k: usize, t: usize, [i, j]: [usize; 2]) {
    const A_T: [[f32; 4]; 2] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];
    let cout = pixel.len();
    pixel.fill(0.0);
    for xi in 0..4 {
        for nu in 0..4 {
            let weight = A_T[i][xi] * A_T[j][nu];
            if weight == 0.0 {
                continue;
            }
            let m = &products[((xi * 4 + nu) * t + k) * cout..][..cout];
            for (p, v) in pixel.iter_mut().zip(m) {
                *p += weight * v;
            }
        }
    }
}

/// The output buffer, written by several tasks at disjoint pixels.
struct SharedOutput(*mut MaybeUninit<f32>, usize);

// SAFETY: tasks write disjoint ranges (each tile its own pixels) and nothing reads the buffer
// until every task is done.
unsafe impl Send for SharedOutput {}
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// Writes `values` at `at..at + values.len()`.
    fn write(&self, at: usize, values: &[f32]) {
        assert!(at + values.len() <= self.1, "inside the output");
        for (i, v) in values.iter().enumerate() {
            // SAFETY: in bounds (asserted); no other task writes these values.
            unsafe { (*self.0.add(at + i)).write(*v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Padding;
    use crate::reference::{assert_close, convolution, random, random_map};

    #[test]
    fn matches_the_plain_convolution_at_every_dilation() {
        for (dilation, padding, height, width, cin, cout) in [
            (1, Padding::Symmetric, 9, 11, 16, 8),
            (1, Padding::TfSame, 8, 8, 5, 7),
            (2, Padding::Symmetric, 15, 13, 12, 12),
            (4, Padding::Symmetric, 20, 30, 16, 9),
            // Dilation 16 on 15 rows: the outer taps read nothing but padding.
            (16, Padding::Symmetric, 15, 40, 8, 8),
        ] {
            let geometry = Geometry {
                dilation,
                padding,
                ..Geometry::new(3)
            };
            let x = random_map(2, height, width, cin, 1);
            let weight = random(cout * cin * 9, 2);
            let bias = random(cout, 3);
            let layer = Winograd::new(&weight, bias.clone(), geometry, Activation::Relu);
            let expected = convolution(&x, &weight, &bias, cout, 1, geometry, Activation::Relu);
            assert_close(&layer.forward(&x, None), &expected, 1e-5);
            let mut doubled = expected.clone();
            doubled.values.iter_mut().for_each(|v| *v *= 2.0);
            assert_close(&layer.forward(&x, Some(&expected)), &doubled, 1e-5);
        }
    }
}
