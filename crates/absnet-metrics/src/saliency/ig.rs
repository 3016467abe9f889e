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

/// How far from 1 the pixels' probabilities of a log-density may sum (float rounding of a
/// normalised map written as float32 or float64).
const NORMALISATION_TOLERANCE: f64 = 1e-3;

/// Information gain of a probabilistic model over a baseline, in bits per fixation, as
/// pysaliency and DeepGaze report it (Kümmerer et al. 2015): the mean over fixations of
/// `log2 P[f] − log2(ε + B[f])`, where `log_density` holds the natural logarithm of the model's
/// probability of each pixel (summing to 1, checked) and the baseline is rescaled to [0, 1] and
/// normalised to sum 1 as in [`information_gain`]. Unlike the MIT variant, the model's density is
/// used as it is: no rescaling, no ε, so a model is rewarded for calibrated probabilities.
pub fn information_gain_log_density(
    log_density: ArrayView2<f64>,
    baseline: ArrayView2<f64>,
    fixations: &[Fixation],
    duplicates: Duplicates,
) -> Result<f64, MetricError> {
    let (_, b) = check_pair(&log_density, "log-density", &baseline, "baseline")?;
    let sum: f64 = log_density.iter().map(|v| v.exp()).sum();
    if (sum - 1.0).abs() > NORMALISATION_TOLERANCE {
        return Err(MetricError::NotNormalised { sum });
    }
    let b = Density::min_max(&b);
    let pixels = fixation_pixels(fixations, log_density.dim(), duplicates)?;
    let total: f64 = pixels
        .iter()
        .map(|&f| log_density[f] / std::f64::consts::LN_2 - (EPS + b.at(baseline[f])).log2())
        .sum();
    Ok(total / pixels.len() as f64)
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    fn fixations() -> Vec<Fixation> {
        vec![Fixation::new(1.5, 0.5), Fixation::new(3.5, 2.5)]
    }

    #[test]
    fn a_model_that_is_the_baseline_gains_nothing() {
        let baseline = Array2::from_shape_fn((3, 4), |(r, c)| 1.0 + (r * 4 + c) as f64);
        let sum = baseline.sum();
        // The baseline as min-max rescaled and normalised, as the metric reads it.
        let (lo, hi) = (1.0, 12.0);
        let rescaled = baseline.mapv(|v| (v - lo) / (hi - lo));
        let log_density = rescaled.mapv(|v| (v / rescaled.sum()).ln());
        let ig = information_gain_log_density(
            log_density.mapv(|v| v.max(-700.0)).view(),
            baseline.view(),
            &fixations(),
            Duplicates::Keep,
        )
        .unwrap();
        assert!(ig.abs() < 1e-9, "IG = {ig} (sum {sum})");
    }

    #[test]
    fn a_uniform_model_against_a_peaked_baseline() {
        // Baseline: all mass on the two fixated pixels (1/2 each); uniform model: 1/12 each.
        let mut baseline = Array2::zeros((3, 4));
        baseline[(0, 1)] = 1.0;
        baseline[(2, 3)] = 1.0;
        let uniform = Array2::from_elem((3, 4), (1.0f64 / 12.0).ln());
        let ig = information_gain_log_density(
            uniform.view(),
            baseline.view(),
            &fixations(),
            Duplicates::Keep,
        )
        .unwrap();
        let want = (1.0f64 / 12.0).log2() - (0.5f64).log2();
        assert!((ig - want).abs() < 1e-9, "IG = {ig}, want {want}");
    }

    #[test]
    fn an_unnormalised_log_density_is_refused() {
        let map = Array2::from_elem((3, 4), 0.0);
        let err =
            information_gain_log_density(map.view(), map.view(), &fixations(), Duplicates::Keep)
                .unwrap_err();
        assert!(matches!(err, MetricError::NotNormalised { sum } if sum == 12.0));
    }
}
