//! `absnet crop`: for each photo and aspect ratio, the crop window that keeps what people look
//! at, chosen from the whole saliency map ([`absnet_predict::crop`]); records in `crops.jsonl`
//! and `crops.csv`, and the cropped images on request.

use std::collections::HashSet;
use std::path::PathBuf;

use absnet_predict::crop::{self, Aspect, CropError, CropOptions, SmartcropResult};
use absnet_predict::record::{CropEntry, CropLine, CropRecord};
use absnet_predict::{Prediction, Predictor};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use image::RgbImage;
use image::imageops::{self, FilterType};

use crate::args::{ModelInputArgs, RunArgs, load_predictor};
use crate::batch::{self, BatchRun, PhotoWriter, Written};
use crate::inputs::Source;
use crate::output::{Done, Existing, OutputFolder};
use crate::ranges;

#[derive(clap::Args)]
pub struct CropArgs {
    /// Image files, folders of images, or `-` for an image on standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Aspect ratios of the crops, WIDTH:HEIGHT, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1:1,16:9,9:16",
        conflicts_with = "size"
    )]
    aspects: Vec<Aspect>,
    /// Each window's side as a share of the largest window of its aspect, in (0, 1].
    #[arg(long, default_value_t = 1.0, value_parser = ranges::share)]
    scale: f64,
    /// An exact output size WIDTHxHEIGHT instead of aspect ratios: the window of its aspect is
    /// cropped, then resized to it (implies --write-images).
    #[arg(long, value_parser = ranges::size)]
    size: Option<[u32; 2]>,
    /// With --size: enlarge a window smaller than the size instead of refusing the image.
    #[arg(long, requires = "size")]
    upscale: bool,
    /// Penalty for saliency the window's border cuts through (0: none; `absnet-bench crop`
    /// measures what it costs in fixations kept).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    border_penalty: f64,
    /// Also write each crop as `NAME.WxH.jpg` (e.g. `photo.16x9.jpg`).
    #[arg(long)]
    write_images: bool,
    /// Output folder.
    #[arg(long, default_value = "crops")]
    out: PathBuf,
    /// What each image prints on standard output: `text`, or `smartcrop` — one JSON line in
    /// smartcrop.js's answer shape (`{"image", "topCrop", "crops"}`; topCrop is the first
    /// aspect's window). The records in the output folder are the same either way.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    model_input: ModelInputArgs,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Smartcrop,
}

/// One image's line in `--format smartcrop`.
#[derive(serde::Serialize)]
struct SmartcropLine {
    image: String,
    #[serde(flatten)]
    result: SmartcropResult,
}

impl Done for CropLine {
    fn done(&self) -> Option<&str> {
        match self {
            CropLine::Cropped(record) => Some(&record.image),
            CropLine::Failed(_) => None,
        }
    }
}

pub fn run(args: &CropArgs, device: &Device) -> Result<()> {
    let predictor = load_predictor(&args.model_input, None, device)?;
    crop::distinct_aspects(&args.aspects).context("--aspects")?;
    let existing = Existing::from_flags(args.run.resume, args.run.overwrite);
    let (out, done) =
        OutputFolder::open::<CropLine>(&args.out, "crops", &CropRecord::CSV_HEADER, existing)?;
    let aspects = match args.size {
        Some(size) => vec![Aspect::of_size(size)],
        None => args.aspects.clone(),
    };
    let model = predictor.path().display().to_string();
    let writer = Writer {
        args,
        predictor: &predictor,
        out: &out,
        aspects,
        model: model.clone(),
        inputs: batch::input_paths(&args.inputs),
    };
    let run = BatchRun {
        model,
        out: &out,
        input: &args.model_input,
        run: &args.run,
        columns: CropRecord::CSV_HEADER.len(),
    };
    let tally = run.run(&args.inputs, &done, &writer)?;
    let summary = format!(
        "{} images cropped, {} failed, {} already done{}; records in {} and {}",
        tally.done,
        tally.failed,
        tally.skipped,
        tally.passed_over_note(),
        out.jsonl().display(),
        out.csv().display()
    );
    match args.format {
        Format::Text => println!("{summary}"),
        // Standard output holds the JSON lines alone.
        Format::Smartcrop => eprintln!("{summary}"),
    }
    if tally.failed > 0 {
        bail!(
            "{} of {} inputs failed",
            tally.failed,
            tally.done + tally.failed
        );
    }
    Ok(())
}

