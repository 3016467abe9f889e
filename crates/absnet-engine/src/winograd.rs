//! 3×3 stride-1 convolutions, dilated or not, by Winograd's minimal filtering F(m×m, 3×3)
//! (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): each m×m
//! block of outputs from an (m+2)×(m+2) block of inputs, with (m+2)² multiplications per
//! channel pair instead of 9m² — F(2×2, 3×3) 2.25 times fewer, F(4×4, 3×3) 4 times fewer. A
//! dilated convolution is the same filter on a strided view of the input: a tile's outputs and
//! inputs lie `dilation` pixels apart, so tiles interleave instead of touching, and each output
//! is still covered once.
//!
//! Per block of tiles: the inputs transformed (`Bᵀ d B`, each of the (m+2)² results a
//! `[tiles, in]` matrix), one gemm per result with the transformed weights (`G g Gᵀ`, computed
//! once per algorithm, each `[in, out]`), the products transformed back (`Aᵀ M A`) with bias and
//! activation. Which m runs is chosen per input by the multiplications it needs: a tile past the
//! map's edge is computed whole, so on small maps at large dilations F(4×4) wastes much of its
//! tiles and F(2×2) can need fewer. F(2×2)'s transforms have entries 0, ±1 and ±½ only, so its
//! results stay within float rounding of the direct convolution (largest error 7e-7 of the
//! largest output, over 256 channels); F(4×4)'s reach 8 and ¹⁄₂₄ and cost about a decimal digit
//! (3e-6). Both are tested against the plain convolution.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::activation::Activation;
use crate::feature_map::FeatureMap;
use crate::geometry::Geometry;
use crate::parallel::matmul;

/// Tiles per task at most: enough rows for each gemm to outweigh re-packing its weights.
const TILES_PER_TASK: usize = 128;

/// One F(m×m, 3×3): its transforms as row-major matrices, `Bᵀ` `n × n`, `G` `n × 3` and `Aᵀ`
/// `m × n`, with n = m + 2 (the points 0, ±1, ±2 and ∞ of Lavin & Gray's tables).
struct Algorithm {
    m: usize,
    b_t: &'static [f32],
    g: &'static [f32],
    a_t: &'static [f32],
}

impl Algorithm {
    /// Inputs per side of a tile.
    fn n(&self) -> usize {
        self.m + 2
    }
}

