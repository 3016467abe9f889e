//! `absnet-bench predict`: the product's own prediction — decode, fit, forward (mirror-averaged
//! when the model's card says so), maps back to each photo — over a folder of photos, against
//! the same model file rebuilt in PyTorch and run in PyTorch eager and ONNX Runtime
//! (scripts/reference/bench_shipped.py), whose outputs are first checked against absnet's. With
//! `--quality-only`, the quality score alone (`absnet predict --quality-only`: the encoder and the
//! quality head, no map) on both sides.

use std::path::{Path, PathBuf};
use std::time::Instant;

use absnet_data::pipeline::{self, Fit};
use absnet_model::Engine;
use absnet_predict::{ModelChoice, Predictor, PredictorOptions, QualityScorer};
use anyhow::{Context, Result};
use burn::tensor::Device;
use rayon::prelude::*;

use crate::{reference_json, threads};

#[derive(clap::Args)]
pub struct PredictBenchArgs {
    /// The model: `fast`, `accurate` (built in) or a model file.
    #[arg(long, default_value = "fast")]
    model: ModelChoice,
    #[arg(long, default_value = "../shared/data/osie/data/stimuli")]
    images: PathBuf,
    #[arg(long, default_value_t = 700)]
    count: usize,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// absnet's convolutions on the CPU: `channels-last` (the product's) or `flex` (burn's own,
    /// to compare).
    #[arg(long, default_value_t = Engine::default())]
    engine: Engine,
    /// Score picture quality alone, as `absnet predict --quality-only`: the encoder and the
    /// quality head, no map (a model trained for quality alone, such as `quality`, needs it).
    #[arg(long)]
    quality_only: bool,
    /// Average each photo's prediction with its mirror image's: `on` or `off` (default: as the
    /// model card says). Not with `--reference`, whose scripts follow the card.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new(), conflicts_with = "reference")]
    flip_average: Option<bool>,
    /// The photo whose prediction the references must reproduce (fitted to the model's input
    /// size first, so every side sees the same pixels).
    #[arg(long, default_value = "samples/chelsea.png")]
    check: PathBuf,
    /// Python with torch and onnxruntime (scripts/reference/setup.sh makes
    /// `.venv-ref/bin/python`): also run the same model in PyTorch eager and ONNX Runtime.
    #[arg(long)]
    reference: Option<PathBuf>,
}

/// What is timed: the whole prediction, or the quality score alone.
enum Timed {
    Predictor(Predictor),
    Quality(QualityScorer),
}

impl Timed {
    fn card(&self) -> &absnet_model::ModelCard {
        match self {
            Timed::Predictor(p) => p.card(),
            Timed::Quality(q) => q.card(),
        }
    }

    fn input_size(&self) -> [u32; 2] {
        match self {
            Timed::Predictor(p) => p.input_size(),
            Timed::Quality(q) => q.input_size(),
        }
    }

    fn flip_average(&self) -> bool {
        match self {
            Timed::Predictor(p) => p.flip_average(),
            Timed::Quality(q) => q.flip_average(),
        }
    }

    fn run(&self, photos: &[&image::RgbImage]) {
        match self {
            Timed::Predictor(p) => drop(p.predict_batch(photos)),
            Timed::Quality(q) => drop(q.quality_batch(photos)),
        }
    }
}

