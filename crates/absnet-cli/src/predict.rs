//! `absnet predict`: saliency maps (and aesthetics, where the model has a trained head) for
//! photos, written next to nothing the user gave us: everything goes to `--out`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use absnet_data::pipeline::{self, Fit};
use absnet_predict::record::SummaryLine;
use absnet_predict::render::{self, Colormap};
use absnet_predict::{Prediction, Predictor, PredictorOptions, Record};
use anyhow::{Result, bail};
use burn::tensor::Device;
use image::RgbImage;

use crate::batch::{self, BatchRun, PhotoWriter, Written};
use crate::inputs::{self, Source};
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
    /// Peaks to report per image (0–100).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(0..=100))]
    top_k: u16,
    #[command(flatten)]
    run: RunArgs,
}

/// The model and how photos reach it: shared by `predict`, `crop` and `serve`.
#[derive(clap::Args)]
pub struct ModelInputArgs {
    /// Model file (safetensors with its card); default: the shipped model, built into absnet.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Model input WIDTHxHEIGHT (default: the size the model was trained at).
    #[arg(long, value_parser = ranges::input_size)]
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
    pub fn options(&self) -> PredictorOptions {
        PredictorOptions {
            size: self.size,
            fit: self.fit,
            flip_average: self.flip_average,
        }
    }
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

/// Loads the model `--model` names (the shipped one without it) and checks `--size` against the
/// pixel limit.
pub fn load_predictor(input: &ModelInputArgs, device: &Device) -> Result<Predictor> {
    let predictor = match &input.model {
        Some(path) => Predictor::load(path, &input.options(), device)?,
        None => Predictor::shipped(&input.options(), device)?,
    };
    if let Some(size) = input.size {
        ranges::check_pixels(size, input.max_pixels)?;
    }
    Ok(predictor)
}

pub fn run(args: &PredictArgs, device: &Device) -> Result<()> {
    let predictor = load_predictor(&args.model_input, device)?;
    if !predictor.has_aesthetics() {
        eprintln!(
            "note: {} has no trained aesthetics head, so no aesthetic scores are given; to train one, \
             add [model.heads.aesthetics] and an [aesthetics] task on AVA (`ava:DIR` or \
             `ava-json:FILE`) to a config (see `absnet train --print-default-config`) and run \
             `absnet train CONFIG --run DIR`, then `absnet export DIR -o MODEL`",
            predictor.path().display()
        );
    }
    let existing = Existing::from_flags(args.run.resume, args.run.overwrite);
    let (out, done) =
        OutputFolder::open::<SummaryLine>(&args.out, "summary", &Record::CSV_HEADER, existing)?;
    let writer = Writer {
        args,
        model: predictor.path().display().to_string(),
        out: &out,
        inputs: batch::input_paths(&args.inputs),
    };
    let run = BatchRun {
        predictor: &predictor,
        out: &out,
        input: &args.model_input,
        batch: usize::from(args.run.batch),
        columns: Record::CSV_HEADER.len(),
    };
    let tally = run.run(&args.inputs, &done, &writer)?;
    println!(
        "{} images done, {} failed, {} already done; maps and overlays in {}, records in {} and {}",
        tally.done,
        tally.failed,
        tally.skipped,
        args.out.display(),
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

/// Writes each prediction's maps and overlay.
struct Writer<'a> {
    args: &'a PredictArgs,
    model: String,
    out: &'a OutputFolder,
    inputs: HashSet<PathBuf>,
}

impl PhotoWriter for Writer<'_> {
    fn write(&self, source: &Source, photo: &RgbImage, prediction: &Prediction) -> Result<Written> {
        let record = self.files(source, photo, prediction)?;
        Ok(Written {
            json_line: record.to_json_line(),
            csv_rows: vec![record.csv_row().to_vec()],
            announcement: format!(
                "{}: heatmap {}",
                source.name(),
                record.overlay.as_deref().unwrap_or("not drawn")
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