const F2: Algorithm = Algorithm {
    m: 2,
    #[rustfmt::skip]
    b_t: &[
        1.0, 0.0, -1.0, 0.0,
        0.0, 1.0, 1.0, 0.0,
        0.0, -1.0, 1.0, 0.0,
        0.0, 1.0, 0.0, -1.0,
    ],
    #[rustfmt::skip]
    g: &[
        1.0, 0.0, 0.0,
        0.5, 0.5, 0.5,
        0.5, -0.5, 0.5,
        0.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    a_t: &[
        1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, -1.0,
    ],
};

const F4: Algorithm = Algorithm {
    m: 4,
    #[rustfmt::skip]
    b_t: &[
        4.0, 0.0, -5.0, 0.0, 1.0, 0.0,
        0.0, -4.0, -4.0, 1.0, 1.0, 0.0,
        0.0, 4.0, -4.0, -1.0, 1.0, 0.0,
        0.0, -2.0, -1.0, 2.0, 1.0, 0.0,
        0.0, 2.0, -1.0, -2.0, 1.0, 0.0,
        0.0, 4.0, 0.0, -5.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    g: &[
        1.0 / 4.0, 0.0, 0.0,
        -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
        -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
        1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
        1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
        0.0, 0.0, 1.0,
    ],
    #[rustfmt::skip]
    a_t: &[
        1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
        0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
        0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
        0.0, 1.0, -1.0, 8.0, -8.0, 1.0,
    ],
};

const ALGORITHMS: [&Algorithm; 2] = [&F2, &F4];

#[derive(Clone, Debug)]
pub(crate) struct Winograd {
    /// PyTorch's layout `[out, in, 3, 3]`, kept to transform for each algorithm when first run.
    weight: Vec<f32>,
    /// Per algorithm (as in `ALGORITHMS`), `G g Gᵀ` for every (in, out) pair: n² `[in, out]`
    /// row-major matrices, one after another.
    transformed: [OnceLock<Vec<f32>>; 2],
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
        Self {
            weight: weight.to_vec(),
            transformed: Default::default(),
            bias,
            in_channels,
            geometry,
            activation,
        }
    }

    /// `G g Gᵀ` of every filter for `algorithm` (`which` its index in `ALGORITHMS`), computed
    /// the first time it runs.
    fn transformed_weight(&self, which: usize) -> &[f32] {
        self.transformed[which].get_or_init(|| {
            let alg = ALGORITHMS[which];
            let n = alg.n();
            let (cin, cout) = (self.in_channels, self.bias.len());
            let mut transformed = vec![0.0; n * n * cin * cout];
            let mut gg = vec![0.0f32; n * 3];
            for o in 0..cout {
                for i in 0..cin {
                    let g = &self.weight[(o * cin + i) * 9..][..9];
                    // G g: n×3, then (G g) Gᵀ: n×n.
                    for (r, row) in gg.chunks_exact_mut(3).enumerate() {
                        for (c, v) in row.iter_mut().enumerate() {
                            *v = (0..3).map(|k| alg.g[r * 3 + k] * g[k * 3 + c]).sum();
                        }
                    }
                    for r in 0..n {
                        for c in 0..n {
                            let u: f32 = (0..3).map(|k| gg[r * 3 + k] * alg.g[c * 3 + k]).sum();
                            transformed[((r * n + c) * cin + i) * cout + o] = u;
                        }
                    }
                }
            }
            transformed
        })
    }

    /// `activation(conv(x) + bias)`, plus `residual` (same shape as the output) where given,
    /// by the algorithm that needs the fewest multiplications on this map (tiles × n²).
    pub(crate) fn forward(&self, x: &FeatureMap, residual: Option<&FeatureMap>) -> FeatureMap {
        let g = self.geometry;
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        let multiplications = |alg: &Algorithm| {
            let tiles = |len| tile_origins(len, g.dilation, alg.m).len();
            tiles(out_h) * tiles(out_w) * alg.n() * alg.n()
        };
        let which = (0..ALGORITHMS.len())
            .min_by_key(|&which| multiplications(ALGORITHMS[which]))
            .expect("two algorithms");
        self.forward_by(which, x, residual)
    }

    /// [`Self::forward`] by `ALGORITHMS[which]`.
    fn forward_by(
        &self,
        which: usize,
        x: &FeatureMap,
        residual: Option<&FeatureMap>,
    ) -> FeatureMap {
        let (cin, cout) = (self.in_channels, self.bias.len());
        assert_eq!(x.channels, cin, "input channels");
        let g = self.geometry;
        let d = g.dilation;
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        if let Some(r) = residual {
            let shape = [r.batch, r.height, r.width, r.channels];
            assert_eq!(shape, [x.batch, out_h, out_w, cout], "residual shape");
        }
        let alg = ALGORITHMS[which];
        let weight = self.transformed_weight(which);
        let (rows, columns) = (tile_origins(out_h, d, alg.m), tile_origins(out_w, d, alg.m));
        let tiles: Vec<[usize; 3]> = (0..x.batch)
            .flat_map(|n| {
                let columns = &columns;
                rows.iter()
                    .flat_map(move |&y| columns.iter().map(move |&x| [n, y, x]))
            })
            .collect();
        let (top, left) = (g.pad(x.height).0, g.pad(x.width).0);
        let (n, m) = (alg.n(), alg.m);
        // At most TILES_PER_TASK per task, in a number of tasks that every thread gets the same
        // share of: 192 tiles on two threads as 96 + 96, not 128 + 64.
        let threads = rayon::current_num_threads();
        let rounds = tiles.len().div_ceil(threads * TILES_PER_TASK).max(1);
        let per_task = tiles.len().div_ceil(threads * rounds).max(1);
        let fill = |out: &mut [MaybeUninit<f32>]| {
            let target = SharedOutput(out.as_mut_ptr(), out.len());
            tiles.par_chunks(per_task).for_each(|block| {
                let t = block.len();
                // Bᵀ d B for every tile and channel: n² [t, in] matrices.
                let mut transformed = vec![0.0f32; n * n * t * cin];
                let mut b_t_d = vec![0.0f32; n * n * cin];
                for (k, &[image, y0, x0]) in block.iter().enumerate() {
                    // Row `a`, column `b` of the tile: the input's channels there, `None` in
                    // the padding.
                    let cell = |a: usize, b: usize| {
                        let iy = (y0 + a * d).checked_sub(top).filter(|&iy| iy < x.height)?;
                        let ix = (x0 + b * d).checked_sub(left).filter(|&ix| ix < x.width)?;
                        Some(&x.row(image, iy)[ix * cin..][..cin])
                    };
                    input_transform(alg, cell, &mut b_t_d, &mut transformed, k, t);
                }
                let mut products = Vec::with_capacity(n * n * t * cout);
                for xi in 0..n * n {
                    let lhs = &transformed[xi * t * cin..][..t * cin];
                    let rhs = &weight[xi * cin * cout..][..cin * cout];
                    let dst = &mut products.spare_capacity_mut()[xi * t * cout..][..t * cout];
                    matmul(dst, lhs, rhs, [t, cin, cout], gemm::Parallelism::None);
                }
                // SAFETY: the n² gemms wrote all n² · t · out values.
                unsafe { products.set_len(n * n * t * cout) };
                let mut a_t_m = vec![0.0f32; m * n * cout];
                let mut pixel = vec![0.0f32; cout];
                for (k, &[image, y0, x0]) in block.iter().enumerate() {
                    // A row of Aᵀ M for every column of the products, then each output of it.
                    for (i, row) in a_t_m.chunks_exact_mut(n * cout).enumerate() {
                        row.fill(0.0);
                        for (a, &coefficient) in alg.a_t[i * n..][..n].iter().enumerate() {
                            if coefficient != 0.0 {
                                for (b, sums) in row.chunks_exact_mut(cout).enumerate() {
                                    let m = &products[((a * n + b) * t + k) * cout..][..cout];
                                    axpy(sums, coefficient, m);
                                }
                            }
                        }
                    }
                    for i in 0..m {
                        for j in 0..m {
                            let (y, x) = (y0 + i * d, x0 + j * d);
                            if y >= out_h || x >= out_w {
                                continue;
                            }
                            // (Aᵀ M A)[i][j]: row i of Aᵀ M times column j of A (row j of Aᵀ).
                            pixel.copy_from_slice(&self.bias);
                            for (b, &coefficient) in alg.a_t[j * n..][..n].iter().enumerate() {
                                if coefficient != 0.0 {
                                    let sums = &a_t_m[(i * n + b) * cout..][..cout];
                                    axpy(&mut pixel, coefficient, sums);
                                }
                            }
                            let at = ((image * out_h + y) * out_w + x) * cout;
                            let residual = residual.map(|r| &r.values[at..at + cout]);
                            for (c, v) in pixel.iter_mut().enumerate() {
                                *v = self.activation.apply(*v);
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

/// The first rows (or columns) of the tiles of `m` outputs along an output axis of `len`: a
/// tile covers `y, y + dilation, …, y + (m − 1)·dilation`, so tiles start at the first
/// `dilation` positions of every `m·dilation`.
fn tile_origins(len: usize, dilation: usize, m: usize) -> Vec<usize> {
    (0..len).filter(|y| y % (m * dilation) < dilation).collect()
}

/// `Bᵀ d B` of tile `k`, every channel at once: `cell(a, b)` is the input cell's channel vector
/// (`None` in the padding, read as zeros); `b_t_d` is scratch for `Bᵀ d`; the n² results go to
/// tile `k` of the n² `[t, in]` matrices of `transformed`.
fn input_transform<'a>(
    alg: &Algorithm,
    cell: impl Fn(usize, usize) -> Option<&'a [f32]>,
    b_t_d: &mut [f32],
    transformed: &mut [f32],
    k: usize,
    t: usize,
) {
    let n = alg.n();
    let cin = b_t_d.len() / (n * n);
    // Bᵀ d: row r is Σ_a Bᵀ[r][a] · (row a of d); padding cells add nothing.
    b_t_d.fill(0.0);
    for a in 0..n {
        for b in 0..n {
            let Some(values) = cell(a, b) else { continue };
            for r in 0..n {
                let coefficient = alg.b_t[r * n + a];
                if coefficient != 0.0 {
                    axpy(&mut b_t_d[(r * n + b) * cin..][..cin], coefficient, values);
                }
            }
        }
    }
    // (Bᵀ d) B: result (r, c) is Σ_b (Bᵀ d)[r][b] · Bᵀ[c][b].
    for r in 0..n {
        for c in 0..n {
            let target = &mut transformed[((r * n + c) * t + k) * cin..][..cin];
            target.fill(0.0);
            for b in 0..n {
                let coefficient = alg.b_t[c * n + b];
                if coefficient != 0.0 {
                    axpy(target, coefficient, &b_t_d[(r * n + b) * cin..][..cin]);
                }
            }
        }
    }
}

/// `y += a · x` (a multiply and an add, not `mul_add`: without FMA in the build's target
/// features that is a call per value).
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
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
    use crate::reference::{assert_close_to_scale, convolution, random, random_map};

    #[test]
    fn both_algorithms_match_the_plain_convolution_at_every_dilation() {
        // Measured largest error over the largest output: F(2×2) 1.3–7.3e-7 (7.3e-7 over 256
        // channels), F(4×4) 0.3–2.6e-6 — its transforms' larger entries cost a decimal digit.
        for (which, tolerance) in [(0, 1e-6), (1, 1e-5)] {
            for (dilation, padding, height, width, cin, cout) in [
                (1, Padding::Symmetric, 9, 11, 16, 8),
                (1, Padding::TfSame, 8, 8, 5, 7),
                (2, Padding::Symmetric, 15, 13, 12, 12),
                (4, Padding::Symmetric, 20, 30, 16, 9),
                (4, Padding::Symmetric, 10, 12, 256, 4),
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
                let got = layer.forward_by(which, &x, None);
                assert_close_to_scale(&got, &expected, tolerance);
                let mut doubled = expected.clone();
                doubled.values.iter_mut().for_each(|v| *v *= 2.0);
                let with_residual = layer.forward_by(which, &x, Some(&expected));
                assert_close_to_scale(&with_residual, &doubled, tolerance);
            }
        }
    }

    #[test]
    fn the_algorithm_with_fewer_multiplications_runs() {
        // The neck's dilation 8 on a 40 × 60 map: F(4×4) needs 16 × 16 tiles of 36
        // multiplications, F(2×2) 24 × 32 of 16 — F(4×4) runs (its weights transformed, F(2×2)'s
        // not).
        let geometry = Geometry {
            dilation: 8,
            ..Geometry::new(3)
        };
        let layer = Winograd::new(
            &random(4 * 4 * 9, 2),
            vec![0.0; 4],
            geometry,
            Activation::Relu,
        );
        layer.forward(&random_map(1, 40, 60, 4, 1), None);
        assert!(layer.transformed[1].get().is_some() && layer.transformed[0].get().is_none());
    }
}
