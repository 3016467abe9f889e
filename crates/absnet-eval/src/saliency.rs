//! Saliency evaluation: one predicted map per stimulus (matched by file stem), scored against
//! the stimulus's fixations with every saliency metric.

use std::collections::{BTreeMap, HashMap};

use absnet_data::Sample;
use absnet_data::density::{Border, density_map};
use absnet_metrics::saliency::{
    self, AucJuddOptions, KldVariant, NssOptions, SimVariant, SplitRoc,
};
use absnet_metrics::{Duplicates, Fixation, MetricError};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample as sample_indices;
use rayon::prelude::*;
use serde::Serialize;

use crate::EvalError;
use crate::predictions::{Prediction, PredictionSource};

/// How per-image scores are averaged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Average {
    /// Every image counts the same (the MIT benchmark).
    #[default]
    Image,
    /// Images weighted by their number of fixations (pysaliency's default for NSS, AUC and IG).
    Fixation,
}

/// Conventions of one evaluation; [`SaliencyEvalOptions::mit`] and
/// [`SaliencyEvalOptions::pysaliency`] are the two benchmarks' choices.
#[derive(Clone, Debug)]
pub struct SaliencyEvalOptions {
    /// σ in pixels of the ground-truth density for CC, KLD and SIM.
    pub sigma: f64,
    /// Instead of `sigma`: σ as this fraction of each image's diagonal (datasets of mixed sizes).
    pub sigma_fraction: Option<f64>,
    pub nss: NssOptions,
    pub auc_judd_duplicates: Duplicates,
    pub kld: KldVariant,
    pub sim: SimVariant,
    pub ig_duplicates: Duplicates,
    /// AUC-Borji and shuffled AUC.
    pub split: SplitRoc,
    /// Other images whose fixations are the shuffled AUC's negatives (the benchmark uses 10).
    pub shuffled_images: usize,
    pub average: Average,
}

impl SaliencyEvalOptions {
    /// The MIT benchmark's conventions (binary fixation maps, MATLAB's std, KLdiv.m,
    /// similarity.m, 100 splits at step 0.1, 10 other images, per-image average).
    pub fn mit(sigma: f64) -> Self {
        Self {
            sigma,
            sigma_fraction: None,
            nss: NssOptions::MIT,
            auc_judd_duplicates: Duplicates::Collapse,
            kld: KldVariant::Mit,
            sim: SimVariant::Mit,
            ig_duplicates: Duplicates::Collapse,
            split: SplitRoc::default(),
            shuffled_images: 10,
            average: Average::Image,
        }
    }

    /// pysaliency's conventions (every fixation counted, numpy's std, per-fixation average).
    pub fn pysaliency(sigma: f64) -> Self {
        Self {
            nss: NssOptions::PYSALIENCY,
            auc_judd_duplicates: Duplicates::Keep,
            kld: KldVariant::Pysaliency,
            sim: SimVariant::Pysaliency,
            ig_duplicates: Duplicates::Keep,
            average: Average::Fixation,
            ..Self::mit(sigma)
        }
    }
}

/// Scores of one image.
#[derive(Clone, Debug, Serialize)]
pub struct ImageScores {
    pub image: String,
    pub fixations: usize,
    /// Fixations outside the image, not scored.
    pub dropped_fixations: usize,
    pub nss: f64,
    pub auc_judd: f64,
    pub auc_borji: f64,
    pub sauc: f64,
    /// Bits per fixation over the centre-bias baseline (all images' fixations pooled), from the
    /// prediction's log-density when it came with one, else from the map normalised to sum 1.
    pub ig: f64,
    pub cc: f64,
    pub kld: f64,
    pub sim: f64,
}

pub const METRICS: [&str; 8] = [
    "nss",
    "auc_judd",
    "auc_borji",
    "sauc",
    "ig",
    "cc",
    "kld",
    "sim",
];

