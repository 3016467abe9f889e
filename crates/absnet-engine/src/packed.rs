//! A product with a right-hand side known when the layer is built (a 1×1 convolution's
//! weights): packed once into panels of columns that the kernel reads in order, so no call packs
//! them again, and each output tile's bias, activation and residual applied while the tile is
//! still in registers, so the output is written once and never read back.

use std::mem::MaybeUninit;

use pulp::{Arch, Simd, WithSimd};

use crate::activation::Activation;

/// Columns per panel: two AVX-512 vectors, four AVX2 ones.
const PANEL: usize = 32;

/// `[k, n]` packed as `n / PANEL` (rounded up) panels, each `[k, PANEL]` row-major, the columns
/// past `n` zero.
#[derive(Clone, Debug)]
pub(crate) struct PackedRhs {
    panels: Vec<f32>,
    k: usize,
    n: usize,
}

/// What a tile's sums become on their way out: `activation(sum + bias) + residual`.
pub(crate) struct Epilogue<'a> {
    pub bias: &'a [f32],
    pub activation: Activation,
    /// The output's shape, the rows of the product's output.
    pub residual: Option<&'a [f32]>,
}

impl PackedRhs {
    /// `rhs` row-major `[k, n]`.
    pub fn new(rhs: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(rhs.len(), k * n, "rhs [k, n]");
        let mut panels = vec![0.0; n.div_ceil(PANEL) * k * PANEL];
        for (p, panel) in panels.chunks_exact_mut(k * PANEL).enumerate() {
            let columns = p * PANEL..n.min((p + 1) * PANEL);
            for (row, packed) in panel.chunks_exact_mut(PANEL).enumerate() {
                let width = columns.len();
                packed[..width].copy_from_slice(&rhs[row * n + columns.start..][..width]);
            }
        }
        Self { panels, k, n }
    }

    /// `out = epilogue(lhs · rhs)`, `lhs` `[m, k]` and `out` `[m, n]` row-major, on the calling
    /// thread; every value of `out` written.
    pub fn product<'o>(
        &self,
        lhs: &[f32],
        out: &'o mut [MaybeUninit<f32>],
        epilogue: &Epilogue,
    ) -> &'o mut [f32] {
        let m = lhs.len() / self.k;
        assert_eq!(lhs.len(), m * self.k, "lhs [m, k]");
        assert_eq!(out.len(), m * self.n, "out [m, n]");
        assert_eq!(epilogue.bias.len(), self.n, "bias [n]");
        if let Some(residual) = epilogue.residual {
            assert_eq!(residual.len(), out.len(), "residual [m, n]");
        }
        Arch::new().dispatch(Product {
            rhs: self,
            lhs,
            row_stride: self.k,
            m,
            out: Out::Write(&mut *out, epilogue),
        });
        // SAFETY: `Product` wrote every value of `out`; `MaybeUninit<f32>` has `f32`'s layout.
        unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) }
    }

    /// `dst += lhs · rhs`, `dst` `[m, n]` row-major, `lhs`'s `m` rows `row_stride` values apart
    /// (less than `k` reads overlapping rows: an im2col that is never written), on the calling
    /// thread.
    pub fn product_add(&self, lhs: &[f32], row_stride: usize, dst: &mut [f32]) {
        let m = dst.len() / self.n;
        assert_eq!(dst.len(), m * self.n, "dst [m, n]");
        assert!(
            m == 0 || lhs.len() >= (m - 1) * row_stride + self.k,
            "lhs rows"
        );
        Arch::new().dispatch(Product {
            rhs: self,
            lhs,
            row_stride,
            m,
            out: Out::Add(dst),
        });
    }
}

struct Product<'a> {
    rhs: &'a PackedRhs,
    lhs: &'a [f32],
    row_stride: usize,
    m: usize,
    out: Out<'a>,
}

