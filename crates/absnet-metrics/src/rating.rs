//! Image-rating metrics — aesthetics (AVA) and picture quality (LIVE-C) alike — over 10-bin
//! score distributions (bins for the scores 1..10, as AVA's vote counts, or ten equal bins of a
//! 0–100 opinion scale) and over their mean scores, as NIMA (Talebi & Milanfar 2018) and the
//! image-quality literature report them: SRCC, KRCC, PLCC (raw and after the VQEG 4-parameter
//! logistic fit), RMSE, EMD and binary accuracy.

use crate::MetricError;

/// Number of score bins of a rating distribution.
pub const BINS: usize = 10;

/// Checks a distribution (or vote counts) and normalises it to sum 1.
pub fn normalised(distribution: &[f64]) -> Result<[f64; BINS], MetricError> {
    if distribution.len() != BINS {
        return Err(MetricError::BinCount {
            found: distribution.len(),
            expected: BINS,
        });
    }
    if let Some((bin, &value)) = distribution
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0)
    {
        return Err(MetricError::InvalidBin { bin, value });
    }
    let sum: f64 = distribution.iter().sum();
    if sum == 0.0 {
        return Err(MetricError::ZeroDistribution);
    }
    Ok(std::array::from_fn(|i| distribution[i] / sum))
}

/// Mean score `Σ s · p(s)` over s = 1..10.
pub fn mean_score(distribution: &[f64]) -> Result<f64, MetricError> {
    let p = normalised(distribution)?;
    Ok(p.iter().enumerate().map(|(i, p)| (i + 1) as f64 * p).sum())
}

/// An opinion study's mean score `mos` and standard deviation `sd` (on 0–100) as a distribution
/// over [`BINS`] equal bins of 0–100: a normal integrated over each bin, the tails beyond 0 and
/// 100 counted in the end bins (how NIMA turned LIVE-C's MOS and SD into score distributions).
/// A zero `sd` puts all mass in the MOS's bin.
pub fn opinion_distribution(mos: f64, sd: f64) -> [f64; BINS] {
    let width = 100.0 / BINS as f64;
    let cdf = |x: f64| {
        if sd > 0.0 {
            0.5 * (1.0 + libm::erf((x - mos) / (sd * std::f64::consts::SQRT_2)))
        } else if x >= mos {
            1.0
        } else {
            0.0
        }
    };
    std::array::from_fn(|i| {
        let low = if i == 0 { 0.0 } else { cdf(i as f64 * width) };
        let high = if i + 1 == BINS {
            1.0
        } else {
            cdf((i + 1) as f64 * width)
        };
        high - low
    })
}

/// Mean score on a 0–100 opinion scale: `Σ c(k) · p(k)` over the bin centres c = 5, 15, …, 95.
pub fn opinion_score(distribution: &[f64]) -> Result<f64, MetricError> {
    Ok(mean_score(distribution)? * 10.0 - 5.0)
}

/// Standard deviation of the score, `sqrt(Σ (s − μ)² p(s))`.
pub fn score_std(distribution: &[f64]) -> Result<f64, MetricError> {
    let p = normalised(distribution)?;
    let mean: f64 = p.iter().enumerate().map(|(i, p)| (i + 1) as f64 * p).sum();
    let variance: f64 = p
        .iter()
        .enumerate()
        .map(|(i, p)| ((i + 1) as f64 - mean).powi(2) * p)
        .sum();
    Ok(variance.sqrt())
}

/// Earth mover's distance between two score distributions in NIMA's closed form for ordered
/// bins: `(1/N Σ_k |CDF_p(k) − CDF_q(k)|^r)^(1/r)`, N = 10 (r = 2 is NIMA's training loss,
/// r = 1 the usual report). Both inputs are normalised first.
pub fn emd(predicted: &[f64], target: &[f64], r: u32) -> Result<f64, MetricError> {
    let p = normalised(predicted)?;
    let q = normalised(target)?;
    let (mut cdf_p, mut cdf_q, mut total) = (0.0, 0.0, 0.0);
    for k in 0..BINS {
        cdf_p += p[k];
        cdf_q += q[k];
        total += (cdf_p - cdf_q).abs().powi(r as i32);
    }
    Ok((total / BINS as f64).powf(1.0 / f64::from(r)))
}