pub fn run(args: &PredictBenchArgs, device: &Device) -> Result<()> {
    let options = PredictorOptions {
        engine: args.engine,
        flip_average: args.flip_average,
        ..PredictorOptions::default()
    };
    let timed = if args.quality_only {
        Timed::Quality(QualityScorer::load(&args.model, &options, device)?)
    } else {
        Timed::Predictor(Predictor::load(&args.model, &options, device)?)
    };
    let [w, h] = timed.input_size();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.images)
        .with_context(|| format!("reading {}", args.images.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files.truncate(args.count);
    // One pass at the input size before timing, as the reference scripts do: the first call's
    // set-up (thread pool, buffers) is not a photo's cost.
    timed.run(&[&image::RgbImage::new(w, h)]);
    let start = Instant::now();
    for chunk in files.chunks(args.batch.max(1)) {
        let photos: Vec<image::RgbImage> = chunk
            .par_iter()
            .map(|path| pipeline::decode_file(path, pipeline::DEFAULT_MAX_PIXELS))
            .collect::<Result<_, _>>()?;
        let photos: Vec<&image::RgbImage> = photos.iter().collect();
        timed.run(&photos);
    }
    let ours = files.len() as f64 / start.elapsed().as_secs_f64();
    println!(
        "{} ({}){} on {} photos from {} at {w}×{h}, batch {}, {} engine, {} mirror averaging, {} threads",
        args.model,
        timed.card().config.backbone.arch,
        if args.quality_only {
            ", quality only"
        } else {
            ""
        },
        files.len(),
        args.images.display(),
        args.batch,
        args.engine,
        if timed.flip_average() {
            "with"
        } else {
            "without"
        },
        threads()
    );
    println!("absnet        {ours:>8.2} photos/s");
    let Some(python) = &args.reference else {
        return Ok(());
    };
    let work = tempfile::tempdir().context("a temporary folder for the reference's inputs")?;
    let model_file = match &args.model {
        ModelChoice::Shipped(model) => {
            let path = work.path().join("model.safetensors");
            std::fs::write(&path, model.bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            path
        }
        ModelChoice::File(path) => path.clone(),
    };
    let check = check_files(&timed, &args.check, work.path())?;
    let mut reference_args = vec![
        "--model".to_string(),
        model_file.display().to_string(),
        "--images".into(),
        args.images.display().to_string(),
        "--count".into(),
        args.count.to_string(),
        "--batch".into(),
        args.batch.to_string(),
        "--threads".into(),
        threads().to_string(),
        "--check-png".into(),
        check.png.display().to_string(),
    ];
    if let Some(map) = check.map {
        reference_args.extend(["--check-map".into(), map.display().to_string()]);
    }
    if let Some(quality) = check.quality {
        reference_args.extend(["--check-quality".into(), quality]);
    }
    if args.quality_only {
        reference_args.push("--quality-only".into());
    }
    let theirs = reference_json(python, "bench_shipped.py", &reference_args)?;
    for (label, key) in [("PyTorch", "torch"), ("ONNX Runtime", "onnxruntime")] {
        let rate = theirs[format!("{key}_images_per_second")]
            .as_f64()
            .with_context(|| format!("bench_shipped.py printed no {key} rate"))?;
        let diff = &theirs[format!("{key}_max_abs_diff")];
        let differences: Vec<String> = ["map", "quality"]
            .into_iter()
            .filter_map(|output| Some(format!("{output} |Δ| ≤ {:.1e}", diff[output].as_f64()?)))
            .collect();
        println!(
            "{label:<13} {rate:>8.2} photos/s  absnet {:.2}×  (outputs vs absnet's: {}; {} {})",
            ours / rate,
            differences.join(", "),
            key,
            theirs[key].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}

/// The check photo fitted to the model input, absnet's map of it (`.npy`; none when quality
/// alone is timed) and its quality distribution (a JSON list), for the reference to compare with.
struct CheckFiles {
    png: PathBuf,
    map: Option<PathBuf>,
    quality: Option<String>,
}

fn check_files(timed: &Timed, photo: &Path, work: &Path) -> Result<CheckFiles> {
    let decoded = pipeline::decode_file(photo, pipeline::DEFAULT_MAX_PIXELS)?;
    let [w, h] = timed.input_size();
    let (fitted, _) = pipeline::fit(&decoded, [w, h], Fit::Resize);
    let png = work.join("check.png");
    fitted
        .save(&png)
        .with_context(|| format!("writing {}", png.display()))?;
    let (map, quality) = match timed {
        Timed::Quality(scorer) => (None, scorer.quality_batch(&[&fitted]).pop()),
        Timed::Predictor(predictor) => {
            let prediction = predictor
                .predict_batch(&[&fitted])
                .pop()
                .context("one prediction for one photo")?;
            let map = work.join("check.npy");
            let values = ndarray::Array2::from_shape_vec(
                (h as usize, w as usize),
                prediction.saliency.into_raw(),
            )?;
            ndarray_npy::write_npy(&map, &values)
                .with_context(|| format!("writing {}", map.display()))?;
            (Some(map), prediction.quality)
        }
    };
    let quality = quality
        .map(|q| serde_json::to_string(&q.distribution))
        .transpose()?;
    Ok(CheckFiles { png, map, quality })
}
