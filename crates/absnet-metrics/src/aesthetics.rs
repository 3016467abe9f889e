//! Aesthetics metrics over 10-bin score distributions (bins for the scores 1..10, as AVA's vote
//! counts) and over their mean scores, as NIMA (Talebi & Milanfar 2018) and the AVA
//! literature report them.

use crate::MetricError;

/// AVA's number of score bins.
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
