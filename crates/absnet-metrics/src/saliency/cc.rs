use ndarray::ArrayView2;

use super::{check_map, check_same_shape, mean_std};
use crate::MetricError;

/// Pearson's linear correlation coefficient between a saliency map and a ground-truth density
/// (MIT CC.m; pysaliency `metrics.CC`): `Σ (S − S̄)(G − Ḡ) / sqrt(Σ (S − S̄)² Σ (G − Ḡ)²)`,
/// clipped to [−1, 1] as `numpy.corrcoef`.
///
/// A constant prediction correlates with nothing: 0 (pysaliency's value; MATLAB gives NaN). A
/// constant ground truth is an error.
pub fn cc(prediction: ArrayView2<f64>, ground_truth: ArrayView2<f64>) -> Result<f64, MetricError> {
    check_map(&prediction, "saliency")?;
    check_map(&ground_truth, "ground-truth")?;
    check_same_shape(&prediction, &ground_truth)?;
    let (mean_p, std_p) = mean_std(prediction.iter().copied(), 0);
    let (mean_g, std_g) = mean_std(ground_truth.iter().copied(), 0);
    if std_g == 0.0 {
        return Err(MetricError::ConstantMap {
            map: "ground-truth",
            metric: "CC",
        });
    }
    if std_p == 0.0 {
        return Ok(0.0);
    }
    let (mut cross, mut sp, mut sg) = (0.0, 0.0, 0.0);
    for (&p, &g) in prediction.iter().zip(ground_truth.iter()) {
        let (dp, dg) = (p - mean_p, g - mean_g);
        cross += dp * dg;
        sp += dp * dp;
        sg += dg * dg;
    }
    Ok((cross / (sp * sg).sqrt()).clamp(-1.0, 1.0))
}
