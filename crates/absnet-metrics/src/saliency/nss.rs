use ndarray::ArrayView2;

use super::{Duplicates, Fixation, check_map, fixation_pixels, std_dev};
use crate::MetricError;

/// Which standard deviation normalises the map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StdConvention {
    /// Divide by N (numpy's `std()`, pysaliency).
    #[default]
    Population,
    /// Divide by N − 1 (MATLAB's `std`, the MIT benchmark's NSS.m).
    Sample,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NssOptions {
    pub std: StdConvention,
    pub duplicates: Duplicates,
}

impl NssOptions {
    /// pysaliency's `NSS` (N, every fixation counted).
    pub const PYSALIENCY: Self = Self {
        std: StdConvention::Population,
        duplicates: Duplicates::Keep,
    };
    /// MIT benchmark NSS.m (N − 1, binary fixation map).
    pub const MIT: Self = Self {
        std: StdConvention::Sample,
        duplicates: Duplicates::Collapse,
    };
}

/// Normalised scanpath saliency of each fixation: `(S[y, x] − mean(S)) / std(S)` (Peters et
/// al. 2005). Matches pysaliency `metrics.NSS` with [`NssOptions::PYSALIENCY`] and the values
/// averaged by MIT NSS.m with [`NssOptions::MIT`]. A constant map has std 0: its values are
/// `S − mean = 0` (pysaliency skips the division), so NSS is 0, not NaN.
pub fn nss_values(
    map: ArrayView2<f64>,
    fixations: &[Fixation],
    options: NssOptions,
) -> Result<Vec<f64>, MetricError> {
    let summary = check_map(&map, "saliency")?;
    let pixels = fixation_pixels(fixations, map.dim(), options.duplicates)?;
    let ddof = match options.std {
        StdConvention::Population => 0,
        StdConvention::Sample => 1,
    };
    let mean = summary.mean();
    let std = std_dev(&summary.values, mean, ddof);
    Ok(pixels
        .into_iter()
        .map(|p| {
            let v = map[p] - mean;
            if std != 0.0 { v / std } else { v }
        })
        .collect())
}

/// Mean of [`nss_values`] over the image's fixations.
pub fn nss(
    map: ArrayView2<f64>,
    fixations: &[Fixation],
    options: NssOptions,
) -> Result<f64, MetricError> {
    let values = nss_values(map, fixations, options)?;
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}
