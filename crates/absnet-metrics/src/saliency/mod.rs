//! Saliency metrics: location-based (NSS, AUC-Judd, AUC-Borji, sAUC, IG) compare a map with
//! fixation points; distribution-based (CC, KLD, SIM) compare a map with a ground-truth density.

mod auc;
mod cc;
mod ig;
mod kld;
mod nss;
mod sim;

pub use auc::{
    AucJuddOptions, RocThresholds, SplitRoc, auc_borji, auc_judd, auc_shuffled, roc_auc, split_auc,
};
pub use cc::cc;
pub use ig::{information_gain, information_gain_log_density};
pub use kld::{KldVariant, kld};
pub use nss::{NssOptions, StdConvention, nss, nss_values};
pub use sim::{SimVariant, sim};

use std::borrow::Cow;

use ndarray::ArrayView2;

use crate::MetricError;

/// A fixation at `(x, y)` = (column, row), 0-based pixel coordinates of the map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fixation {
    pub x: f64,
    pub y: f64,
}

impl Fixation {
    pub fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
}

/// Several fixations on one pixel: counted each time (pysaliency, per-fixation averaging), or
/// once (the MIT benchmark, whose fixation maps are binary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Duplicates {
    #[default]
    Keep,
    Collapse,
}

/// A checked map: its values in row-major order (borrowed when the view is contiguous) with the
/// minimum, maximum and sum, all from one pass.
pub(crate) struct Summary<'a> {
    pub values: Cow<'a, [f64]>,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
}

impl Summary<'_> {
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn mean(&self) -> f64 {
        self.sum / self.len() as f64
    }
}

/// Checks that `map` is non-empty and finite, and summarises it. Eight independent lanes keep
/// the pass vectorised; a non-finite value shows in the sum, and only then is it looked for.
pub(crate) fn check_map<'a>(
    map: &'a ArrayView2<f64>,
    name: &'static str,
) -> Result<Summary<'a>, MetricError> {
    if map.is_empty() {
        return Err(MetricError::EmptyMap { map: name });
    }
    let values = match map.as_slice() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(map.iter().copied().collect()),
    };
    let (mut lo, mut hi, mut sum) = ([f64::INFINITY; 8], [f64::NEG_INFINITY; 8], [0.0; 8]);
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for i in 0..8 {
            let v = chunk[i];
            lo[i] = if v < lo[i] { v } else { lo[i] };
            hi[i] = if v > hi[i] { v } else { hi[i] };
            sum[i] += v;
        }
    }
    for (i, &v) in rest.iter().enumerate() {
        lo[i] = lo[i].min(v);
        hi[i] = hi[i].max(v);
        sum[i] += v;
    }
    let (min, max) = (
        lo.into_iter().fold(f64::INFINITY, f64::min),
        hi.into_iter().fold(f64::NEG_INFINITY, f64::max),
    );
    let sum: f64 = sum.iter().sum();
    if !(sum.is_finite() && min.is_finite() && max.is_finite())
        && let Some(((row, column), &value)) = map.indexed_iter().find(|(_, v)| !v.is_finite())
    {
        return Err(MetricError::NonFinite {
            map: name,
            row,
            column,
            value,
        });
    }
    Ok(Summary {
        values,
        min,
        max,
        sum,
    })
}

/// Two maps of one shape, each checked and summarised (see [`check_map`]).
pub(crate) fn check_pair<'a>(
    a: &'a ArrayView2<f64>,
    a_name: &'static str,
    b: &'a ArrayView2<f64>,
    b_name: &'static str,
) -> Result<(Summary<'a>, Summary<'a>), MetricError> {
    check_same_shape(a, b)?;
    Ok((check_map(a, a_name)?, check_map(b, b_name)?))
}

fn check_same_shape(a: &ArrayView2<f64>, b: &ArrayView2<f64>) -> Result<(), MetricError> {
    if a.dim() != b.dim() {
        return Err(MetricError::ShapeMismatch {
            first: [a.nrows(), a.ncols()],
            second: [b.nrows(), b.ncols()],
        });
    }
    Ok(())
}

/// The `(row, column)` pixel of each fixation, in order; with [`Duplicates::Collapse`] each
/// pixel once, in row-major order (MATLAB's `map(logical(fixationMap))` is column-major; the
/// metrics that collapse are order-independent).
pub(crate) fn fixation_pixels(
    fixations: &[Fixation],
    shape: (usize, usize),
    duplicates: Duplicates,
) -> Result<Vec<(usize, usize)>, MetricError> {
    if fixations.is_empty() {
        return Err(MetricError::NoFixations);
    }
    let (height, width) = shape;
    let mut pixels = Vec::with_capacity(fixations.len());
    for (index, f) in fixations.iter().enumerate() {
        let inside = f.x.is_finite()
            && f.y.is_finite()
            && f.x >= 0.0
            && f.y >= 0.0
            && f.x < width as f64
            && f.y < height as f64;
        if !inside {
            return Err(MetricError::FixationOutside {
                index,
                x: f.x,
                y: f.y,
                width,
                height,
            });
        }
        pixels.push((f.y as usize, f.x as usize));
    }
    if duplicates == Duplicates::Collapse {
        pixels.sort_unstable();
        pixels.dedup();
    }
    Ok(pixels)
}

/// A map seen as a probability distribution without materialising it: pixel value `v` has
/// probability `v · mul + add` (an affine map, so a constant map is just `mul = 0`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Density {
    mul: f64,
    add: f64,
}

impl Density {
    #[inline]
    pub(crate) fn at(&self, v: f64) -> f64 {
        v * self.mul + self.add
    }

    fn uniform(map: &Summary) -> Self {
        Self {
            mul: 0.0,
            add: 1.0 / map.len() as f64,
        }
    }

    /// pysaliency's `convert_saliency_map_to_density(map, minimum_value)`: shift so the minimum
    /// is 0 if it is negative, add `minimum`, divide by the sum; a map summing to zero becomes
    /// uniform.
    pub(crate) fn pysaliency(map: &Summary, minimum: f64) -> Self {
        let offset = if map.min < 0.0 { -map.min } else { 0.0 } + minimum;
        let sum = map.sum + offset * map.len() as f64;
        if sum == 0.0 {
            return Self::uniform(map);
        }
        Self {
            mul: 1.0 / sum,
            add: offset / sum,
        }
    }

    /// MATLAB's `(m − min) / (max − min)` then division by the sum, as similarity.m and
    /// InfoGain.m; a constant map (where MATLAB produces NaN) is taken as uniform.
    pub(crate) fn min_max(map: &Summary) -> Self {
        let (lo, hi) = (map.min, map.max);
        if hi == lo {
            return Self::uniform(map);
        }
        // Σ (v − lo) / (hi − lo) = (Σ v − n·lo) / (hi − lo).
        let sum = (map.sum - lo * map.len() as f64) / (hi - lo);
        let mul = 1.0 / ((hi - lo) * sum);
        Self {
            mul,
            add: -lo * mul,
        }
    }
}

/// Standard deviation about `mean` with `ddof` = 0 (numpy) or 1 (MATLAB).
pub(crate) fn std_dev(values: &[f64], mean: f64, ddof: usize) -> f64 {
    let mut acc = [0.0; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for i in 0..8 {
            let d = chunk[i] - mean;
            acc[i] += d * d;
        }
    }
    let squares: f64 =
        acc.iter().sum::<f64>() + rest.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
    (squares / values.len().saturating_sub(ddof).max(1) as f64).sqrt()
}