impl ImageScores {
    fn values(&self) -> [f64; 8] {
        [
            self.nss,
            self.auc_judd,
            self.auc_borji,
            self.sauc,
            self.ig,
            self.cc,
            self.kld,
            self.sim,
        ]
    }
}

/// An image left out, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub image: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct SaliencyReport {
    pub images: usize,
    pub average: Average,
    /// Mean of each metric over the scored images.
    pub means: BTreeMap<&'static str, f64>,
    pub skipped: Vec<Skipped>,
    pub per_image: Vec<ImageScores>,
}

impl std::fmt::Display for SaliencyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} images scored ({:?} average), {} skipped",
            self.images,
            self.average,
            self.skipped.len()
        )?;
        writeln!(f, "{:<10} {:>9}", "metric", "mean")?;
        for name in METRICS {
            writeln!(f, "{:<10} {:>9.4}", name, self.means[name])?;
        }
        for s in self.skipped.iter().take(10) {
            writeln!(f, "skipped {}: {}", s.image, s.reason)?;
        }
        if self.skipped.len() > 10 {
            writeln!(f, "... and {} more skipped", self.skipped.len() - 10)?;
        }
        Ok(())
    }
}

/// Fixations inside `size`, and how many fell outside.
fn inside(sample: &Sample, size: [u32; 2]) -> (Vec<Fixation>, usize) {
    let (w, h) = (f64::from(size[0]), f64::from(size[1]));
    let all: Vec<_> = sample.fixations().collect();
    let kept: Vec<Fixation> = all
        .iter()
        .filter(|f| f.x >= 0.0 && f.y >= 0.0 && f.x < w && f.y < h)
        .map(|f| Fixation::new(f.x, f.y))
        .collect();
    let dropped = all.len() - kept.len();
    (kept, dropped)
}

/// Fixations as fractions of their image's width and height.
fn relative(fixations: &[Fixation], size: [u32; 2]) -> Vec<(f64, f64)> {
    fixations
        .iter()
        .map(|f| (f.x / f64::from(size[0]), f.y / f64::from(size[1])))
        .collect()
}

fn scale(relative: &[(f64, f64)], size: [u32; 2]) -> Vec<Fixation> {
    relative
        .iter()
        .map(|&(x, y)| Fixation::new(x * f64::from(size[0]), y * f64::from(size[1])))
        .collect()
}

