use ndarray::ArrayView2;

use super::check_pair;
use crate::MetricError;

/// Pearson's linear correlation coefficient between a saliency map and a ground-truth density
/// (MIT CC.m; pysaliency `metrics.CC`): `Σ (S − S̄)(G − Ḡ) / sqrt(Σ (S − S̄)² Σ (G − Ḡ)²)`,
/// clipped to [−1, 1] as `numpy.corrcoef`.
///
/// A constant prediction correlates with nothing: 0 (pysaliency's value; MATLAB gives NaN). A
/// constant ground truth is an error.
pub fn cc(prediction: ArrayView2<f64>, ground_truth: ArrayView2<f64>) -> Result<f64, MetricError> {
    let (p, g) = check_pair(&prediction, "saliency", &ground_truth, "ground-truth")?;
    let (mean_p, mean_g) = (p.mean(), g.mean());
    let (mut cross, mut sp, mut sg) = ([0.0; 4], [0.0; 4], [0.0; 4]);
    let (pc, gc) = (p.values.chunks_exact(4), g.values.chunks_exact(4));
    let tail = pc.remainder().iter().zip(gc.remainder());
    for (a, b) in pc.zip(gc) {
        for i in 0..4 {
            let (dp, dg) = (a[i] - mean_p, b[i] - mean_g);
            cross[i] += dp * dg;
            sp[i] += dp * dp;
            sg[i] += dg * dg;
        }
    }
    for (a, b) in tail {
        let (dp, dg) = (a - mean_p, b - mean_g);
        cross[0] += dp * dg;
        sp[0] += dp * dp;
        sg[0] += dg * dg;
    }
    let (cross, sp, sg): (f64, f64, f64) = (cross.iter().sum(), sp.iter().sum(), sg.iter().sum());
    if sg == 0.0 {
        return Err(MetricError::ConstantMap {
            map: "ground-truth",
            metric: "CC",
        });
    }
    if sp == 0.0 {
        return Ok(0.0);
    }
    Ok((cross / (sp * sg).sqrt()).clamp(-1.0, 1.0))
}