/// Where a product's sums go.
enum Out<'a> {
    /// Through the epilogue into an output not written yet.
    Write(&'a mut [MaybeUninit<f32>], &'a Epilogue<'a>),
    /// Added to sums already there.
    Add(&'a mut [f32]),
}

impl WithSimd for Product<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Product {
            rhs,
            lhs,
            row_stride,
            m,
            out,
        } = self;
        let n = rhs.n;
        let tiles = Tiles {
            rhs,
            lhs,
            row_stride,
            m,
        };
        // One copy of the loops per way out and activation, so that each store vectorises.
        match out {
            Out::Add(dst) => tiles.run(simd, |at, sums| {
                for (d, s) in dst[at..at + sums.len()].iter_mut().zip(sums) {
                    *d += s;
                }
            }),
            Out::Write(out, epilogue) => {
                let write = |activation: fn(f32) -> f32| {
                    move |at: usize, sums: &[f32]| {
                        let bias = &epilogue.bias[at % n..][..sums.len()];
                        let outs = &mut out[at..at + sums.len()];
                        match epilogue.residual {
                            None => {
                                for ((o, s), b) in outs.iter_mut().zip(sums).zip(bias) {
                                    o.write(activation(s + b));
                                }
                            }
                            Some(residual) => {
                                let residual = &residual[at..at + sums.len()];
                                let values = outs.iter_mut().zip(sums).zip(bias).zip(residual);
                                for (((o, s), b), r) in values {
                                    o.write(activation(s + b) + r);
                                }
                            }
                        }
                    }
                };
                match epilogue.activation {
                    Activation::Identity => tiles.run(simd, write(|v| v)),
                    Activation::Relu => tiles.run(simd, write(|v| Activation::Relu.apply(v))),
                    Activation::Relu6 => tiles.run(simd, write(|v| Activation::Relu6.apply(v))),
                }
            }
        }
    }
}

/// The product's tiles, each handed to a store as it is finished.
struct Tiles<'a> {
    rhs: &'a PackedRhs,
    lhs: &'a [f32],
    row_stride: usize,
    m: usize,
}

impl Tiles<'_> {
    #[inline(always)]
    fn run<S: Simd>(self, simd: S, store: impl FnMut(usize, &[f32])) {
        if S::F32_LANES * 2 == PANEL {
            // AVX-512's 32 registers: 12 rows × 2 vectors of sums.
            self.tiles::<S, 12>(simd, store);
        } else {
            // AVX2's 16: 6 rows × 2 vectors, each panel in two halves.
            self.tiles::<S, 6>(simd, store);
        }
    }

    /// Every output tile of `ROWS` rows by two vectors of columns, its sums in registers over
    /// the whole reduction, then `store(offset in the output, the row's sums)` for each of its
    /// rows: the tile's left-hand rows stay in L1 while the panels stream past them.
    #[inline(always)]
    fn tiles<S: Simd, const ROWS: usize>(self, simd: S, mut store: impl FnMut(usize, &[f32])) {
        let Tiles {
            rhs,
            lhs,
            row_stride,
            m,
        } = self;
        let (k, n) = (rhs.k, rhs.n);
        let width = 2 * S::F32_LANES;
        for first in (0..m).step_by(ROWS) {
            let rows = ROWS.min(m - first);
            // A short last tile repeats its last row; the repeats are never stored.
            let lhs_rows: [&[f32]; ROWS] =
                std::array::from_fn(|r| &lhs[(first + r.min(rows - 1)) * row_stride..][..k]);
            for column in (0..n).step_by(width) {
                let panel = &rhs.panels[column / PANEL * k * PANEL..][..k * PANEL];
                let sums = tile_sums(simd, &lhs_rows, panel, column % PANEL);
                let width = width.min(n - column);
                let mut tile = [0.0f32; PANEL];
                for (r, sums) in sums.iter().enumerate().take(rows) {
                    let (vectors, _) = S::as_mut_simd_f32s(&mut tile[..2 * S::F32_LANES]);
                    vectors.copy_from_slice(sums);
                    store((first + r) * n + column, &tile[..width]);
                }
            }
        }
    }
}