/// Scores every sample that has a prediction in `predictions`; `progress` is called once per
/// finished image (from any thread).
pub fn evaluate(
    samples: &[Sample],
    predictions: &dyn PredictionSource,
    options: &SaliencyEvalOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<SaliencyReport, EvalError> {
    let stimuli = Stimuli::read(samples)?;
    let baselines = centre_bias_baselines(samples, &stimuli, predictions, options)?;
    let results: Vec<Result<ImageScores, Skipped>> = (0..samples.len())
        .into_par_iter()
        .map(|i| {
            let result = score_image(i, samples, &stimuli, predictions, &baselines, options);
            progress();
            result
        })
        .collect();
    let (mut per_image, mut skipped) = (Vec::new(), Vec::new());
    for r in results {
        match r {
            Ok(scores) => per_image.push(scores),
            Err(s) => skipped.push(s),
        }
    }
    if per_image.is_empty() {
        return Err(EvalError::Empty(format!(
            "none of {} images could be scored against {} (first problem: {})",
            samples.len(),
            predictions.name(),
            skipped
                .first()
                .map_or("no images".into(), |s| format!("{}: {}", s.image, s.reason))
        )));
    }
    Ok(SaliencyReport {
        images: per_image.len(),
        average: options.average,
        means: mean_scores(&per_image, options.average),
        skipped,
        per_image,
    })
}

/// Each stimulus's size (from its file: a stimulus whose labels contradict it stops the
/// evaluation, since its scores would be computed against fixations in the wrong place), its
/// fixations inside it (and how many fell outside), and their relative positions.
struct Stimuli {
    sizes: Vec<[u32; 2]>,
    fixations: Vec<(Vec<Fixation>, usize)>,
    relatives: Vec<Vec<(f64, f64)>>,
}

impl Stimuli {
    fn read(samples: &[Sample]) -> Result<Self, EvalError> {
        let sizes = samples
            .iter()
            .map(Sample::image_size)
            .collect::<Result<Vec<_>, _>>()?;
        let fixations: Vec<(Vec<Fixation>, usize)> = samples
            .iter()
            .zip(&sizes)
            .map(|(s, &size)| inside(s, size))
            .collect();
        let relatives = fixations
            .iter()
            .zip(&sizes)
            .map(|((f, _), &size)| relative(f, size))
            .collect();
        Ok(Self {
            sizes,
            fixations,
            relatives,
        })
    }
}

/// IG's centre-bias baseline (all images' fixations pooled), once per distinct size of the
/// images that have a prediction.
fn centre_bias_baselines(
    samples: &[Sample],
    stimuli: &Stimuli,
    predictions: &dyn PredictionSource,
    options: &SaliencyEvalOptions,
) -> Result<HashMap<[u32; 2], Array2<f64>>, EvalError> {
    let pooled: Vec<(f64, f64)> = stimuli.relatives.iter().flatten().copied().collect();
    let mut baselines = HashMap::new();
    if pooled.is_empty() {
        return Ok(baselines);
    }
    let scored = samples
        .iter()
        .zip(&stimuli.sizes)
        .filter(|(s, _)| predictions.covers(&s.id));
    for (_, &size) in scored {
        if baselines.contains_key(&size) {
            continue;
        }
        let [w, h] = size;
        let sigma = options
            .sigma_fraction
            .map_or(options.sigma, |f| f * f64::from(w).hypot(f64::from(h)));
        let points = scale(&pooled, size).into_iter().map(|f| (f.x, f.y));
        let map = density_map(w as usize, h as usize, points, sigma, Border::Zero)
            .map_err(|cause| EvalError::density("centre-bias baseline", cause))?;
        baselines.insert(size, map);
    }
    Ok(baselines)
}

/// The scores of image `i`, or why it is skipped.
fn score_image(
    i: usize,
    samples: &[Sample],
    stimuli: &Stimuli,
    predictions: &dyn PredictionSource,
    baselines: &HashMap<[u32; 2], Array2<f64>>,
    options: &SaliencyEvalOptions,
) -> Result<ImageScores, Skipped> {
    let sample = &samples[i];
    let skip = |reason: String| Skipped {
        image: sample.id.clone(),
        reason,
    };
    if !predictions.covers(&sample.id) {
        return Err(skip("no prediction".into()));
    }
    let (fix, dropped) = &stimuli.fixations[i];
    if fix.is_empty() {
        return Err(skip(format!(
            "no fixations inside the image ({dropped} outside)"
        )));
    }
    let size = stimuli.sizes[i];
    let prediction = predictions.prediction(sample, size).map_err(skip)?;
    // The shuffled AUC's negatives: the fixations of other images, drawn per image.
    let mut rng = StdRng::seed_from_u64(options.split.seed ^ image_seed(&sample.id));
    let other_count = options.shuffled_images.min(samples.len() - 1);
    let others: Vec<Fixation> = sample_indices(&mut rng, samples.len() - 1, other_count)
        .into_iter()
        .map(|k| if k >= i { k + 1 } else { k })
        .flat_map(|k| scale(&stimuli.relatives[k], size))
        .collect();
    score(
        sample,
        &prediction,
        fix,
        *dropped,
        &others,
        &baselines[&size],
        options,
    )
    .map_err(|e| skip(e.to_string()))
}

fn mean_scores(per_image: &[ImageScores], average: Average) -> BTreeMap<&'static str, f64> {
    METRICS
        .iter()
        .enumerate()
        .map(|(k, &name)| {
            // NSS, the AUCs and IG are per-fixation quantities; CC, KLD and SIM compare whole
            // maps and are always averaged per image.
            let by_fixation = k < 5 && average == Average::Fixation;
            let (sum, total) = per_image.iter().fold((0.0, 0.0), |(sum, total), s| {
                let w = if by_fixation { s.fixations as f64 } else { 1.0 };
                (sum + w * s.values()[k], total + w)
            });
            (name, sum / total)
        })
        .collect()
}

