//! The arguments `predict`, `crop` and `serve` share — the model and how photos reach it, how a
//! batch run treats its output folder — and loading the model they name.

use absnet_data::pipeline::{self, Fit};
use absnet_predict::{ModelChoice, Predictor, PredictorOptions, QualityScorer};
use anyhow::Result;
use burn::tensor::Device;

use crate::{inputs, ranges};

/// The model and how photos reach it: shared by `predict`, `crop` and `serve`.
#[derive(clap::Args)]
pub struct ModelInputArgs {
    /// The model: `fast` (built in), `accurate` (built in; about 1.4 times the work) or a
    /// model file (safetensors with its card).
    #[arg(long, default_value = "fast")]
    pub model: ModelChoice,
    /// Model input WIDTHxHEIGHT (default: the size the model was trained at).
    #[arg(long = "input-size", value_name = "WxH", value_parser = ranges::input_size)]
    pub size: Option<[u32; 2]>,
    /// How photos are fitted to the input: `resize` (stretch) or `letterbox`.
    #[arg(long, default_value = "resize")]
    pub fit: Fit,
    /// Average each photo's prediction with its mirror image's: `on` or `off` (default: as the
    /// model card says; twice the work).
    #[arg(long, value_parser = ranges::on_off)]
    pub flip_average: Option<bool>,
    /// Refuse images over this many pixels.
    #[arg(long, default_value_t = pipeline::DEFAULT_MAX_PIXELS, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_pixels: u64,
    /// Refuse input files (or standard input) over this many bytes.
    #[arg(long, default_value_t = inputs::DEFAULT_MAX_BYTES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_bytes: u64,
}

impl ModelInputArgs {
    /// How photos reach the model; quality scored by `quality_model` where one is named.
    pub fn options(&self, quality_model: Option<&ModelChoice>) -> PredictorOptions {
        PredictorOptions {
            size: self.size,
            fit: self.fit,
            flip_average: self.flip_average,
            quality_model: quality_model.cloned(),
            ..PredictorOptions::default()
        }
    }

    /// `--input-size` within the pixel limit.
    fn check_size(&self) -> Result<()> {
        if let Some(size) = self.size {
            ranges::check_pixels(size, self.max_pixels)?;
        }
        Ok(())
    }
}

/// Which model scores picture quality: shared by `predict`, `rank` and `serve`.
#[derive(clap::Args)]
pub struct QualityModelArgs {
    /// Score picture quality with this model's quality head instead of `--model`'s: `quality`
    /// (built in; its own 512×512 pass, closer to people's opinions than the saliency models'
    /// heads) or a model file with a trained quality head.
    #[arg(long, value_name = "MODEL")]
    pub quality_model: Option<ModelChoice>,
}

/// How a batch run treats its output folder: shared by `predict` and `crop`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Images per forward pass (1–256).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub batch: u16,
    /// Continue an earlier run in the same folder: images with a complete record are skipped.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start the folder's records afresh (an earlier run's records are discarded).
    #[arg(long)]
    pub overwrite: bool,
    /// Pass over the entries of an input folder that are not images absnet reads — sub-folders,
    /// entries that cannot be read — without failing the run (they are still listed on stderr
    /// and in the records).
    #[arg(long)]
    pub skip_bad: bool,
}

/// Loads the model `--model` names, quality scored by `quality_model` where one is named, and
/// checks `--input-size` against the pixel limit.
pub fn load_predictor(
    input: &ModelInputArgs,
    quality_model: Option<&ModelChoice>,
    device: &Device,
) -> Result<Predictor> {
    let predictor = Predictor::load(&input.model, &input.options(quality_model), device)?;
    input.check_size()?;
    Ok(predictor)
}

/// Loads the model that scores picture quality alone — `quality_model`, else `--model` (it
/// needs a trained quality head, not a saliency head) — and checks `--input-size` against the
/// pixel limit.
pub fn load_quality_scorer(
    input: &ModelInputArgs,
    quality_model: Option<&ModelChoice>,
    device: &Device,
) -> Result<QualityScorer> {
    let scorer = QualityScorer::of(&input.model, &input.options(quality_model), device)?;
    input.check_size()?;
    Ok(scorer)
}
