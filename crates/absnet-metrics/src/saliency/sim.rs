use ndarray::ArrayView2;

use super::{Density, check_pair};
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
    let (prediction, ground_truth) =
        check_pair(&prediction, "saliency", &ground_truth, "ground-truth")?;
    let (p, g) = match variant {
        SimVariant::Mit => (
            Density::min_max(&prediction),
            Density::min_max(&ground_truth),
        ),
        SimVariant::Pysaliency => (
            Density::pysaliency(&prediction, 0.0),
            Density::pysaliency(&ground_truth, 0.0),
        ),
    };
    let mut acc = [0.0; 8];
    let (pc, gc) = (
        prediction.values.chunks_exact(8),
        ground_truth.values.chunks_exact(8),
    );
    let tail: f64 = pc
        .remainder()
        .iter()
        .zip(gc.remainder())
        .map(|(&s, &t)| p.at(s).min(g.at(t)))
        .sum();
    for (a, b) in pc.zip(gc) {
        for i in 0..8 {
            let (x, y) = (p.at(a[i]), g.at(b[i]));
            acc[i] += if x < y { x } else { y };
        }
    }
    Ok(acc.iter().sum::<f64>() + tail)
}
