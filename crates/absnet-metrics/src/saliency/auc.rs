//! Area under the ROC curve, with fixated values as positives and three choices of negatives:
//! every unfixated pixel (AUC-Judd), uniformly random pixels (AUC-Borji), or the fixations of
//! other images (shuffled AUC, which discounts centre bias).

use ndarray::ArrayView2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{Duplicates, Fixation, check_map, fixation_pixels};
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
    match thresholds {
        RocThresholds::Positives => {
            let range = negatives
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            Ok(positive_threshold_roc(
                &pos,
                negatives.iter().copied(),
                range,
            ))
        }
        RocThresholds::All => {
            let (p, n) = (pos.len() as f64, negatives.len() as f64);
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

/// The ROC at the positive values as thresholds (`pos` sorted descending), from (0, 0) to
/// (1, 1). Negatives are counted per threshold interval instead of sorted (for AUC-Judd they are
/// every pixel of the image).
/// `range` bounds the negatives (values outside it are still counted, just more slowly).
fn positive_threshold_roc(
    pos: &[f64],
    negatives: impl Iterator<Item = f64>,
    range: (f64, f64),
) -> f64 {
    // histogram[k]: negatives v with pos[k] ≤ v < pos[k − 1], i.e. k = #{t ∈ pos : t > v}.
    let mut histogram = vec![0usize; pos.len() + 1];
    let locate = ThresholdIndex::new(pos, range);
    let mut n = 0usize;
    for v in negatives {
        histogram[locate.above(v)] += 1;
        n += 1;
    }
    let (p, n) = (pos.len() as f64, n as f64);
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
    trapezoid(&fpr, &tpr)
}

/// `#{t ∈ thresholds : t > v}` in O(1) for most `v`: the value range is cut into equal buckets,
/// and a bucket that holds no threshold answers directly; others fall back to a binary search
/// over the few thresholds inside.
struct ThresholdIndex<'a> {
    thresholds: &'a [f64],
    lo: f64,
    per_unit: f64,
    /// `above(edge)` at each bucket edge.
    at_edges: Vec<usize>,
}

impl<'a> ThresholdIndex<'a> {
    const BUCKETS: usize = 4096;

    fn new(thresholds: &'a [f64], (lo, hi): (f64, f64)) -> Self {
        let span = hi - lo;
        let per_unit = if span > 0.0 {
            Self::BUCKETS as f64 / span
        } else {
            0.0
        };
        let at_edges = (0..=Self::BUCKETS)
            .map(|b| {
                let edge = lo + b as f64 / per_unit;
                thresholds.partition_point(|&t| t > edge)
            })
            .collect();
        Self {
            thresholds,
            lo,
            per_unit,
            at_edges,
        }
    }

    #[inline]
    fn above(&self, v: f64) -> usize {
        let b = ((v - self.lo) * self.per_unit) as usize;
        if self.per_unit > 0.0 && b < Self::BUCKETS {
            let (high, low) = (self.at_edges[b], self.at_edges[b + 1]);
            if high == low {
                // No threshold strictly inside (edge_b, edge_b+1]: unless v sits exactly on a
                // threshold at the lower edge, the answer is the same at both edges.
                let t = self.thresholds.get(low.wrapping_sub(1));
                if t.is_none_or(|&t| t > v) && self.thresholds.get(low).is_none_or(|&t| t <= v) {
                    return low;
                }
            }
        }
        self.thresholds.partition_point(|&t| t > v)
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
    let summary = check_map(&map, "saliency")?;
    let pixels = fixation_pixels(fixations, map.dim(), options.duplicates)?;
    let jittered = options.jitter.map(|seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        map.mapv(|v| v + standard_normal(&mut rng) * 1e-7)
    });
    let values: &[f64] = match &jittered {
        Some(m) => m.as_slice().expect("a fresh array is contiguous"),
        None => &summary.values,
    };
    let width = map.ncols();
    let mut fixated = vec![false; values.len()];
    for &(row, column) in &pixels {
        fixated[row * width + column] = true;
    }
    let mut positives: Vec<f64> = pixels.iter().map(|&(r, c)| values[r * width + c]).collect();
    positives.sort_unstable_by(|a, b| b.total_cmp(a));
    if fixated.iter().all(|&f| f) {
        return Err(MetricError::NoNegatives);
    }
    let negatives = values
        .iter()
        .zip(&fixated)
        .filter(|(_, f)| !**f)
        .map(|(&v, _)| v);
    // The jitter moves values by ~1e-7: the summary's range still bounds nearly all of them.
    Ok(positive_threshold_roc(
        &positives,
        negatives,
        (summary.min, summary.max),
    ))
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
    let summary = check_map(&map, "saliency")?;
    let pixels = fixation_pixels(fixations, map.dim(), duplicates)?;
    if negative_samples.is_empty() || negative_samples.iter().any(Vec::is_empty) {
        return Err(MetricError::NoNegatives);
    }
    let (lo, hi) = (summary.min, summary.max);
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