struct Writer<'a> {
    args: &'a CropArgs,
    predictor: &'a Predictor,
    out: &'a OutputFolder,
    aspects: Vec<Aspect>,
    model: String,
    inputs: HashSet<PathBuf>,
}

impl PhotoWriter for Writer<'_> {
    type Predicted = Prediction;

    fn predict(&self, photos: &[&RgbImage]) -> Result<Vec<Prediction>> {
        Ok(self.predictor.predict_batch(photos))
    }

    fn write(&self, source: &Source, photo: &RgbImage, prediction: &Prediction) -> Result<Written> {
        let windows = crop::crop(
            &prediction.saliency,
            &self.aspects,
            self.args.scale,
            &CropOptions {
                border_penalty: self.args.border_penalty,
                ..CropOptions::default()
            },
        )?;
        let smartcrop = SmartcropResult::new(&windows);
        let mut crops = Vec::new();
        for (&aspect, chosen) in self.aspects.iter().zip(windows) {
            let w = chosen.window;
            let file = if self.args.write_images || self.args.size.is_some() {
                Some(self.write_image(source, photo, aspect, w)?)
            } else {
                None
            };
            crops.push(CropEntry {
                aspect: aspect.to_string(),
                x: w.x,
                y: w.y,
                width: w.width,
                height: w.height,
                score: chosen.score,
                file: file.map(|f| f.display().to_string()),
            });
        }
        let record = CropRecord {
            image: source.name(),
            width: photo.width(),
            height: photo.height(),
            model: self.model.clone(),
            crops,
            ms: prediction.ms,
        };
        let announcement = match (self.args.format, smartcrop) {
            (Format::Smartcrop, Some(result)) => serde_json::to_string(&SmartcropLine {
                image: source.name(),
                result,
            })?,
            _ => {
                let windows = record
                    .crops
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {}×{} at ({}, {})",
                            c.aspect, c.width, c.height, c.x, c.y
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("{}: {windows}", source.name())
            }
        };
        Ok(Written {
            json_line: record.to_json_line(),
            csv_rows: record.csv_rows().into_iter().map(|r| r.to_vec()).collect(),
            announcement,
        })
    }

    fn announces_every_input(&self) -> bool {
        self.args.format == Format::Smartcrop
    }
}

impl Writer<'_> {
    /// The crop as `NAME.WxH.jpg`, resized to --size when given.
    fn write_image(
        &self,
        source: &Source,
        photo: &RgbImage,
        aspect: Aspect,
        w: crop::Window,
    ) -> Result<PathBuf> {
        let mut cropped = imageops::crop_imm(photo, w.x, w.y, w.width, w.height).to_image();
        let name = match self.args.size {
            Some([width, height]) => {
                if (width > w.width || height > w.height) && !self.args.upscale {
                    return Err(CropError::Upscale {
                        requested_width: width,
                        requested_height: height,
                        width: w.width,
                        height: w.height,
                    }
                    .into());
                }
                cropped = imageops::resize(&cropped, width, height, FilterType::Lanczos3);
                format!("{width}x{height}")
            }
            None => format!("{}x{}", aspect.width, aspect.height),
        };
        let path = self.args.out.join(format!("{}.{name}.jpg", source.stem()));
        batch::refuse_inputs([&path], &self.inputs)?;
        self.out.save(
            &path,
            |w| Ok(cropped.write_to(w, image::ImageFormat::Jpeg)?),
        )?;
        Ok(path)
    }
}

fn non_negative(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{text}`: expected a finite number ≥ 0"))
}
