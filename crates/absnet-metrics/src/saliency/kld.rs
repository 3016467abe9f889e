use ndarray::ArrayView2;

use super::{Density, check_pair};
use crate::MetricError;

/// MATLAB's `eps` as the MIT benchmark writes it.
pub const MIT_EPS: f64 = 2.2204e-16;

/// Which KL divergence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KldVariant {
    /// MIT KLdiv.m as pysaliency `MIT_KLDiv` computes it: both maps normalised to sum 1, then
    /// `Σ G · ln(ε + G / (S + ε))` with ε = 2.2204e-16. Divergence from KLdiv.m: a map with
    /// negative values is first shifted to a minimum of 0, and an all-zero map becomes uniform
    /// (KLdiv.m leaves it all zero).
    #[default]
    Mit,
    /// pysaliency `image_based_kl_divergence`: both maps get 1e-20 added before
    /// normalisation, then `Σ G · (ln G − ln S)`.
    Pysaliency,
}

/// KL divergence of the saliency map from the ground-truth density, in nats (not symmetric:
/// the ground truth is the reference distribution).
pub fn kld(
    prediction: ArrayView2<f64>,
    ground_truth: ArrayView2<f64>,
    variant: KldVariant,
) -> Result<f64, MetricError> {
    let (prediction, ground_truth) =
        check_pair(&prediction, "saliency", &ground_truth, "ground-truth")?;
    let pairs = prediction.values.iter().zip(ground_truth.values.iter());
    Ok(match variant {
        KldVariant::Mit => {
            let (p, g) = (
                Density::pysaliency(&prediction, 0.0),
                Density::pysaliency(&ground_truth, 0.0),
            );
            // Pixels where the ground truth is exactly 0 add exactly 0: skip their logarithm.
            pairs
                .map(|(&s, &t)| {
                    let g = g.at(t);
                    if g == 0.0 {
                        0.0
                    } else {
                        g * (MIT_EPS + g / (p.at(s) + MIT_EPS)).ln()
                    }
                })
                .sum()
        }
        KldVariant::Pysaliency => {
            let (p, g) = (
                Density::pysaliency(&prediction, 1e-20),
                Density::pysaliency(&ground_truth, 1e-20),
            );
            pairs
                .map(|(&s, &t)| {
                    let g = g.at(t);
                    g * (g.ln() - p.at(s).ln())
                })
                .sum()
        }
    })
}