/// The scores of a map that need only its own image's fixations and ground-truth density:
/// what training validates with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MapScores {
    pub nss: f64,
    pub auc_judd: f64,
    pub cc: f64,
    pub kld: f64,
    pub sim: f64,
}

/// NSS and AUC-Judd of `map` on `fixations`; CC, KLD and SIM against `ground_truth`, with the
/// conventions of `options`.
pub fn map_scores(
    map: ArrayView2<f64>,
    fixations: &[Fixation],
    ground_truth: ArrayView2<f64>,
    options: &SaliencyEvalOptions,
) -> Result<MapScores, MetricError> {
    let auc_judd = AucJuddOptions {
        jitter: None,
        duplicates: options.auc_judd_duplicates,
    };
    Ok(MapScores {
        nss: saliency::nss(map, fixations, options.nss)?,
        auc_judd: saliency::auc_judd(map, fixations, auc_judd)?,
        cc: saliency::cc(map, ground_truth)?,
        kld: saliency::kld(map, ground_truth, options.kld)?,
        sim: saliency::sim(map, ground_truth, options.sim)?,
    })
}

/// Every metric of one image: [`map_scores`], and the ones that need other images (shuffled
/// AUC's negatives, IG's centre-bias baseline).
fn score(
    sample: &Sample,
    prediction: &Prediction,
    fixations: &[Fixation],
    dropped: usize,
    others: &[Fixation],
    baseline: &Array2<f64>,
    options: &SaliencyEvalOptions,
) -> Result<ImageScores, EvalError> {
    let (h, w) = prediction.map.dim();
    let m = prediction.map.view();
    let sigma = options
        .sigma_fraction
        .map_or(options.sigma, |f| f * (w as f64).hypot(h as f64));
    let ground_truth = density_map(
        w,
        h,
        fixations.iter().map(|f| (f.x, f.y)),
        sigma,
        Border::Zero,
    )
    .map_err(|cause| EvalError::density(&sample.id, cause))?;
    let metric = |cause| EvalError::metric(&sample.id, cause);
    let split = SplitRoc {
        seed: options.split.seed ^ image_seed(&sample.id).rotate_left(17),
        ..options.split
    };
    let own = map_scores(m, fixations, ground_truth.view(), options).map_err(metric)?;
    Ok(ImageScores {
        image: sample.id.clone(),
        fixations: fixations.len(),
        dropped_fixations: dropped,
        nss: own.nss,
        auc_judd: own.auc_judd,
        auc_borji: saliency::auc_borji(m, fixations, &split).map_err(metric)?,
        sauc: saliency::auc_shuffled(m, fixations, others, &split).map_err(metric)?,
        ig: match &prediction.log_density {
            Some(log_density) => saliency::information_gain_log_density(
                log_density.view(),
                baseline.view(),
                fixations,
                options.ig_duplicates,
            ),
            None => {
                saliency::information_gain(m, baseline.view(), fixations, options.ig_duplicates)
            }
        }
        .map_err(metric)?,
        cc: own.cc,
        kld: own.kld,
        sim: own.sim,
    })
}

/// A stable per-image seed offset (FNV-1a of the id), so an image's random negatives do not
/// depend on which other images are evaluated with it.
fn image_seed(id: &str) -> u64 {
    use std::hash::Hasher;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(id.as_bytes());
    hasher.finish()
}
