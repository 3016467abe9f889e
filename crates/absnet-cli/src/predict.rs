//! `absnet predict`: saliency maps (and aesthetics, where the model has a trained head) for
//! photos, written next to nothing the user gave us: everything goes to `--out`.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use absnet_data::pipeline::{self, Fit};
use absnet_data::render::{self, Colormap};
use absnet_model::card;
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use image::RgbImage;
use rayon::prelude::*;
use serde_json::json;

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Image files, folders of images, or `-` for an image on standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Model file (safetensors with its card).
    #[arg(long, default_value = "models/default/model.safetensors")]
    model: PathBuf,
    /// Output folder.
    #[arg(long, default_value = "predictions")]
    out: PathBuf,
    /// Model input WIDTHxHEIGHT (default: the size the model was trained at).
    #[arg(long, value_parser = crate::parse_size)]
    size: Option<[u32; 2]>,
    /// How photos are fitted to the input: `resize` (stretch) or `letterbox`.
    #[arg(long, default_value = "resize")]
    fit: FitArg,
    #[arg(long, default_value = "jet")]
    colormap: ColormapArg,
    /// Heatmap opacity over the photo, 0–1.
    #[arg(long, default_value_t = 0.5)]
    opacity: f32,
    /// Overlay file format.
    #[arg(long, default_value = "jpg")]
    overlay_format: OverlayFormat,
    /// Peaks to report per image.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Images per forward pass.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Skip images whose outputs already exist.
    #[arg(long)]
    resume: bool,
    /// Refuse images over this many pixels.
    #[arg(long, default_value_t = pipeline::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FitArg {
    Resize,
    Letterbox,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ColormapArg {
    Jet,
    Hot,
    Gray,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OverlayFormat {
    Png,
    Jpg,
}

/// An input: a file, or standard input.
enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".into(),
        }
    }
    fn stem(&self) -> String {
        match self {
            Source::File(p) => p
                .file_stem()
                .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned()),
            Source::Stdin => "stdin".into(),
        }
    }
}

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "gif"];

fn collect_sources(inputs: &[PathBuf]) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            sources.push(Source::Stdin);
        } else if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("reading folder {}", input.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            files.sort();
            sources.extend(files.into_iter().map(Source::File));
        } else if let Some(matches) = expand_pattern(input)? {
            sources.extend(matches.into_iter().map(Source::File));
        } else {
            // Missing files are reported per image, with the others still processed.
            sources.push(Source::File(input.clone()));
        }
    }
    Ok(sources)
}

/// A quoted pattern such as `photos/*.jpg` (wildcards `*` and `?` in the file name only), for
/// shells that pass it through unexpanded: the matching files, sorted; `None` if `input` has no
/// wildcard.
fn expand_pattern(input: &Path) -> Result<Option<Vec<PathBuf>>> {
    let Some(name) = input.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    if !name.contains(['*', '?']) {
        return Ok(None);
    }
    let dir = match input.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut matches: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading folder {} for the pattern {name}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| wildcard(name.as_bytes(), e.file_name().to_string_lossy().as_bytes()))
        .map(|e| e.path())
        .collect();
    matches.sort();
    if matches.is_empty() {
        bail!("{}: no file matches", input.display());
    }
    Ok(Some(matches))
}

/// `*` matches any run of characters, `?` any one.
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

fn decode(source: &Source, max_pixels: u64) -> Result<RgbImage> {
    match source {
        Source::File(path) => Ok(pipeline::decode_file(path, max_pixels)?),
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            Ok(pipeline::decode_bytes(
                &bytes,
                Path::new("<stdin>"),
                max_pixels,
            )?)
        }
    }
}

