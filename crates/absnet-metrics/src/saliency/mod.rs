//! Saliency metrics: location-based (NSS, AUC-Judd, AUC-Borji, sAUC, IG) compare a map with
//! fixation points; distribution-based (CC, KLD, SIM) compare a map with a ground-truth density.

mod auc;
mod cc;
mod density;
mod ig;
mod kld;
mod nss;
mod sim;

pub use auc::{
    AucJuddOptions, RocThresholds, SplitRoc, auc_borji, auc_judd, auc_shuffled, roc_auc, split_auc,
};
pub use cc::cc;
pub use density::{Border, density_map};
pub use ig::information_gain;
pub use kld::{KldVariant, kld};
pub use nss::{NssOptions, StdConvention, nss, nss_values};
pub use sim::{SimVariant, sim};

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

/// Checks that `map` is non-empty and finite.
pub(crate) fn check_map(map: &ArrayView2<f64>, name: &'static str) -> Result<(), MetricError> {
    if map.is_empty() {
        return Err(MetricError::EmptyMap { map: name });
    }
    if let Some(((row, column), &value)) = map.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(MetricError::NonFinite {
            map: name,
            row,
            column,
            value,
        });
    }
    Ok(())
}

pub(crate) fn check_same_shape(a: &ArrayView2<f64>, b: &ArrayView2<f64>) -> Result<(), MetricError> {
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

pub(crate) fn min_max(map: &ArrayView2<f64>) -> (f64, f64) {
    map.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// pysaliency's `convert_saliency_map_to_density(map, minimum_value)`: shift so the minimum is
/// 0 if it is negative, add `minimum`, divide by the sum; a map summing to zero becomes
/// uniform.
pub(crate) fn pysaliency_density(map: &ArrayView2<f64>, minimum: f64) -> Vec<f64> {
    let (lo, _) = min_max(map);
    let shift = if lo < 0.0 { -lo } else { 0.0 };
    let shifted: Vec<f64> = map.iter().map(|&v| v + shift + minimum).collect();
    let sum: f64 = shifted.iter().sum();
    if sum != 0.0 {
        shifted.into_iter().map(|v| v / sum).collect()
    } else {
        vec![1.0 / shifted.len() as f64; shifted.len()]
    }
}

/// MATLAB's `(m - min) / (max - min)` then division by the sum, as similarity.m and
/// InfoGain.m; a constant map (where MATLAB produces NaN) is documented here as uniform.
pub(crate) fn min_max_density(map: &ArrayView2<f64>) -> Vec<f64> {
    let (lo, hi) = min_max(map);
    let n = map.len();
    if hi == lo {
        return vec![1.0 / n as f64; n];
    }
    let scaled: Vec<f64> = map.iter().map(|&v| (v - lo) / (hi - lo)).collect();
    let sum: f64 = scaled.iter().sum();
    scaled.into_iter().map(|v| v / sum).collect()
}

/// Mean and standard deviation with `ddof` = 0 (numpy) or 1 (MATLAB).
pub(crate) fn mean_std(values: impl Iterator<Item = f64> + Clone, ddof: usize) -> (f64, f64) {
    let (n, sum) = values.clone().fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let mean = sum / n as f64;
    let squares: f64 = values.map(|v| (v - mean) * (v - mean)).sum();
    let denominator = n.saturating_sub(ddof).max(1) as f64;
    (mean, (squares / denominator).sqrt())
}