/// The sums of one tile: `rows` (each `k` values) times the two vectors of columns at `offset`
/// of each of the panel's `k` rows.
#[inline(always)]
fn tile_sums<S: Simd, const ROWS: usize>(
    simd: S,
    rows: &[&[f32]; ROWS],
    panel: &[f32],
    offset: usize,
) -> [[S::f32s; 2]; ROWS] {
    let k = panel.len() / PANEL;
    assert!(rows.iter().all(|row| row.len() == k));
    assert!(offset + 2 * S::F32_LANES <= PANEL);
    let rows = rows.map(|row| row.as_ptr());
    let mut sums = [[simd.splat_f32s(0.0); 2]; ROWS];
    for kk in 0..k {
        // SAFETY: each panel row holds PANEL values, two vectors from `offset` on (asserted),
        // and each of `rows` holds `k` values (asserted): every read is inside its slice.
        unsafe {
            let b = panel.as_ptr().add(kk * PANEL + offset).cast::<S::f32s>();
            let (b0, b1) = (b.read_unaligned(), b.add(1).read_unaligned());
            for (sums, row) in sums.iter_mut().zip(&rows) {
                let a = simd.splat_f32s(*row.add(kk));
                sums[0] = simd.mul_add_f32s(a, b0, sums[0]);
                sums[1] = simd.mul_add_f32s(a, b1, sums[1]);
            }
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::random;

    #[test]
    fn matches_the_plain_product_at_every_edge() {
        // Rows and columns that fill no tile, one tile, and tiles plus a remainder.
        for (m, k, n) in [
            (1, 1, 1),
            (5, 3, 7),
            (8, 16, 32),
            (37, 24, 48),
            (70, 96, 144),
        ] {
            let lhs = random(m * k, 1);
            let rhs = random(k * n, 2);
            let bias = random(n, 3);
            let residual = random(m * n, 4);
            let packed = PackedRhs::new(&rhs, k, n);
            for (activation, residual) in [
                (Activation::Identity, None),
                (Activation::Relu6, None),
                (Activation::Relu, Some(residual.as_slice())),
            ] {
                let expected: Vec<f32> = (0..m * n)
                    .map(|at| {
                        let (i, j) = (at / n, at % n);
                        let sum: f64 = (0..k)
                            .map(|kk| lhs[i * k + kk] as f64 * rhs[kk * n + j] as f64)
                            .sum();
                        let v = activation.apply((sum + bias[j] as f64) as f32);
                        v + residual.map_or(0.0, |r| r[at])
                    })
                    .collect();
                let mut out = vec![MaybeUninit::uninit(); m * n];
                let epilogue = Epilogue {
                    bias: &bias,
                    activation,
                    residual,
                };
                let got = packed.product(&lhs, &mut out, &epilogue);
                assert_close(got, &expected);
            }
        }
    }

    #[test]
    fn adds_the_product_of_overlapping_rows() {
        // Row i of the left-hand side starts `stride` values after row i − 1: with a stride
        // below k the rows overlap, as a row of taps reads consecutive pixels.
        for (m, k, n, stride) in [(1, 4, 3, 4), (13, 12, 40, 4), (30, 48, 8, 16)] {
            let lhs = random((m - 1) * stride + k, 1);
            let rhs = random(k * n, 2);
            let before = random(m * n, 3);
            let expected: Vec<f32> = (0..m * n)
                .map(|at| {
                    let (i, j) = (at / n, at % n);
                    let sum: f64 = (0..k)
                        .map(|kk| lhs[i * stride + kk] as f64 * rhs[kk * n + j] as f64)
                        .sum();
                    (sum + before[at] as f64) as f32
                })
                .collect();
            let mut dst = before.clone();
            PackedRhs::new(&rhs, k, n).product_add(&lhs, stride, &mut dst);
            assert_close(&dst, &expected);
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_product() {
        // `Arch` picks one; the others' tile shapes (AVX2's 6 × 16, scalar's 6 × 2) run here
        // directly.
        let (m, k, n) = (29, 40, 56);
        let (lhs, rhs) = (random(m * k, 1), random(k * n, 2));
        let packed = PackedRhs::new(&rhs, k, n);
        let mut expected = vec![0.0; m * n];
        packed.product_add(&lhs, k, &mut expected);
        let run = |simd: &dyn Fn(Product)| {
            let mut got = vec![0.0; m * n];
            simd(Product {
                rhs: &packed,
                lhs: &lhs,
                row_stride: k,
                m,
                out: Out::Add(&mut got),
            });
            assert_close(&got, &expected);
        };
        run(&|product| product.with_simd(pulp::Scalar::new()));
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(simd) = pulp::x86::V3::try_new() {
                run(&|product| simd.vectorize(|| product.with_simd(simd)));
            }
            if let Some(simd) = pulp::x86::V4::try_new() {
                run(&|product| simd.vectorize(|| product.with_simd(simd)));
            }
        }
    }

    fn assert_close(got: &[f32], expected: &[f32]) {
        assert_eq!(got.len(), expected.len());
        for (at, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!(
                (g - e).abs() <= 1e-5 * e.abs().max(1.0),
                "value {at}: {g} vs {e}"
            );
        }
    }
}