pub fn run(args: &PredictArgs, device: &Device) -> Result<()> {
    let (model, card) = card::load_model(&args.model, device)
        .context("loading the model (run scripts/setup.sh, or pass --model)")?;
    let model = model.fold_norms();
    if model.saliency.is_none() || !card.is_trained("saliency") {
        bail!(
            "{}: this model has no trained saliency head",
            args.model.display()
        );
    }
    let aesthetics_trained = model.aesthetics.is_some() && card.is_trained("aesthetics");
    if !aesthetics_trained {
        eprintln!(
            "note: {} has no trained aesthetics head, so no aesthetic scores are given; to train one, \
             add [model.heads.aesthetics] and an [aesthetics] task on AVA (`ava:DIR` or \
             `ava-json:FILE`) to a config (see `absnet train --print-default-config`) and run \
             `absnet train CONFIG --run DIR`, then `absnet export DIR -o MODEL`",
            args.model.display()
        );
    }
    let size = args.size.or(card.input).unwrap_or([320, 240]);
    let fit = match args.fit {
        FitArg::Resize => Fit::Resize,
        FitArg::Letterbox => Fit::Letterbox,
    };
    let colormap = match args.colormap {
        ColormapArg::Jet => Colormap::Jet,
        ColormapArg::Hot => Colormap::Hot,
        ColormapArg::Gray => Colormap::Gray,
    };
    let overlay_extension = match args.overlay_format {
        OverlayFormat::Png => "png",
        OverlayFormat::Jpg => "jpg",
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let sources = collect_sources(&args.inputs)?;
    let inputs: HashSet<PathBuf> = sources
        .iter()
        .filter_map(|s| match s {
            Source::File(p) => p.canonicalize().ok(),
            Source::Stdin => None,
        })
        .collect();
    let mut stems = HashSet::new();
    for source in &sources {
        if !stems.insert(source.stem()) {
            bail!(
                "two inputs are named `{}`: their outputs in {} would collide",
                source.stem(),
                args.out.display()
            );
        }
    }
    let outputs = |source: &Source| {
        let stem = source.stem();
        (
            args.out.join(format!("{stem}.saliency.png")),
            args.out.join(format!("{stem}.overlay.{overlay_extension}")),
        )
    };
    let summary_path = args.out.join("summary.jsonl");
    let mut summary = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&summary_path)
        .with_context(|| format!("opening {}", summary_path.display()))?;
    let table_path = args.out.join("summary.csv");
    let mut table = CsvSummary::open(&table_path)?;
    let todo: Vec<&Source> = sources
        .iter()
        .filter(|s| {
            let (map, overlay) = outputs(s);
            !(args.resume && map.exists() && overlay.exists())
        })
        .collect();
    let skipped = sources.len() - todo.len();
    let bar = indicatif::ProgressBar::new(todo.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images, ETA {eta}")
            .expect("valid template"),
    );
    let normalization = card.config.backbone.arch.normalization();
    let mut failed = 0;
    for chunk in todo.chunks(args.batch.max(1)) {
        let start = Instant::now();
        let decoded: Vec<Result<RgbImage>> = chunk
            .par_iter()
            .map(|s| decode(s, args.max_pixels))
            .collect();
        let mut ready = Vec::new();
        for (source, image) in chunk.iter().zip(decoded) {
            match image {
                Ok(image) => {
                    let (input, placement) = pipeline::fit(&image, size, fit);
                    ready.push((*source, image, input, placement));
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {e:#}"));
                    failed += 1;
                    bar.inc(1);
                }
            }
        }
        if ready.is_empty() {
            continue;
        }
        let images: Vec<&[u8]> = ready
            .iter()
            .map(|(_, _, input, _)| input.as_raw().as_slice())
            .collect();
        let x = normalization.batch(&images, size[1] as usize, size[0] as usize, device);
        let out = model.forward_parallel(x);
        let maps: Vec<f32> = out
            .saliency
            .expect("checked above")
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 maps");
        let distributions: Option<Vec<f32>> =
            out.aesthetics.filter(|_| aesthetics_trained).map(|a| {
                a.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .expect("f32")
            });
        let per_image_ms = start.elapsed().as_secs_f64() * 1e3 / ready.len() as f64;
        let plane = (size[0] * size[1]) as usize;
        for (i, (source, photo, _, placement)) in ready.iter().enumerate() {
            let result = (|| -> Result<serde_json::Value> {
                let map = render::normalised(&pipeline::map_to_original(
                    &maps[i * plane..(i + 1) * plane],
                    placement,
                ));
                let (map_path, overlay_path) = outputs(source);
                for path in [&map_path, &overlay_path] {
                    if path.canonicalize().is_ok_and(|p| inputs.contains(&p)) {
                        bail!(
                            "{} is one of the inputs; refusing to overwrite it",
                            path.display()
                        );
                    }
                }
                save_atomically(&map_path, |tmp| {
                    render::gray8(&map).save_with_format(tmp, image::ImageFormat::Png)
                })?;
                let overlay = render::overlay(photo, &map, colormap, args.opacity);
                let format = if overlay_extension == "png" {
                    image::ImageFormat::Png
                } else {
                    image::ImageFormat::Jpeg
                };
                save_atomically(&overlay_path, |tmp| overlay.save_with_format(tmp, format))?;
                let diagonal = f64::from(photo.width()).hypot(f64::from(photo.height())) as f32;
                let peaks = render::peaks(&map, args.top_k, 0.05 * diagonal);
                let aesthetics = distributions.as_ref().map(|d| {
                    let bins: Vec<f64> = d[i * 10..(i + 1) * 10]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect();
                    json!({
                        "distribution": bins,
                        "mean": absnet_metrics::aesthetics::mean_score(&bins).ok(),
                        "std": absnet_metrics::aesthetics::score_std(&bins).ok(),
                    })
                });
                Ok(json!({
                    "image": source.name(),
                    "width": photo.width(),
                    "height": photo.height(),
                    "model": args.model.display().to_string(),
                    "saliency": map_path.display().to_string(),
                    "overlay": overlay_path.display().to_string(),
                    "peaks": peaks,
                    "aesthetics": aesthetics,
                    "ms": per_image_ms,
                }))
            })();
            match result {
                Ok(record) => {
                    writeln!(summary, "{record}")
                        .with_context(|| format!("writing {}", summary_path.display()))?;
                    table
                        .write(&record)
                        .with_context(|| format!("writing {}", table_path.display()))?;
                    if sources.len() == 1 {
                        bar.suspend(|| {
                            println!(
                                "{}: heatmap {}",
                                source.name(),
                                record["overlay"].as_str().unwrap_or_default()
                            )
                        });
                    }
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {}: {e:#}", source.name()));
                    failed += 1;
                }
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let done = todo.len() - failed;
    println!(
        "{done} images done, {failed} failed, {skipped} already done; maps and overlays in {}, records in {} and {}",
        args.out.display(),
        summary_path.display(),
        table_path.display()
    );
    if failed > 0 {
        bail!("{failed} of {} images failed", todo.len());
    }
    Ok(())
}

/// `summary.csv`: one row per image — the JSONL record's scalars and its strongest peak —
/// appended, with the header written when the file is new.
struct CsvSummary {
    writer: csv::Writer<std::fs::File>,
}

impl CsvSummary {
    const HEADER: [&'static str; 11] = [
        "image",
        "width",
        "height",
        "peak_x",
        "peak_y",
        "peak_value",
        "aesthetic_mean",
        "aesthetic_std",
        "saliency",
        "overlay",
        "ms",
    ];

    fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let new = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
        let mut writer = csv::Writer::from_writer(file);
        if new {
            writer
                .write_record(Self::HEADER)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(Self { writer })
    }

    fn write(&mut self, record: &serde_json::Value) -> Result<()> {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let peak = &record["peaks"][0];
        let aesthetics = &record["aesthetics"];
        let row = [
            &record["image"],
            &record["width"],
            &record["height"],
            &peak["x"],
            &peak["y"],
            &peak["value"],
            &aesthetics["mean"],
            &aesthetics["std"],
            &record["saliency"],
            &record["overlay"],
            &record["ms"],
        ]
        .map(text);
        self.writer.write_record(row)?;
        self.writer.flush()?;
        Ok(())
    }
}

/// Writes through a temporary file in the same folder and renames it into place.
fn save_atomically(path: &Path, write: impl FnOnce(&Path) -> image::ImageResult<()>) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    write(&tmp).with_context(|| format!("writing {}", path.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
