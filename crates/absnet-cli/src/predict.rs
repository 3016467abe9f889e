//! `absnet predict`: saliency maps (and aesthetics, where the model has a trained head) for
//! photos, written next to nothing the user gave us: everything goes to `--out`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use absnet_predict::crop;
use absnet_predict::record::SummaryLine;
use absnet_predict::render::{self, Colormap};
use absnet_predict::{Prediction, Predictor, Quality, QualityScorer, Record};
use anyhow::{Result, bail};
use burn::tensor::Device;
use image::RgbImage;

use crate::args::{ModelInputArgs, QualityModelArgs, RunArgs, load_predictor, load_quality_scorer};
use crate::batch::{self, BatchRun, PhotoWriter, Written};
use crate::inputs::Source;
use crate::output::{Done, Existing, OutputFolder};
use crate::ranges;

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Image files, folders of images, or `-` for an image on standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "predictions")]
    out: PathBuf,
    #[command(flatten)]
    model_input: ModelInputArgs,
    #[command(flatten)]
    quality: QualityModelArgs,
    #[arg(long, default_value = "jet")]
    colormap: Colormap,
    /// Heatmap opacity over the photo, 0–1.
    #[arg(long, default_value_t = 0.5, value_parser = ranges::unit_interval)]
    opacity: f32,
    /// Overlay file format, or `none`.
    #[arg(long, default_value = "jpg")]
    overlay_format: OverlayFormat,
    /// Also write the float map (`NAME.saliency.npy`, float32) and its log-density
    /// (`NAME.log_density.npy`, float64: the map normalised to sum 1 over the pixels, then the
    /// natural log), for information gain and log-likelihood scoring.
    #[arg(long, default_value = "png")]
    format: MapFormat,
    /// Score picture quality only: the encoder and the quality head run, the saliency decoder
    /// does not, and no maps are written (records only). The model that scores — `--quality-model`,
    /// else `--model` — needs a trained quality head, not a saliency head: `--model quality`, or a
    /// model trained for quality alone, scores photos too.
    #[arg(long, conflicts_with_all = ["focal_point", "format"])]
    quality_only: bool,
    /// Also find each photo's focal point — where crops of any aspect should be centred to keep
    /// the most saliency (a CMS focal-point field, an image service's crop centre) — into the
    /// records as `"focal_point": {"x", "y", "score"}` (shares of the width and height).
    #[arg(long)]
    focal_point: bool,
    /// Peaks to report per image (0–100).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(0..=100))]
    top_k: u16,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OverlayFormat {
    Png,
    Jpg,
    /// No overlay (maps and records only).
    None,
}

impl OverlayFormat {
    /// The overlay's file extension and encoding; `None` for no overlay.
    fn format(self) -> Option<(&'static str, image::ImageFormat)> {
        match self {
            OverlayFormat::Png => Some(("png", image::ImageFormat::Png)),
            OverlayFormat::Jpg => Some(("jpg", image::ImageFormat::Jpeg)),
            OverlayFormat::None => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MapFormat {
    Png,
    Npy,
}

impl Done for SummaryLine {
    fn done(&self) -> Option<&str> {
        match self {
            SummaryLine::Predicted(record) => Some(&record.image),
            SummaryLine::Failed(_) => None,
        }
    }
}

pub fn run(args: &PredictArgs, device: &Device) -> Result<()> {
    let existing = Existing::from_flags(args.run.resume, args.run.overwrite);
    let open =
        || OutputFolder::open::<SummaryLine>(&args.out, "summary", &Record::CSV_HEADER, existing);
    let run = |out, model| BatchRun {
        model,
        out,
        input: &args.model_input,
        run: &args.run,
        columns: Record::CSV_HEADER.len(),
    };
    let (out, tally) = if args.quality_only {
        let scorer = load_quality_scorer(
            &args.model_input,
            args.quality.quality_model.as_ref(),
            device,
        )?;
        let (out, done) = open()?;
        let model = scorer.path().display().to_string();
        let writer = QualityWriter {
            scorer: &scorer,
            model: model.clone(),
        };
        let tally = run(&out, model).run(&args.inputs, &done, &writer)?;
        (out, tally)
    } else {
        let predictor = load_predictor(
            &args.model_input,
            args.quality.quality_model.as_ref(),
            device,
        )?;
        if !predictor.has_aesthetics() && !predictor.has_quality() {
            eprintln!(
                "note: {} has no trained aesthetics or quality head, so no scores are given; to train one, \
                 add [model.heads.aesthetics] and an [aesthetics] task on AVA (`ava:DIR` or \
                 `ava-json:FILE`) to a config (see `absnet train --print-default-config`) and run \
                 `absnet train CONFIG --run DIR`, then `absnet export DIR -o MODEL`",
                predictor.path().display()
            );
        }
        let (out, done) = open()?;
        let model = predictor.path().display().to_string();
        let writer = Writer {
            args,
            predictor: &predictor,
            model: model.clone(),
            out: &out,
            inputs: batch::input_paths(&args.inputs),
        };
        let tally = run(&out, model).run(&args.inputs, &done, &writer)?;
        (out, tally)
    };
    let maps = if args.quality_only {
        String::new()
    } else {
        format!("maps and overlays in {}, ", args.out.display())
    };
    println!(
        "{} images done, {} failed, {} already done{}; {maps}records in {} and {}",
        tally.done,
        tally.failed,
        tally.skipped,
        tally.passed_over_note(),
        out.jsonl().display(),
        out.csv().display()
    );
    if tally.failed > 0 {
        bail!(
            "{} of {} inputs failed",
            tally.failed,
            tally.done + tally.failed
        );
    }
    Ok(())
}

/// Records each photo's quality score alone (`--quality-only`).
struct QualityWriter<'a> {
    scorer: &'a QualityScorer,
    model: String,
}

impl PhotoWriter for QualityWriter<'_> {
    /// The score, and the milliseconds per photo of its batch.
    type Predicted = (Quality, f64);

    fn predict(&self, photos: &[&RgbImage]) -> Result<Vec<(Quality, f64)>> {
        let start = std::time::Instant::now();
        let scores = self.scorer.quality_batch(photos);
        let ms = start.elapsed().as_secs_f64() * 1e3 / photos.len().max(1) as f64;
        Ok(scores.into_iter().map(|q| (q, ms)).collect())
    }

    fn write(
        &self,
        source: &Source,
        photo: &RgbImage,
        (quality, ms): &(Quality, f64),
    ) -> Result<Written> {
        let size = [photo.width(), photo.height()];
        let record = Record::quality_only(&source.name(), &self.model, size, quality.clone(), *ms);
        Ok(Written {
            json_line: record.to_json_line(),
            csv_rows: vec![record.csv_row().to_vec()],
            announcement: format!("{}: quality {:.0}/100", source.name(), quality.score),
        })
    }
}

/// Writes each prediction's maps and overlay.
struct Writer<'a> {
    args: &'a PredictArgs,
    predictor: &'a Predictor,
    model: String,
    out: &'a OutputFolder,
    inputs: HashSet<PathBuf>,
}