fn check_pairs(a: &[f64], b: &[f64], needed: usize) -> Result<(), MetricError> {
    if a.len() != b.len() || a.len() < needed {
        return Err(MetricError::TooFewValues {
            needed,
            found: a.len().min(b.len()),
        });
    }
    if let Some(&value) = a.iter().chain(b).find(|v| !v.is_finite()) {
        return Err(MetricError::InvalidBin { bin: 0, value });
    }
    Ok(())
}

/// Binary classification accuracy: an image is "high quality" when its mean score is above
/// `threshold` (5 on AVA); the fraction of images where prediction and ground truth agree.
pub fn binary_accuracy(
    predicted: &[f64],
    target: &[f64],
    threshold: f64,
) -> Result<f64, MetricError> {
    check_pairs(predicted, target, 1)?;
    let agree = predicted
        .iter()
        .zip(target)
        .filter(|(p, t)| (**p > threshold) == (**t > threshold))
        .count();
    Ok(agree as f64 / predicted.len() as f64)
}

/// Pearson linear correlation (PLCC) of two samples, as `scipy.stats.pearsonr`.
pub fn plcc(a: &[f64], b: &[f64]) -> Result<f64, MetricError> {
    check_pairs(a, b, 2)?;
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut cross, mut sa, mut sb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cross += (x - ma) * (y - mb);
        sa += (x - ma) * (x - ma);
        sb += (y - mb) * (y - mb);
    }
    if sa == 0.0 || sb == 0.0 {
        return Err(MetricError::ConstantValues {
            what: if sa == 0.0 {
                "first values"
            } else {
                "second values"
            },
        });
    }
    Ok((cross / (sa * sb).sqrt()).clamp(-1.0, 1.0))
}

/// Ranks 1..n, ties sharing the mean of the ranks they span (scipy's `rankdata`, "average").
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman rank correlation (SRCC): Pearson correlation of the average ranks, as
/// `scipy.stats.spearmanr`.
pub fn srcc(a: &[f64], b: &[f64]) -> Result<f64, MetricError> {
    check_pairs(a, b, 2)?;
    plcc(&ranks(a), &ranks(b))
}

/// Mean squared error of two samples (of mean scores).
pub fn mse(a: &[f64], b: &[f64]) -> Result<f64, MetricError> {
    check_pairs(a, b, 1)?;
    Ok(a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / a.len() as f64)
}

/// Root mean squared error of two samples (of scores).
pub fn rmse(a: &[f64], b: &[f64]) -> Result<f64, MetricError> {
    Ok(mse(a, b)?.sqrt())
}

/// Kendall rank correlation, tau-b (ties in either sample corrected for), as
/// `scipy.stats.kendalltau`: `(C − D) / sqrt((n₀ − n₁)(n₀ − n₂))` over all pairs.
pub fn krcc(a: &[f64], b: &[f64]) -> Result<f64, MetricError> {
    check_pairs(a, b, 2)?;
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (da, db) = (a[i] - a[j], b[i] - b[j]);
            match (da == 0.0, db == 0.0) {
                (true, true) => {}
                (true, false) => ties_a += 1,
                (false, true) => ties_b += 1,
                (false, false) if (da > 0.0) == (db > 0.0) => concordant += 1,
                (false, false) => discordant += 1,
            }
        }
    }
    let paired_a = (concordant + discordant + ties_b) as f64;
    let paired_b = (concordant + discordant + ties_a) as f64;
    if paired_a == 0.0 || paired_b == 0.0 {
        return Err(MetricError::ConstantValues {
            what: if paired_a == 0.0 {
                "first values"
            } else {
                "second values"
            },
        });
    }
    Ok(((concordant - discordant) as f64 / (paired_a * paired_b).sqrt()).clamp(-1.0, 1.0))
}

/// The VQEG 4-parameter logistic that maps a model's predictions onto the opinion scale
/// before PLCC and RMSE are taken: `f(x) = (β₁ − β₂) / (1 + exp(−(x − β₃) / |β₄|)) + β₂`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Logistic {
    pub beta: [f64; 4],
}

impl Logistic {
    pub fn apply(&self, x: f64) -> f64 {
        let [b1, b2, b3, b4] = self.beta;
        (b1 - b2) / (1.0 + (-(x - b3) / b4.abs()).exp()) + b2
    }

