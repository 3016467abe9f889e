//! The [`Predictor`]: a model file made ready for inference, and what it predicts for photos.

use std::path::{Path, PathBuf};
use std::time::Instant;

use absnet_data::pipeline::{self, Fit};
use absnet_metrics::rating::BINS as RATING_BINS;
use absnet_model::{AbsNet, Engine, Head, ModelCard, ModelError};
use burn::tensor::{Device, Tensor};
use image::RgbImage;
use rayon::prelude::*;

use crate::choice::ModelChoice;
use crate::render::{self, FloatMap, Peak};

/// Input size used when neither the caller nor the model card names one.
pub const DEFAULT_INPUT: [u32; 2] = [320, 240];

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The model lacks a head the use needs (saliency to predict maps, quality to score).
    #[error("{path}: this model has no trained {head} head")]
    NoHead { path: PathBuf, head: Head },
    #[error("{path}: input size {width}×{height}: {reason}")]
    InputSize {
        path: PathBuf,
        width: u32,
        height: u32,
        reason: String,
    },
}

/// How photos are fed to the model.
#[derive(Clone, Debug)]
pub struct PredictorOptions {
    /// Model input `[width, height]`; `None`: the size the model was trained at.
    pub size: Option<[u32; 2]>,
    pub fit: Fit,
    /// Average each photo's prediction with its mirror image's; `None`: as the model card says.
    pub flip_average: Option<bool>,
    /// The convolutions the encoder runs on the CPU (the default, or Flex's own to compare).
    pub engine: Engine,
    /// A model whose quality head scores picture quality instead of the model's own: its own
    /// pass over each photo, at the input size, fit and mirror averaging it was trained with.
    pub quality_model: Option<ModelChoice>,
}

impl Default for PredictorOptions {
    fn default() -> Self {
        Self {
            size: None,
            fit: Fit::Resize,
            flip_average: None,
            engine: Engine::default(),
            quality_model: None,
        }
    }
}

impl PredictorOptions {
    /// The options the quality model runs with: its own input size, fit and mirror averaging,
    /// this engine.
    fn for_quality_model(&self) -> Self {
        Self {
            engine: self.engine,
            ..Self::default()
        }
    }
}

/// A model made ready to run: BatchNorm folded, its input size, fit and mirror averaging chosen.
struct Ready {
    model: AbsNet,
    card: ModelCard,
    path: PathBuf,
    size: [u32; 2],
    fit: Fit,
    flip_average: bool,
    device: Device,
}

/// A loaded model, BatchNorm folded, ready to predict.
pub struct Predictor {
    ready: Ready,
    aesthetics: bool,
    quality: Option<QualitySource>,
}

/// Which head scores a predictor's picture quality.
enum QualitySource {
    /// The model's own quality head, in the model's forward pass.
    OwnHead,
    /// Another model's (`PredictorOptions::quality_model`), in a pass of its own.
    Model(Box<QualityScorer>),
}

/// An aesthetic score distribution over the scores 1–10 and its summary.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Aesthetics {
    pub distribution: Vec<f64>,
    pub mean: f64,
    pub std: f64,
}

/// Perceived picture quality: the score on LIVE-C's 0–100 opinion scale (the distribution's
/// mean over the bin centres 5, 15, …, 95) and the distribution over its ten bins.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quality {
    pub score: f64,
    pub distribution: Vec<f64>,
}

/// What the model predicts for one photo.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The saliency map at the photo's resolution, the model's output in (0, 1).
    pub saliency: FloatMap,
    /// The score distribution, when the model has a trained aesthetics head.
    pub aesthetics: Option<Aesthetics>,
    /// The quality score, when the model has a trained quality head.
    pub quality: Option<Quality>,
    /// Milliseconds per image of the batch it was predicted in (fit, forward, map back).
    pub ms: f64,
}

impl Prediction {
    pub fn width(&self) -> u32 {
        self.saliency.width()
    }

    pub fn height(&self) -> u32 {
        self.saliency.height()
    }

    /// The map scaled so its maximum is 1: what pictures show.
    pub fn display_map(&self) -> FloatMap {
        render::normalised(&self.saliency)
    }

    /// Up to `k` peaks of the displayed map, strongest first, at least 5 % of the photo's
    /// diagonal apart.
    pub fn peaks(&self, k: usize) -> Vec<Peak> {
        let diagonal = f64::from(self.width()).hypot(f64::from(self.height())) as f32;
        render::peaks(&self.display_map(), k, 0.05 * diagonal)
    }

    /// The map as a probability density over the pixels (summing to 1), row-major.
    pub fn density(&self) -> Vec<f64> {
        let sum: f64 = self.saliency.iter().map(|&v| f64::from(v)).sum();
        let n = self.saliency.len() as f64;
        self.saliency
            .iter()
            .map(|&v| {
                if sum > 0.0 {
                    f64::from(v) / sum
                } else {
                    1.0 / n
                }
            })
            .collect()
    }
}

