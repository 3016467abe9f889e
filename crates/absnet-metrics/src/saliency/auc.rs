//! Area under the ROC curve, with fixated values as positives and three choices of negatives:
//! every unfixated pixel (AUC-Judd), uniformly random pixels (AUC-Borji), or the fixations of
//! other images (shuffled AUC, which discounts centre bias).

use ndarray::ArrayView2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{Duplicates, Fixation, check_map, fixation_pixels, min_max};
use crate::MetricError;

/// Which thresholds sweep the ROC curve (pysaliency `general_roc`'s `judd` flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RocThresholds {
    /// Every positive and negative value: the exact ROC of the two samples.
    All,
    /// Only the positive values, plus the curve's ends (Judd et al.'s AUC).
    Positives,
}

fn trapezoid(fpr: &[f64], tpr: &[f64]) -> f64 {
    fpr.windows(2)
        .zip(tpr.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[1] + y[0]) / 2.0)
        .sum()
}

/// Area under the ROC curve separating `positives` from `negatives`, a value counting as
/// positive when it is ≥ the threshold; pysaliency `roc.general_roc` (trapezoidal rule over the
/// points (0, 0), one per threshold in descending order, and, for
/// [`RocThresholds::Positives`], (1, 1)).
pub fn roc_auc(
    positives: &[f64],
    negatives: &[f64],
    thresholds: RocThresholds,
) -> Result<f64, MetricError> {
    if positives.is_empty() {
        return Err(MetricError::NoFixations);
    }
    if negatives.is_empty() {
        return Err(MetricError::NoNegatives);
    }
    let mut pos = positives.to_vec();
    pos.sort_unstable_by(|a, b| b.total_cmp(a));
    let (p, n) = (pos.len() as f64, negatives.len() as f64);
    match thresholds {
        RocThresholds::Positives => {
            // negatives_at_or_above[k]: negatives ≥ pos[k], from one binary search per negative
            // instead of sorting them (they are every pixel of the image).
            let mut histogram = vec![0usize; pos.len() + 1];
            for v in negatives {
                histogram[pos.partition_point(|t| t > v)] += 1;
            }
            let mut fpr = Vec::with_capacity(pos.len() + 2);
            let mut tpr = Vec::with_capacity(pos.len() + 2);
            fpr.push(0.0);
            tpr.push(0.0);
            let mut negatives_above = 0;
            for (k, threshold) in pos.iter().enumerate() {
                negatives_above += histogram[k];
                let positives_above = pos.partition_point(|t| t >= threshold);
                fpr.push(negatives_above as f64 / n);
                tpr.push(positives_above as f64 / p);
            }
            fpr.push(1.0);
            tpr.push(1.0);
            Ok(trapezoid(&fpr, &tpr))
        }
        RocThresholds::All => {
            let mut neg = negatives.to_vec();
            neg.sort_unstable_by(|a, b| b.total_cmp(a));
            let mut all: Vec<f64> = pos.iter().chain(&neg).copied().collect();
            all.sort_unstable_by(|a, b| b.total_cmp(a));
            let (mut tp, mut fp) = (0, 0);
            let mut fpr = vec![0.0];
            let mut tpr = vec![0.0];
            for theta in all {
                while tp < pos.len() && pos[tp] >= theta {
                    tp += 1;
                }
                while fp < neg.len() && neg[fp] >= theta {
                    fp += 1;
                }
                fpr.push(fp as f64 / n);
                tpr.push(tp as f64 / p);
            }
            Ok(trapezoid(&fpr, &tpr))
        }
    }
}

/// Options of [`auc_judd`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AucJuddOptions {
    /// Add N(0, 1e-7²) noise (seeded) to break ties, as pysaliency's default jitter; the noise
    /// itself differs from pysaliency's (another generator), so compare without it.
    pub jitter: Option<u64>,
    pub duplicates: Duplicates,
}

/// AUC-Judd: positives are the map at the fixations, negatives every pixel no fixation falls
/// on, thresholds the positive values (pysaliency `AUC_Judd` = `general_roc(positives,
/// unfixated, judd=1)`). MIT AUC_Judd.m reads a binary fixation map ([`Duplicates::Collapse`])
/// and computes the same curve when no two fixated values tie; its jitter is uniform
/// [0, 1e-7). A constant map scores 0.5.
pub fn auc_judd(
    map: ArrayView2<f64>,
    fixations: &[Fixation],
    options: AucJuddOptions,
) -> Result<f64, MetricError> {
    check_map(&map, "saliency")?;
    let pixels = fixation_pixels(fixations, map.dim(), options.duplicates)?;
    let map = match options.jitter {
        Some(seed) => {
            let mut rng = StdRng::seed_from_u64(seed);
            map.mapv(|v| v + standard_normal(&mut rng) * 1e-7)
        }
        None => map.to_owned(),
    };
    let mut fixated = vec![false; map.len()];
    let width = map.ncols();
    for &(row, column) in &pixels {
        fixated[row * width + column] = true;
    }
    let positives: Vec<f64> = pixels.iter().map(|&p| map[p]).collect();
    let negatives: Vec<f64> = map
        .iter()
        .zip(&fixated)
        .filter(|(_, f)| !**f)
        .map(|(&v, _)| v)
        .collect();
    roc_auc(&positives, &negatives, RocThresholds::Positives)
}

