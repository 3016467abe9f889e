use ndarray::ArrayView2;

use super::{Density, Duplicates, Fixation, check_pair, fixation_pixels};
use crate::MetricError;

/// MATLAB's `eps` (2^−52), as InfoGain.m uses it.
const EPS: f64 = f64::EPSILON;

/// Information gain over a baseline, in bits per fixation (Kümmerer et al. 2015; MIT
/// InfoGain.m): both maps rescaled to [0, 1] and normalised to sum 1, then the mean over
/// fixations of `log2(ε + P[f]) − log2(ε + B[f])` with ε = 2^−52. InfoGain.m reads a binary
/// fixation map ([`Duplicates::Collapse`]); pysaliency's `information_gain` averages over every
/// fixation ([`Duplicates::Keep`]). A constant map is taken as uniform (NaN in MATLAB).
pub fn information_gain(
    prediction: ArrayView2<f64>,
    baseline: ArrayView2<f64>,
    fixations: &[Fixation],
    duplicates: Duplicates,
) -> Result<f64, MetricError> {
    let (p, b) = check_pair(&prediction, "saliency", &baseline, "baseline")?;
    let (p, b) = (Density::min_max(&p), Density::min_max(&b));
    let pixels = fixation_pixels(fixations, prediction.dim(), duplicates)?;
    let total: f64 = pixels
        .iter()
        .map(|&f| (EPS + p.at(prediction[f])).log2() - (EPS + b.at(baseline[f])).log2())
        .sum();
    Ok(total / pixels.len() as f64)
}