impl Ready {
    /// Loads the chosen model, checks that its head `needs` is trained and the input size it
    /// will run at.
    fn load(
        choice: &ModelChoice,
        options: &PredictorOptions,
        device: &Device,
        needs: Head,
    ) -> Result<Self, PredictError> {
        let (model, card) = choice.load(device)?;
        let path = choice.label().to_path_buf();
        let size = options.size.or(card.input).unwrap_or(DEFAULT_INPUT);
        let [width, height] = size;
        // The encoder works at stride 8 at most; below that there is no feature map left.
        if width < 8
            || height < 8
            || u64::from(width) * u64::from(height) > pipeline::DEFAULT_MAX_PIXELS
        {
            return Err(PredictError::InputSize {
                path,
                width,
                height,
                reason: format!(
                    "expected at least 8×8 and at most {} pixels",
                    pipeline::DEFAULT_MAX_PIXELS
                ),
            });
        }
        let flip_average = options.flip_average.unwrap_or(card.flip_average);
        let ready = Self {
            model: model.fold_norms().with_engine(options.engine),
            card,
            path,
            size,
            fit: options.fit,
            flip_average,
            device: device.clone(),
        };
        if !ready.trained(needs) {
            return Err(PredictError::NoHead {
                path: ready.path,
                head: needs,
            });
        }
        Ok(ready)
    }

    /// Whether the model has `head` and its card says it was trained.
    fn trained(&self, head: Head) -> bool {
        let present = match head {
            Head::Saliency => self.model.saliency.is_some(),
            Head::Aesthetics => self.model.aesthetics.is_some(),
            Head::Quality => self.model.quality.is_some(),
        };
        present && self.card.is_trained(head)
    }

    /// `photos` fitted to the model input and normalised as one batch, with where each one's
    /// pixels went.
    fn inputs(&self, photos: &[&RgbImage]) -> (Tensor<4>, Vec<pipeline::Placement>) {
        let [w, h] = self.size;
        let (fitted, placements): (Vec<RgbImage>, Vec<pipeline::Placement>) = photos
            .par_iter()
            .map(|p| pipeline::fit(p, self.size, self.fit))
            .unzip();
        let inputs: Vec<&[u8]> = fitted.iter().map(|i| i.as_raw().as_slice()).collect();
        let normalization = self.card.config.backbone.arch.normalization();
        let x = normalization.batch(&inputs, h as usize, w as usize, &self.device);
        (x, placements)
    }

    /// The quality scores of `photos` in one batched pass that runs the encoder and the quality
    /// head and skips the saliency decoder (the neck and the saliency head); the quality head is
    /// trained.
    fn quality(&self, photos: &[&RgbImage]) -> Vec<Quality> {
        if photos.is_empty() {
            return Vec::new();
        }
        let (x, _) = self.inputs(photos);
        let heads = [Head::Quality];
        let distributions = |x: Tensor<4>| {
            self.model
                .forward_heads(x, &heads)
                .quality
                .expect("checked at load: a quality head")
        };
        let bins = if self.flip_average {
            (distributions(x.clone()) + distributions(x.flip([3]))) * 0.5
        } else {
            distributions(x)
        };
        qualities(bins)
    }
}

impl Predictor {
    /// Loads the chosen model (a built-in one, or a file: safetensors with its card). Its
    /// saliency head must be trained; its aesthetics and quality heads are used only when trained.
    /// With `options.quality_model`, that model's quality head (it must be trained) scores
    /// quality instead of this one's.
    pub fn load(
        choice: &ModelChoice,
        options: &PredictorOptions,
        device: &Device,
    ) -> Result<Self, PredictError> {
        let ready = Ready::load(choice, options, device, Head::Saliency)?;
        let quality = match &options.quality_model {
            Some(other) => {
                let scorer = QualityScorer::load(other, &options.for_quality_model(), device)?;
                Some(QualitySource::Model(Box::new(scorer)))
            }
            None => ready
                .trained(Head::Quality)
                .then_some(QualitySource::OwnHead),
        };
        Ok(Self {
            aesthetics: ready.trained(Head::Aesthetics),
            quality,
            ready,
        })
    }

    pub fn card(&self) -> &ModelCard {
        &self.ready.card
    }

    pub fn path(&self) -> &Path {
        &self.ready.path
    }

    /// The model that scores quality when it is not this one (`PredictorOptions::quality_model`).
    pub fn quality_model(&self) -> Option<&Path> {
        match &self.quality {
            Some(QualitySource::Model(scorer)) => Some(scorer.path()),
            _ => None,
        }
    }

    /// The model input `[width, height]` photos are fitted to.
    pub fn input_size(&self) -> [u32; 2] {
        self.ready.size
    }

    /// Whether each photo is predicted with its mirror image, averaged.
    pub fn flip_average(&self) -> bool {
        self.ready.flip_average
    }

    /// Whether predictions carry aesthetics (the model has a trained aesthetics head).
    pub fn has_aesthetics(&self) -> bool {
        self.aesthetics
    }

    /// Whether predictions carry a quality score (the model, or the quality model, has a
    /// trained quality head).
    pub fn has_quality(&self) -> bool {
        self.quality.is_some()
    }