impl PhotoWriter for Writer<'_> {
    type Predicted = Prediction;

    fn predict(&self, photos: &[&RgbImage]) -> Result<Vec<Prediction>> {
        Ok(self.predictor.predict_batch(photos))
    }

    fn write(&self, source: &Source, photo: &RgbImage, prediction: &Prediction) -> Result<Written> {
        let record = self.files(source, photo, prediction)?;
        Ok(Written {
            json_line: record.to_json_line(),
            csv_rows: vec![record.csv_row().to_vec()],
            announcement: format!(
                "{}: heatmap {}{}{}",
                source.name(),
                record.overlay.as_deref().unwrap_or("not drawn"),
                record
                    .quality
                    .as_ref()
                    .map(|q| format!(", quality {:.0}/100", q.score))
                    .unwrap_or_default(),
                record
                    .focal_point
                    .map(|f| format!(", focal point ({:.3}, {:.3})", f.x, f.y))
                    .unwrap_or_default()
            ),
        })
    }
}

impl Writer<'_> {
    /// The files of one prediction, and its record.
    fn files(&self, source: &Source, photo: &RgbImage, prediction: &Prediction) -> Result<Record> {
        let args = self.args;
        let stem = source.stem();
        let file = |suffix: &str| args.out.join(format!("{stem}.{suffix}"));
        let map_path = file("saliency.png");
        let overlay = args
            .overlay_format
            .format()
            .map(|(extension, format)| (file(&format!("overlay.{extension}")), format));
        let npy = (args.format == MapFormat::Npy)
            .then(|| [file("saliency.npy"), file("log_density.npy")]);
        let paths = std::iter::once(&map_path)
            .chain(overlay.as_ref().map(|(p, _)| p))
            .chain(npy.iter().flatten());
        for path in paths {
            if path.canonicalize().is_ok_and(|p| self.inputs.contains(&p)) {
                bail!(
                    "{} is one of the inputs; refusing to overwrite it",
                    path.display()
                );
            }
        }
        let display = prediction.display_map();
        self.out.save(&map_path, |w| {
            Ok(render::gray8(&display).write_to(w, image::ImageFormat::Png)?)
        })?;
        let model = self.model.clone();
        let mut record = Record::new(&source.name(), &model, prediction, usize::from(args.top_k));
        record.saliency = Some(map_path.display().to_string());
        record.quality_model = self
            .predictor
            .quality_model()
            .map(|path| path.display().to_string());
        if args.focal_point {
            record.focal_point = Some(crop::focal_point(&prediction.saliency));
        }
        if let Some((path, format)) = overlay {
            let picture = render::overlay(photo, &display, args.colormap, args.opacity);
            self.out.save(&path, |w| Ok(picture.write_to(w, format)?))?;
            record.overlay = Some(path.display().to_string());
        }
        if let Some([map, log_density]) = npy {
            self.write_npy(prediction, &map, &log_density)?;
            record.npy = Some(map.display().to_string());
            record.log_density = Some(log_density.display().to_string());
        }
        Ok(record)
    }

    fn write_npy(&self, prediction: &Prediction, map: &Path, log_density: &Path) -> Result<()> {
        let shape = (prediction.height() as usize, prediction.width() as usize);
        let values = ndarray::Array2::from_shape_vec(shape, prediction.saliency.as_raw().clone())
            .expect("h × w values");
        self.out.save(map, |w| {
            Ok(ndarray_npy::WriteNpyExt::write_npy(&values, w)?)
        })?;
        let logs: Vec<f64> = prediction.density().into_iter().map(f64::ln).collect();
        let logs = ndarray::Array2::from_shape_vec(shape, logs).expect("h × w values");
        self.out.save(log_density, |w| {
            Ok(ndarray_npy::WriteNpyExt::write_npy(&logs, w)?)
        })
    }
}
