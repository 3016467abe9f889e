use ndarray::ArrayView2;

use super::{check_map, check_same_shape, min_max_density, pysaliency_density};
use crate::MetricError;

/// How SIM turns each map into a distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimVariant {
    /// MIT similarity.m: rescale to [0, 1] (`(m − min) / (max − min)`), then divide by the sum.
    /// A constant map (NaN in MATLAB) is taken as uniform.
    #[default]
    Mit,
    /// pysaliency `metrics.SIM`: shift to a minimum of 0 only if negative, divide by the sum
    /// (an all-zero map becomes uniform).
    Pysaliency,
}

/// Similarity (histogram intersection): `Σ min(P, Q)` of the two maps as distributions; 1 for
/// identical distributions, 0 for disjoint ones.
pub fn sim(
    prediction: ArrayView2<f64>,
    ground_truth: ArrayView2<f64>,
    variant: SimVariant,
) -> Result<f64, MetricError> {
    check_map(&prediction, "saliency")?;
    check_map(&ground_truth, "ground-truth")?;
    check_same_shape(&prediction, &ground_truth)?;
    let (p, g) = match variant {
        SimVariant::Mit => (min_max_density(&prediction), min_max_density(&ground_truth)),
        SimVariant::Pysaliency => (
            pysaliency_density(&prediction, 0.0),
            pysaliency_density(&ground_truth, 0.0),
        ),
    };
    Ok(p.iter().zip(&g).map(|(a, b)| a.min(*b)).sum())
}