    pub fn predict(&self, photo: &RgbImage) -> Prediction {
        self.predict_batch(&[photo])
            .pop()
            .expect("one prediction per photo")
    }

    /// Predicts for `photos` in one batched forward pass (its parts run concurrently).
    pub fn predict_batch(&self, photos: &[&RgbImage]) -> Vec<Prediction> {
        if photos.is_empty() {
            return Vec::new();
        }
        let start = Instant::now();
        let ready = &self.ready;
        let [w, h] = ready.size;
        let (x, placements) = ready.inputs(photos);
        let out = if ready.flip_average {
            ready.model.forward_mirrored(x)
        } else {
            ready.model.forward_parallel(x)
        };
        let maps = values(out.saliency.expect("checked at load: a saliency head"));
        let distributions = out.aesthetics.filter(|_| self.aesthetics).map(values);
        let qualities = match &self.quality {
            Some(QualitySource::OwnHead) => out.quality.map(qualities),
            Some(QualitySource::Model(scorer)) => Some(scorer.quality_batch(photos)),
            None => None,
        };
        let plane = (w * h) as usize;
        let saliency: Vec<FloatMap> = placements
            .par_iter()
            .enumerate()
            .map(|(i, placement)| {
                pipeline::map_to_original(&maps[i * plane..(i + 1) * plane], placement)
            })
            .collect();
        let ms = start.elapsed().as_secs_f64() * 1e3 / photos.len() as f64;
        saliency
            .into_iter()
            .enumerate()
            .map(|(i, saliency)| Prediction {
                saliency,
                aesthetics: distributions
                    .as_ref()
                    .map(|d| aesthetics(&d[i * RATING_BINS..(i + 1) * RATING_BINS])),
                quality: qualities.as_ref().map(|q| q[i].clone()),
                ms,
            })
            .collect()
    }

    /// Only the picture-quality scores of `photos`, in one batched pass that runs the encoder
    /// and the quality head and skips the saliency decoder (the neck and the saliency head) —
    /// the quality model's, when there is one.
    pub fn quality_batch(&self, photos: &[&RgbImage]) -> Result<Vec<Quality>, PredictError> {
        match &self.quality {
            Some(QualitySource::OwnHead) => Ok(self.ready.quality(photos)),
            Some(QualitySource::Model(scorer)) => Ok(scorer.quality_batch(photos)),
            None => Err(PredictError::NoHead {
                path: self.ready.path.clone(),
                head: Head::Quality,
            }),
        }
    }
}

/// A model loaded to score picture quality alone (`predict --quality-only`, a predictor's
/// quality model): its quality head must be trained, its saliency head need not be — a model
/// trained for quality alone scores photos too.
pub struct QualityScorer(Ready);

impl QualityScorer {
    /// What scores quality for a predictor of `model` with `options`: the quality model, at its
    /// own settings, when `options` names one; else `model` itself, as `options` say.
    pub fn of(
        model: &ModelChoice,
        options: &PredictorOptions,
        device: &Device,
    ) -> Result<Self, PredictError> {
        match &options.quality_model {
            Some(other) => Self::load(other, &options.for_quality_model(), device),
            None => Self::load(model, options, device),
        }
    }

    pub fn load(
        choice: &ModelChoice,
        options: &PredictorOptions,
        device: &Device,
    ) -> Result<Self, PredictError> {
        Ready::load(choice, options, device, Head::Quality).map(Self)
    }

    pub fn path(&self) -> &Path {
        &self.0.path
    }

    pub fn card(&self) -> &ModelCard {
        &self.0.card
    }

    /// The model input `[width, height]` photos are fitted to.
    pub fn input_size(&self) -> [u32; 2] {
        self.0.size
    }

    /// Whether each photo is scored with its mirror image, averaged.
    pub fn flip_average(&self) -> bool {
        self.0.flip_average
    }

    /// The quality scores of `photos`, in one batched pass of the encoder and the quality head.
    pub fn quality_batch(&self, photos: &[&RgbImage]) -> Vec<Quality> {
        self.0.quality(photos)
    }
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values")
}

/// The quality of each photo from the head's distributions, `[photos, bins]`.
fn qualities(bins: Tensor<2>) -> Vec<Quality> {
    values(bins)
        .chunks_exact(RATING_BINS)
        .map(quality)
        .collect()
}

fn quality(bins: &[f32]) -> Quality {
    let distribution: Vec<f64> = bins.iter().map(|&v| f64::from(v)).collect();
    Quality {
        // A softmax output always sums to 1 with non-negative bins: the score exists.
        score: absnet_metrics::rating::opinion_score(&distribution).unwrap_or(f64::NAN),
        distribution,
    }
}

fn aesthetics(bins: &[f32]) -> Aesthetics {
    use absnet_metrics::rating::{mean_score, score_std};
    let distribution: Vec<f64> = bins.iter().map(|&v| f64::from(v)).collect();
    // A softmax output always sums to 1 with non-negative bins: both summaries exist.
    Aesthetics {
        mean: mean_score(&distribution).unwrap_or(f64::NAN),
        std: score_std(&distribution).unwrap_or(f64::NAN),
        distribution,
    }
}
