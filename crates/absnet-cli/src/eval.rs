//! `absnet eval`: predictions scored against benchmark datasets.

use std::path::PathBuf;

use absnet_data::DatasetSpec;
use absnet_data::pipeline;
use absnet_data::split::Split;
use absnet_eval::predictions::{Prediction, PredictionFolder, PredictionSource};
use absnet_eval::saliency::SaliencyEvalOptions;
use absnet_predict::{ModelChoice, Predictor, PredictorOptions, QualityScorer};
use anyhow::{Context, Result};
use burn::tensor::Device;
use ndarray::Array2;

#[derive(clap::Subcommand)]
pub enum Eval {
    /// Saliency maps (grayscale images, matched to stimuli by file stem, any size) against a
    /// dataset's fixations: NSS, AUC-Judd, AUC-Borji, sAUC, IG, CC, KLD, SIM.
    Saliency {
        /// Dataset spec, e.g. `osie:../shared/data/osie`.
        dataset: DatasetSpec,
        /// Folder of predicted maps (or --model).
        #[arg(required_unless_present = "model")]
        predictions: Option<PathBuf>,
        /// Score a model instead, predicting each image on the fly (no files written; the
        /// log-density is the model's own): `fast` or `accurate` (built in), or a model file.
        #[arg(long, conflicts_with = "predictions")]
        model: Option<ModelChoice>,
        /// Score only one part of a split file of `absnet train` (ids prefixed by the dataset's
        /// name).
        #[arg(long)]
        split: Option<PathBuf>,
        #[arg(long, default_value = "test", requires = "split")]
        part: Part,
        /// Ground-truth density σ in pixels (default: the dataset's own, from its authors or the
        /// spec's `sigma=`; required for datasets that state none, unless --sigma-fraction is
        /// given).
        #[arg(long, value_parser = positive)]
        sigma: Option<f64>,
        /// σ as a fraction of each image's diagonal (datasets of mixed sizes; 0.03 is common).
        #[arg(long, conflicts_with = "sigma", value_parser = positive)]
        sigma_fraction: Option<f64>,
        /// Metric conventions: `mit` (the MIT benchmark) or `pysaliency`.
        #[arg(long, default_value = "mit")]
        conventions: Conventions,
        /// Print the report as JSON (with per-image scores).
        #[arg(long)]
        json: bool,
    },
    /// The reference points a model is read against: inter-observer consistency (leave one
    /// observer out) of the images scored, and centre-bias maps built from training images,
    /// written for `eval saliency`.
    Baselines {
        dataset: DatasetSpec,
        /// Split file of `absnet train` (ids prefixed by the dataset's name); without it, every
        /// image of the dataset is scored (a dataset left out of training).
        #[arg(long)]
        split: Option<PathBuf>,
        #[arg(long, default_value = "test", requires = "split")]
        part: Part,
        #[arg(long, default_value_t = 0.03, value_parser = positive)]
        sigma_fraction: f64,
        /// Write the centre-bias maps of the scored images here.
        #[arg(long)]
        centre_bias: Option<PathBuf>,
        /// Build the centre bias from these datasets' training parts (each with one
        /// --from-split, in order) instead of the dataset's own.
        #[arg(long = "from", requires = "centre_bias")]
        from: Vec<DatasetSpec>,
        #[arg(long = "from-split")]
        from_split: Vec<PathBuf>,
    },
    /// A model's quality head against a quality study's opinion scores (`livec:PATH`): SRCC,
    /// KRCC, PLCC (raw and after the 4-parameter logistic fit), RMSE, EMD, accuracy at 50.
    Quality {
        /// Dataset spec with opinion scores, e.g. `livec:../shared/data/livec`.
        dataset: DatasetSpec,
        /// A model with a trained quality head: `fast`, `accurate` or `quality` (built in), or a
        /// model file.
        #[arg(long, default_value = "fast")]
        model: ModelChoice,
        /// Score only one part of a split file of `absnet train`.
        #[arg(long)]
        split: Option<PathBuf>,
        #[arg(long, default_value = "test", requires = "split")]
        part: Part,
        /// Average each photo's prediction with its mirror image's: `on` or `off` (default: as
        /// the model card says).
        #[arg(long, value_parser = crate::ranges::on_off)]
        flip_average: Option<bool>,
        /// Print the report as JSON (with each photo's predicted score, MOS and SD).
        #[arg(long)]
        json: bool,
    },
    /// Predicted score distributions against AVA-style labels: EMD, SRCC, PLCC, accuracy, MSE.
    Aesthetics {
        /// Labels: AVA JSON (`[{"image_id", "label"}]`) or CSV `image_id,v1..v10`.
        labels: PathBuf,
        /// Predictions in the same forms.
        predictions: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Part {
    Train,
    Val,
    Test,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Conventions {
    Mit,
    Pysaliency,
}

fn positive(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("`{text}`: expected a positive number"))
}

/// A model predicting each stimulus as it is scored.
struct ModelPredictions {
    predictor: Predictor,
}

impl ModelPredictions {
    fn load(choice: &ModelChoice, device: &Device) -> Result<Self> {
        let predictor = Predictor::load(choice, &PredictorOptions::default(), device)?;
        Ok(Self { predictor })
    }
}

impl PredictionSource for ModelPredictions {
    fn name(&self) -> String {
        self.predictor.path().display().to_string()
    }

    fn covers(&self, _: &str) -> bool {
        true
    }

    fn prediction(
        &self,
        sample: &absnet_data::Sample,
        size: [u32; 2],
    ) -> Result<Prediction, String> {
        let photo = pipeline::decode_file(&sample.image, pipeline::DEFAULT_MAX_PIXELS)
            .map_err(|e| e.to_string())?;
        if [photo.width(), photo.height()] != size {
            return Err(format!(
                "{}: decoded {}×{}, expected {}×{}",
                sample.image.display(),
                photo.width(),
                photo.height(),
                size[0],
                size[1]
            ));
        }
        let predicted = self.predictor.predict(&photo);
        let shape = (size[1] as usize, size[0] as usize);
        let map = predicted.saliency.iter().map(|&v| f64::from(v)).collect();
        let log_density = predicted.density().into_iter().map(f64::ln).collect();
        Ok(Prediction {
            map: Array2::from_shape_vec(shape, map).expect("w × h"),
            log_density: Some(Array2::from_shape_vec(shape, log_density).expect("w × h")),
        })
    }
}

pub fn run(eval: Eval, device: &Device) -> Result<()> {
    match eval {
        Eval::Saliency {
            dataset,
            predictions,
            model,
            split,
            part,
            sigma,
            sigma_fraction,
            conventions,
            json,
        } => {
            let samples = match &split {
                Some(_) => scored_part(&dataset, split.as_deref(), part)?,
                None => dataset.load()?,
            };
            let source: Box<dyn PredictionSource> = match (&predictions, &model) {
                (Some(dir), _) => Box::new(PredictionFolder::open(dir)?),
                (None, Some(path)) => Box::new(ModelPredictions::load(path, device)?),
                (None, None) => unreachable!("clap requires one"),
            };
            saliency(
                &dataset,
                &samples,
                source.as_ref(),
                sigma,
                sigma_fraction,
                conventions,
                json,
            )
        }
        Eval::Baselines {
            dataset,
            split,
            part,
            sigma_fraction,
            centre_bias,
            from,
            from_split,
        } => {
            let scored = scored_part(&dataset, split.as_deref(), part)?;
            let observers = absnet_eval::baselines::inter_observer(&scored, sigma_fraction)?;
            println!(
                "{} images; inter-observer consistency (leave one observer out, σ = {sigma_fraction} of the diagonal):",
                observers.images
            );
            println!(
                "  NSS {:.4}  AUC-Judd {:.4}  CC {:.4}  KLD {:.4}  SIM {:.4}",
                observers.nss, observers.auc_judd, observers.cc, observers.kld, observers.sim
            );
            let Some(out) = centre_bias else {
                return Ok(());
            };
            let train = training_parts(&dataset, split.as_deref(), &from, &from_split)?;
            let n =
                absnet_eval::baselines::write_centre_bias(&train, &scored, sigma_fraction, &out)?;
            println!(
                "{n} centre-bias maps (from {} training images) in {}",
                train.len(),
                out.display()
            );
            Ok(())
        }
        Eval::Quality {
            dataset,
            model,
            split,
            part,
            flip_average,
            json,
        } => {
            let samples = scored_part(&dataset, split.as_deref(), part)?;
            let report = quality(&samples, &model, flip_average, device)?;
            print_report(&report, json)
        }
        Eval::Aesthetics {
            labels,
            predictions,
            json,
        } => {
            let labels = absnet_eval::aesthetics::read_distributions(&labels)?;
            let predictions = absnet_eval::aesthetics::read_distributions(&predictions)?;
            let report = absnet_eval::aesthetics::evaluate(&labels, &predictions)?;
            print_report(&report, json)
        }
    }
}

fn print_report(report: &(impl serde::Serialize + std::fmt::Display), json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn saliency(
    dataset: &DatasetSpec,
    samples: &[absnet_data::Sample],
    predictions: &dyn PredictionSource,
    sigma: Option<f64>,
    sigma_fraction: Option<f64>,
    conventions: Conventions,
    json: bool,
) -> Result<()> {
    let sigma = match sigma_fraction {
        Some(_) => 0.0,
        None => sigma.or(dataset.default_sigma()).with_context(|| {
            format!(
                "{}: the dataset has no known σ; pass --sigma or --sigma-fraction",
                dataset.path().display()
            )
        })?,
    };
    let mut options = match conventions {
        Conventions::Mit => SaliencyEvalOptions::mit(sigma),
        Conventions::Pysaliency => SaliencyEvalOptions::pysaliency(sigma),
    };
    options.sigma_fraction = sigma_fraction;
    let bar = indicatif::ProgressBar::new(samples.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images, ETA {eta}")
            .expect("valid template"),
    );
    let report = absnet_eval::saliency::evaluate(samples, predictions, &options, &|| bar.inc(1))?;
    bar.finish_and_clear();
    print_report(&report, json)
}

/// `model`'s quality head on `samples`, 8 photos a batch, fitted to the model's input as in
/// training (the pass `predict --quality-only` runs).
fn quality(
    samples: &[absnet_data::Sample],
    model: &ModelChoice,
    flip_average: Option<bool>,
    device: &Device,
) -> Result<absnet_eval::quality::QualityScores> {
    let options = PredictorOptions {
        flip_average,
        ..PredictorOptions::default()
    };
    let scorer = QualityScorer::load(model, &options, device)?;
    let bar = indicatif::ProgressBar::new(samples.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images, ETA {eta}")
            .expect("valid template"),
    );
    let mut predicted: Vec<(String, Vec<f64>, absnet_data::Opinion)> = Vec::new();
    for chunk in samples.chunks(8) {
        let mut photos = Vec::new();
        for sample in chunk {
            let opinion = sample
                .opinion
                .with_context(|| format!("{}: no opinion score", sample.id))?;
            let photo = pipeline::decode_file(&sample.image, pipeline::DEFAULT_MAX_PIXELS)
                .with_context(|| sample.image.display().to_string())?;
            photos.push((sample.id.clone(), photo, opinion));
        }
        let batch: Vec<&image::RgbImage> = photos.iter().map(|(_, photo, _)| photo).collect();
        let scores = scorer.quality_batch(&batch);
        for ((id, _, opinion), quality) in photos.into_iter().zip(scores) {
            predicted.push((id, quality.distribution, opinion));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(absnet_eval::quality::scores(
        predicted
            .iter()
            .map(|(id, p, o)| (id.as_str(), p.as_slice(), *o)),
    )?)
}

/// The images a baseline scores: a part of a split, or the whole dataset.
fn scored_part(
    dataset: &DatasetSpec,
    split: Option<&std::path::Path>,
    part: Part,
) -> Result<Vec<absnet_data::Sample>> {
    let samples = dataset.load_named()?;
    let Some(split) = split else {
        return Ok(samples);
    };
    let split = Split::read(split)?;
    let ids = match part {
        Part::Train => &split.train,
        Part::Val => &split.val,
        Part::Test => &split.test,
    };
    Ok(split.select_present(&samples, ids))
}

/// The training images the centre bias is built from: each `--from` dataset's training part
/// (its `--from-split`), or else the dataset's own.
fn training_parts(
    dataset: &DatasetSpec,
    split: Option<&std::path::Path>,
    from: &[DatasetSpec],
    from_split: &[PathBuf],
) -> Result<Vec<absnet_data::Sample>> {
    if from.len() != from_split.len() {
        anyhow::bail!(
            "--from is given {} times and --from-split {} times: pair each dataset with its split file",
            from.len(),
            from_split.len()
        );
    }
    if from.is_empty() {
        let split = split.context(
            "--centre-bias needs --split (the dataset's training part) or --from/--from-split",
        )?;
        return scored_part(dataset, Some(split), Part::Train);
    }
    let mut train = Vec::new();
    for (spec, split) in from.iter().zip(from_split) {
        train.extend(scored_part(spec, Some(split), Part::Train)?);
    }
    Ok(train)
}
