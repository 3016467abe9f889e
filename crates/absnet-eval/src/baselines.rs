//! The two reference points a saliency model is read against: a centre-bias map (what knowing
//! only where people usually look achieves) and inter-observer consistency (how well other
//! people's fixations predict one person's: the ceiling a model can hope for).

use std::path::Path;

use absnet_data::Sample;
use absnet_data::density::{Border, density_map};
use absnet_metrics::saliency::{self, AucJuddOptions, KldVariant, NssOptions, SimVariant};
use absnet_metrics::{Duplicates, Fixation};
use image::{ImageBuffer, Luma};
use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;

use crate::EvalError;

fn size(sample: &Sample) -> Result<[u32; 2], EvalError> {
    Ok(sample.image_size()?)
}

fn inside(fixations: impl Iterator<Item = Fixation>, [w, h]: [u32; 2]) -> Vec<Fixation> {
    fixations
        .filter(|f| f.x >= 0.0 && f.y >= 0.0 && f.x < f64::from(w) && f.y < f64::from(h))
        .collect()
}

/// Writes, for each of `targets`, a centre-bias map (16-bit PNG named by the sample id's last
/// path part): the pooled fixations of `training`, placed by their relative position in their
/// own image, blurred with σ = `sigma_fraction` of the target's diagonal.
pub fn write_centre_bias(
    training: &[Sample],
    targets: &[Sample],
    sigma_fraction: f64,
    out: &Path,
) -> Result<usize, EvalError> {
    let mut relative = Vec::new();
    for sample in training {
        let [w, h] = size(sample)?;
        for f in inside(sample.fixations().map(|f| Fixation::new(f.x, f.y)), [w, h]) {
            relative.push((f.x / f64::from(w), f.y / f64::from(h)));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| EvalError::io(out, e))?;
    targets
        .par_iter()
        .map(|sample| {
            let [w, h] = size(sample)?;
            let points = relative
                .iter()
                .map(|&(x, y)| (x * f64::from(w), y * f64::from(h)));
            let sigma = sigma_fraction * f64::from(w).hypot(f64::from(h));
            let map = density_map(w as usize, h as usize, points, sigma, Border::Zero)
                .map_err(|cause| EvalError::density(&sample.id, cause))?;
            let max = map
                .iter()
                .copied()
                .fold(0.0f64, f64::max)
                .max(f64::MIN_POSITIVE);
            let png = ImageBuffer::<Luma<u16>, Vec<u16>>::from_fn(w, h, |x, y| {
                Luma([(map[(y as usize, x as usize)] / max * 65535.0).round() as u16])
            });
            let name = sample.id.rsplit('/').next().unwrap_or(&sample.id);
            let path = out.join(format!("{name}.png"));
            png.save(&path).map_err(|e| EvalError::image(&path, e))?;
            Ok(())
        })
        .collect::<Result<Vec<()>, EvalError>>()
        .map(|v| v.len())
}

/// Mean scores of leave-one-observer-out prediction.
#[derive(Debug, Default, Serialize)]
pub struct InterObserver {
    pub images: usize,
    pub nss: f64,
    pub auc_judd: f64,
    pub cc: f64,
    pub kld: f64,
    pub sim: f64,
}

/// For every image and every observer with fixations, the density of the *other* observers'
/// fixations (σ = `sigma_fraction` of the diagonal) predicts the left-out observer: NSS and
/// AUC-Judd on their fixations, CC, KLD and SIM against the density of their fixations alone
/// (against all observers' density, which contains the predicting fixations themselves, the
/// score would be near perfect and say nothing). Scores are averaged over observers, then images
/// (MIT conventions).
pub fn inter_observer(samples: &[Sample], sigma_fraction: f64) -> Result<InterObserver, EvalError> {
    let per_image: Vec<Option<[f64; 5]>> = samples
        .par_iter()
        .map(|sample| leave_one_observer_out(sample, sigma_fraction))
        .collect::<Result<_, _>>()?;
    let scored: Vec<[f64; 5]> = per_image.into_iter().flatten().collect();
    if scored.is_empty() {
        return Err(EvalError::Empty(
            "no image has two observers with fixations".into(),
        ));
    }
    let n = scored.len() as f64;
    let mean = |k: usize| scored.iter().map(|s| s[k]).sum::<f64>() / n;
    Ok(InterObserver {
        images: scored.len(),
        nss: mean(0),
        auc_judd: mean(1),
        cc: mean(2),
        kld: mean(3),
        sim: mean(4),
    })
}

/// The mean leave-one-observer-out scores of one image (NSS, AUC-Judd, CC, KLD, SIM); `None`
/// with fewer than two observers with fixations inside it. Densities add up, so the others'
/// density is the total less the left-out observer's own.
fn leave_one_observer_out(
    sample: &Sample,
    sigma_fraction: f64,
) -> Result<Option<[f64; 5]>, EvalError> {
    let [w, h] = size(sample)?;
    let sigma = sigma_fraction * f64::from(w).hypot(f64::from(h));
    let observers: Vec<Vec<Fixation>> = sample
        .observers
        .iter()
        .map(|o| inside(o.fixations.iter().map(|f| Fixation::new(f.x, f.y)), [w, h]))
        .filter(|f| !f.is_empty())
        .collect();
    if observers.len() < 2 {
        return Ok(None);
    }
    let (w, h) = (w as usize, h as usize);
    let own: Vec<Array2<f64>> = observers
        .iter()
        .map(|f| density_map(w, h, f.iter().map(|f| (f.x, f.y)), sigma, Border::Zero))
        .collect::<Result<_, _>>()
        .map_err(|cause| EvalError::density(&sample.id, cause))?;
    let total = own.iter().fold(Array2::zeros((h, w)), |sum, map| sum + map);
    let metric = |r: Result<f64, absnet_metrics::MetricError>| {
        r.map_err(|cause| EvalError::metric(&sample.id, cause))
    };
    let judd = AucJuddOptions {
        jitter: None,
        duplicates: Duplicates::Collapse,
    };
    let mut sums = [0.0; 5];
    for (left_out, truth) in observers.iter().zip(&own) {
        let others = &total - truth;
        let m = others.view();
        sums[0] += metric(saliency::nss(m, left_out, NssOptions::MIT))?;
        sums[1] += metric(saliency::auc_judd(m, left_out, judd))?;
        sums[2] += metric(saliency::cc(m, truth.view()))?;
        sums[3] += metric(saliency::kld(m, truth.view(), KldVariant::Mit))?;
        sums[4] += metric(saliency::sim(m, truth.view(), SimVariant::Mit))?;
    }
    Ok(Some(sums.map(|s| s / observers.len() as f64)))
}