fn standard_normal(rng: &mut StdRng) -> f64 {
    // Box–Muller; one value per call is enough for a tie-breaking jitter.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Options of the split-based AUCs of the MIT benchmark (AUC_Borji.m, AUC_shuffled.m).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SplitRoc {
    /// Number of random draws of negatives; the score is their mean AUC.
    pub splits: usize,
    /// Threshold step over the map rescaled to [0, 1].
    pub step: f64,
    pub seed: u64,
    pub duplicates: Duplicates,
}

impl Default for SplitRoc {
    /// The MIT benchmark's defaults: 100 splits, step 0.1, a binary fixation map.
    fn default() -> Self {
        Self {
            splits: 100,
            step: 0.1,
            seed: 0,
            duplicates: Duplicates::Collapse,
        }
    }
}

/// The core of AUC_Borji.m and AUC_shuffled.m for given negative samples: the map rescaled to
/// [0, 1]; for each split, thresholds `k · step` for k = 0 ..= ⌊max / step⌋ (max over the
/// fixated and sampled values) in descending order; TPR = fixated values ≥ t over their
/// count, FPR = sampled values ≥ t over the samples' count; the curve runs from (0, 0) to
/// (1, 1); trapezoidal area; mean over splits. A constant map scores 0.5.
pub fn split_auc(
    map: ArrayView2<f64>,
    fixations: &[Fixation],
    negative_samples: &[Vec<(usize, usize)>],
    step: f64,
    duplicates: Duplicates,
) -> Result<f64, MetricError> {
    check_map(&map, "saliency")?;
    let pixels = fixation_pixels(fixations, map.dim(), duplicates)?;
    if negative_samples.is_empty() || negative_samples.iter().any(Vec::is_empty) {
        return Err(MetricError::NoNegatives);
    }
    let (lo, hi) = min_max(&map);
    if hi == lo {
        return Ok(0.5);
    }
    let normalised = |p: (usize, usize)| (map[p] - lo) / (hi - lo);
    let fixated: Vec<f64> = pixels.iter().map(|&p| normalised(p)).collect();
    let mut total = 0.0;
    for split in negative_samples {
        let sampled: Vec<f64> = split.iter().map(|&p| normalised(p)).collect();
        let max = fixated.iter().chain(&sampled).copied().fold(0.0, f64::max);
        let count = (max / step + 1e-10).floor() as usize;
        let mut fpr = vec![0.0];
        let mut tpr = vec![0.0];
        for k in (0..=count).rev() {
            let t = k as f64 * step;
            tpr.push(fixated.iter().filter(|&&v| v >= t).count() as f64 / fixated.len() as f64);
            fpr.push(sampled.iter().filter(|&&v| v >= t).count() as f64 / sampled.len() as f64);
        }
        fpr.push(1.0);
        tpr.push(1.0);
        total += trapezoid(&fpr, &tpr);
    }
    Ok(total / negative_samples.len() as f64)
}

/// AUC-Borji (MIT AUC_Borji.m): negatives are as many uniformly drawn pixels (with
/// replacement) as there are fixated pixels, redrawn for each split from `options.seed`.
pub fn auc_borji(
    map: ArrayView2<f64>,
    fixations: &[Fixation],
    options: &SplitRoc,
) -> Result<f64, MetricError> {
    let count = fixation_pixels(fixations, map.dim(), options.duplicates)?.len();
    let (height, width) = map.dim();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let samples: Vec<Vec<(usize, usize)>> = (0..options.splits)
        .map(|_| {
            (0..count)
                .map(|_| (rng.random_range(0..height), rng.random_range(0..width)))
                .collect()
        })
        .collect();
    split_auc(map, fixations, &samples, options.step, options.duplicates)
}

/// Shuffled AUC (MIT AUC_shuffled.m): negatives are drawn without replacement from the
/// distinct pixels fixated on other images (`others`, in this map's pixel coordinates; the
/// benchmark pools 10 random other images), min(fixated, available) of them per split.
pub fn auc_shuffled(
    map: ArrayView2<f64>,
    fixations: &[Fixation],
    others: &[Fixation],
    options: &SplitRoc,
) -> Result<f64, MetricError> {
    let count = fixation_pixels(fixations, map.dim(), options.duplicates)?.len();
    let pool = fixation_pixels(others, map.dim(), Duplicates::Collapse).map_err(|e| match e {
        MetricError::NoFixations => MetricError::NoNegatives,
        other => other,
    })?;
    let take = count.min(pool.len());
    let mut rng = StdRng::seed_from_u64(options.seed);
    let samples: Vec<Vec<(usize, usize)>> = (0..options.splits)
        .map(|_| {
            let mut shuffled = pool.clone();
            shuffled.shuffle(&mut rng);
            shuffled.truncate(take);
            shuffled
        })
        .collect();
    split_auc(map, fixations, &samples, options.step, options.duplicates)
}