    /// `f` and its partial derivatives by β at `x`.
    fn with_gradient(&self, x: f64) -> (f64, [f64; 4]) {
        let [b1, b2, b3, b4] = self.beta;
        let scale = b4.abs();
        let s = 1.0 / (1.0 + (-(x - b3) / scale).exp());
        let ds = s * (1.0 - s);
        let d3 = -(b1 - b2) * ds / scale;
        let d4 = -(b1 - b2) * ds * (x - b3) / (scale * scale) * b4.signum();
        ((b1 - b2) * s + b2, [s, 1.0 - s, d3, d4])
    }

    /// The least-squares fit of `target` from `predicted` by Levenberg–Marquardt (scipy's
    /// `curve_fit` method for an unconstrained problem), started where IQA code starts it:
    /// β = (max target, min target, mean predicted, std predicted / 4). Constant predictions
    /// have no fit.
    pub fn fit(predicted: &[f64], target: &[f64]) -> Result<Self, MetricError> {
        check_pairs(predicted, target, 5)?;
        let n = predicted.len() as f64;
        let mean = predicted.iter().sum::<f64>() / n;
        let std = (predicted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        if std == 0.0 {
            return Err(MetricError::ConstantValues {
                what: "first values",
            });
        }
        let high = target.iter().copied().fold(f64::MIN, f64::max);
        let low = target.iter().copied().fold(f64::MAX, f64::min);
        let mut fit = Logistic {
            beta: [high, low, mean, std / 4.0],
        };
        let cost = |f: &Logistic| -> f64 {
            predicted
                .iter()
                .zip(target)
                .map(|(&x, &y)| (f.apply(x) - y).powi(2))
                .sum()
        };
        let mut current = cost(&fit);
        let mut damping = 1e-3;
        // Along the valley's floor each step gains little: stop when 20 accepted steps in a
        // row each gained less than 1e-13 of the cost, or no step gains at all.
        let mut flat_steps = 0;
        for _ in 0..20_000 {
            // Normal equations (JᵀJ + λ·diag JᵀJ) δ = −Jᵀr.
            let mut jtj = [[0.0; 4]; 4];
            let mut jtr = [0.0; 4];
            for (&x, &y) in predicted.iter().zip(target) {
                let (f, g) = fit.with_gradient(x);
                for i in 0..4 {
                    jtr[i] += g[i] * (f - y);
                    for j in 0..4 {
                        jtj[i][j] += g[i] * g[j];
                    }
                }
            }
            let mut improved = false;
            while damping < 1e12 {
                let mut system = jtj;
                for (i, row) in system.iter_mut().enumerate() {
                    row[i] += damping * jtj[i][i].max(1e-12);
                }
                let Some(step) = solve4(system, jtr.map(|v| -v)) else {
                    damping *= 10.0;
                    continue;
                };
                let trial = Logistic {
                    beta: std::array::from_fn(|i| fit.beta[i] + step[i]),
                };
                let next = cost(&trial);
                if next.is_finite() && next <= current {
                    let change = current - next;
                    fit = trial;
                    current = next;
                    damping = (damping / 10.0).max(1e-12);
                    flat_steps = if change > 1e-13 * current {
                        0
                    } else {
                        flat_steps + 1
                    };
                    improved = flat_steps < 20;
                    break;
                }
                damping *= 10.0;
            }
            if !improved {
                break;
            }
        }
        Ok(fit)
    }
}

/// Solves a 4×4 linear system by Gaussian elimination with partial pivoting.
fn solve4(mut a: [[f64; 4]; 4], mut b: [f64; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let pivot = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..4 {
            let factor = a[row][col] / pivot_row[col];
            for (value, above) in a[row].iter_mut().zip(pivot_row).skip(col) {
                *value -= factor * above;
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = [0.0; 4];
    for row in (0..4).rev() {
        let tail: f64 = (row + 1..4).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

/// PLCC after mapping `predicted` through its [`Logistic`] fit to `target`.
pub fn plcc_logistic(predicted: &[f64], target: &[f64]) -> Result<f64, MetricError> {
    let fit = Logistic::fit(predicted, target)?;
    let mapped: Vec<f64> = predicted.iter().map(|&x| fit.apply(x)).collect();
    plcc(&mapped, target)
}
