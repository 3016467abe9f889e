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
    #[error("{0}: this model has no trained saliency head")]
    NoSaliency(PathBuf),
    #[error("{0}: this model has no trained quality head")]
    NoQuality(PathBuf),
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
}

impl Default for PredictorOptions {
    fn default() -> Self {
        Self {
            size: None,
            fit: Fit::Resize,
            flip_average: None,
            engine: Engine::default(),
        }
    }
}

/// A loaded model, BatchNorm folded, ready to predict.
pub struct Predictor {
    model: AbsNet,
    card: ModelCard,
    path: PathBuf,
    size: [u32; 2],
    fit: Fit,
    flip_average: bool,
    aesthetics: bool,
    quality: bool,
    device: Device,
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

impl Predictor {
    /// Loads the chosen model (a built-in one, or a file: safetensors with its card). Its
    /// saliency head must be trained; its aesthetics and quality heads are used only when trained.
    pub fn load(
        choice: &ModelChoice,
        options: &PredictorOptions,
        device: &Device,
    ) -> Result<Self, PredictError> {
        let (model, card) = choice.load(device)?;
        if model.saliency.is_none() || !card.is_trained(Head::Saliency) {
            return Err(PredictError::NoSaliency(choice.label().to_path_buf()));
        }
        Self::ready(model, card, choice.label(), options, device)
    }

    fn ready(
        model: AbsNet,
        card: ModelCard,
        path: &Path,
        options: &PredictorOptions,
        device: &Device,
    ) -> Result<Self, PredictError> {
        let aesthetics = model.aesthetics.is_some() && card.is_trained(Head::Aesthetics);
        let quality = model.quality.is_some() && card.is_trained(Head::Quality);

        let size = options.size.or(card.input).unwrap_or(DEFAULT_INPUT);
        let [width, height] = size;
        // The encoder works at stride 8 at most; below that there is no feature map left.
        if width < 8
            || height < 8
            || u64::from(width) * u64::from(height) > pipeline::DEFAULT_MAX_PIXELS
        {
            return Err(PredictError::InputSize {
                path: path.to_path_buf(),
                width,
                height,
                reason: format!(
                    "expected at least 8×8 and at most {} pixels",
                    pipeline::DEFAULT_MAX_PIXELS
                ),
            });
        }
        let flip_average = options.flip_average.unwrap_or(card.flip_average);
        Ok(Self {
            model: model.fold_norms().with_engine(options.engine),
            card,
            path: path.to_path_buf(),
            size,
            fit: options.fit,
            flip_average,
            aesthetics,
            quality,
            device: device.clone(),
        })
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The model input `[width, height]` photos are fitted to.
    pub fn input_size(&self) -> [u32; 2] {
        self.size
    }

    /// Whether each photo is predicted with its mirror image, averaged.
    pub fn flip_average(&self) -> bool {
        self.flip_average
    }

    /// Whether predictions carry aesthetics (the model has a trained aesthetics head).
    pub fn has_aesthetics(&self) -> bool {
        self.aesthetics
    }

    /// Whether predictions carry a quality score (the model has a trained quality head).
    pub fn has_quality(&self) -> bool {
        self.quality
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
        let [w, h] = self.size;
        let (x, placements) = self.inputs(photos);
        let out = if self.flip_average {
            self.model.forward_mirrored(x)
        } else {
            self.model.forward_parallel(x)
        };
        let maps = values(out.saliency.expect("checked at load: a saliency head"));
        let distributions = out.aesthetics.filter(|_| self.aesthetics).map(values);
        let qualities = out.quality.filter(|_| self.quality).map(values);
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
                quality: qualities
                    .as_ref()
                    .map(|d| quality(&d[i * RATING_BINS..(i + 1) * RATING_BINS])),
                ms,
            })
            .collect()
    }
}

impl Predictor {
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

    /// Only the picture-quality scores of `photos`, in one batched pass that runs the encoder
    /// and the quality head and skips the saliency decoder (the neck and the saliency head).
    pub fn quality_batch(&self, photos: &[&RgbImage]) -> Result<Vec<Quality>, PredictError> {
        if !self.quality {
            return Err(PredictError::NoQuality(self.path.clone()));
        }
        Ok(self.scores(photos))
    }

    /// The quality scores of `photos`; the quality head is trained.
    fn scores(&self, photos: &[&RgbImage]) -> Vec<Quality> {
        if photos.is_empty() {
            return Vec::new();
        }
        let (x, _) = self.inputs(photos);
        let heads = [Head::Quality];
        let distributions = |x: Tensor<4>| {
            self.model
                .forward_heads(x, &heads)
                .quality
                .expect("checked: a quality head")
        };
        let bins = if self.flip_average {
            (distributions(x.clone()) + distributions(x.flip([3]))) * 0.5
        } else {
            distributions(x)
        };
        values(bins)
            .chunks_exact(RATING_BINS)
            .map(quality)
            .collect()
    }
}

/// A model loaded to score picture quality alone (`predict --quality-only`): its quality head
/// must be trained, its saliency head need not be — a model trained for quality alone scores
/// photos too.
pub struct QualityScorer(Predictor);

impl QualityScorer {
    pub fn load(
        choice: &ModelChoice,
        options: &PredictorOptions,
        device: &Device,
    ) -> Result<Self, PredictError> {
        let (model, card) = choice.load(device)?;
        let predictor = Predictor::ready(model, card, choice.label(), options, device)?;
        if !predictor.quality {
            return Err(PredictError::NoQuality(predictor.path));
        }
        Ok(Self(predictor))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// The model input `[width, height]` photos are fitted to.
    pub fn input_size(&self) -> [u32; 2] {
        self.0.input_size()
    }

    /// The quality scores of `photos`, in one batched pass of the encoder and the quality head.
    pub fn quality_batch(&self, photos: &[&RgbImage]) -> Vec<Quality> {
        self.0.scores(photos)
    }
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values")
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
