//! `absnet-bench`: absnet against the Python references, measured side by side in one run on
//! the same thread count — the lab's tool, kept out of the `absnet` product binary. `bench model`: ABSNet inference vs the same model in PyTorch eager and
//! ONNX Runtime (scripts/reference/bench_torch.py). `bench metrics`: every saliency metric over a dataset vs
//! pysaliency doing the same work (scripts/reference/bench_metrics.py). `bench train`: one
//! multi-task training step with an optimizer per group vs PyTorch
//! (scripts/reference/bench_torch_train.py). `bench predict`: the product's prediction with a
//! shipped model vs the same model file in PyTorch eager and ONNX Runtime
//! (scripts/reference/bench_shipped.py).

mod crop;
mod model;
mod predict;
mod serve;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use absnet::process::DeviceArgs;
use absnet_model::{AbsNetConfig, Arch, BackboneConfig};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "absnet-bench",
    version,
    about = "absnet's speed and crops next to the Python references, in one run"
)]
struct Cli {
    #[command(flatten)]
    device: DeviceArgs,
    /// The reference scripts (scripts/reference of the repository) that `--reference` runs.
    #[arg(long, global = true, default_value = "scripts/reference")]
    scripts: PathBuf,
    #[command(subcommand)]
    bench: Bench,
}

#[derive(clap::Subcommand)]
enum Bench {
    /// ABSNet inference (ms/image at batch 1 and 8) vs PyTorch eager and ONNX Runtime, with
    /// FLOPs, GFLOP/s and (`--profile`) the time per kind of operation.
    Model(model::ModelArgs),
    /// Saliency metrics over all OSIE images vs pysaliency.
    Metrics(MetricsArgs),
    /// One training step (forward through both heads, KLD + EMD, backward, Adam per group) vs
    /// the same step in PyTorch.
    Train(TrainArgs),
    /// Prediction throughput (decode, fit, forward, maps back) of a model over a folder of
    /// photos vs the same model file in PyTorch eager and ONNX Runtime, outputs checked.
    Predict(predict::PredictBenchArgs),
    /// Fixations kept by absnet's crops vs the centre crop, libvips, smartcrop2 and the best
    /// window in hindsight, on held-out images with real eye fixations.
    Crop(crop::CropBenchArgs),
    /// Requests/s, latency, errors and batch sizes of `absnet serve` under concurrent clients on
    /// loopback, with batching on and off, and under overload.
    Serve(serve::ServeBenchArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    #[arg(long, default_value_t = 320)]
    height: usize,
    #[arg(long, default_value_t = 480)]
    width: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// Python with torch + torchvision: also time PyTorch.
    #[arg(long)]
    reference: Option<PathBuf>,
}

#[derive(clap::Args)]
struct MetricsArgs {
    /// The OSIE dataset folder.
    #[arg(long, default_value = "../shared/data/osie")]
    osie: PathBuf,
    /// Python with pysaliency (scripts/reference/requirements.txt): also time pysaliency.
    #[arg(long)]
    reference: Option<PathBuf>,
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Where the reference scripts are (`--scripts`).
static SCRIPTS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Runs the reference script `script` with `python` and `args`, and reads `key` from the one
/// JSON object it prints.
fn reference_value(python: &Path, script: &str, args: &[String], key: &str) -> Result<f64> {
    let value = reference_json(python, script, args)?;
    value[key]
        .as_f64()
        .with_context(|| format!("{script} printed no `{key}`"))
}

/// The one JSON object the reference script `script` prints.
fn reference_json(python: &Path, script: &str, args: &[String]) -> Result<serde_json::Value> {
    let folder = SCRIPTS.get().expect("set in main");
    let script = folder.join(script);
    if !script.exists() {
        bail!(
            "{}: no such reference script; run absnet-bench from the repository's root or pass \
             --scripts with its scripts/reference folder",
            script.display()
        );
    }
    let output = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .with_context(|| format!("{} printed `{text}`, expected JSON", script.display()))
}

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn main() -> std::process::ExitCode {
    absnet::process::main(run)
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let device = &cli.device.set_up()?;
    SCRIPTS.set(cli.scripts).expect("set once");
    match &cli.bench {
        Bench::Model(args) => model::run(args, device),
        Bench::Metrics(args) => run_metrics(args),
        Bench::Predict(args) => predict::run(args, device),
        Bench::Train(args) => run_train(args, device),
        Bench::Crop(args) => crop::run(args, device),
        Bench::Serve(args) => serve::run(args, device),
    }
}

/// Peak resident memory of this process (VmHWM), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The engine's own training step (`Trainer::step`) with the joint schedule: a saliency batch
/// (KLD) and an aesthetics batch (EMD), each through its own head, equal balancing, one Adam
/// step per group (shared 1e-4, each head 1e-3), BatchNorm frozen.
fn run_train(args: &TrainArgs, device: &Device) -> Result<()> {
    use absnet_model::Head;
    use absnet_mtl::config::TrainConfig;
    use absnet_mtl::groups::LrSchedule;
    use absnet_mtl::losses::SaliencyLoss;
    use absnet_mtl::tasks::{Task, objective};
    use absnet_mtl::trainer::Trainer;

    let mut config = TrainConfig::default_saliency();
    config.model = AbsNetConfig::reference(BackboneConfig::new(Arch::MobilenetV2));
    config.input = [args.width as u32, args.height as u32];
    config.batch = args.batch;
    config.backbone_weights = None;
    if let Some(saliency) = &mut config.saliency {
        saliency.loss = SaliencyLoss {
            tv: 0.0,
            kld: 1.0,
            cc: 0.0,
            nss: 0.0,
            mse: 0.0,
            nll: 0.0,
        };
    }
    let tasks: Vec<Task> = [Head::Saliency, Head::Aesthetics]
        .into_iter()
        .map(|head| Task {
            head,
            train: Vec::new(),
            val: Vec::new(),
            weight: 1.0,
            objective: objective(head, &config),
        })
        .collect();
    let mut trainer = Trainer::new(&config, &tasks, device)?;
    let rates = config.groups.rates(0, 1, 0, &LrSchedule::Constant);
    let batches = || {
        vec![
            (0, synthetic_batch(&config, 1)),
            (1, synthetic_batch(&config, 2)),
        ]
    };
    let mut step = || {
        trainer
            .step(&tasks, batches(), &rates)
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    step()?;
    step()?;
    let mut samples = Vec::new();
    for _ in 0..args.repeats {
        let start = Instant::now();
        step()?;
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let ours = median(samples);
    let threads = threads();
    println!(
        "ABSNet-MobileNetV2 training step at {}×{}, a batch of {} per task (saliency, aesthetics), Adam per group, {threads} threads, median of {}",
        args.width, args.height, args.batch, args.repeats
    );
    let rss = peak_rss_mb().map_or_else(|| "-".into(), |m| format!("{m:.0} MB"));
    println!("absnet   {ours:>9.1} ms/step   peak RSS {rss}");
    if let Some(python) = &args.reference {
        print_torch_train(python, args, threads, ours)?;
    }
    Ok(())
}

/// The same training step timed in PyTorch, printed beside absnet's.
fn print_torch_train(python: &Path, args: &TrainArgs, threads: usize, ours: f64) -> Result<()> {
    let reference_args = [
        "--height",
        &args.height.to_string(),
        "--width",
        &args.width.to_string(),
        "--batch",
        &args.batch.to_string(),
        "--repeats",
        &args.repeats.to_string(),
        "--threads",
        &threads.to_string(),
    ]
    .map(String::from);
    let reference = reference_json(python, "bench_torch_train.py", &reference_args)?;
    let theirs = reference["ms_per_step"]
        .as_f64()
        .context("bench_torch_train.py printed no `ms_per_step`")?;
    let their_rss = reference["max_rss_mb"]
        .as_f64()
        .map_or_else(|| "-".into(), |m| format!("{m:.0} MB"));
    println!("PyTorch  {theirs:>9.1} ms/step   peak RSS {their_rss}");
    println!("speed-up {:>9.2}×", theirs / ours);
    Ok(())
}

/// A batch of seeded random examples at the config's input size: images, a normalised random
/// density, a few fixations and random vote counts.
fn synthetic_batch(
    config: &absnet_mtl::config::TrainConfig,
    seed: u64,
) -> Vec<absnet_data::loader::Example> {
    use absnet_data::pipeline::Placement;
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let [w, h] = config.input;
    let plane = (w * h) as usize;
    (0..config.batch)
        .map(|i| {
            let image = image::RgbImage::from_fn(w, h, |_, _| image::Rgb(rng.random()));
            let density: Vec<f32> = (0..plane).map(|_| rng.random::<f32>()).collect();
            let sum: f32 = density.iter().sum();
            let fixations = (0..10)
                .map(|_| absnet_data::GazePoint {
                    x: rng.random_range(0.0..f64::from(w)),
                    y: rng.random_range(0.0..f64::from(h)),
                    duration_ms: None,
                })
                .collect();
            absnet_data::loader::Example {
                id: format!("synthetic-{seed}-{i}"),
                image,
                fixations,
                density: Some(density.into_iter().map(|v| v / sum).collect()),
                votes: Some(std::array::from_fn(|_| rng.random_range(1..100))),
                opinion: None,
                placement: Placement {
                    original: [w, h],
                    input: [w, h],
                    offset: [0, 0],
                    content: [w, h],
                },
                flipped: false,
                draw: 0,
            }
        })
        .collect()
}

/// The work of scripts/reference/bench_metrics.py: for each OSIE image, a centre-bias
/// prediction scored with the ground-truth density (σ 24), NSS, CC, KLD, SIM, AUC-Judd, shuffled
/// AUC (the next 10 images' fixations) and IG; images in parallel.
fn run_metrics(args: &MetricsArgs) -> Result<()> {
    use absnet_data::density::{Border, density_map};
    use absnet_metrics::saliency::{
        self, AucJuddOptions, KldVariant, NssOptions, RocThresholds, SimVariant,
    };
    use absnet_metrics::{Duplicates, Fixation};
    use rayon::prelude::*;

    const W: usize = 800;
    const H: usize = 600;
    let samples = absnet_data::osie::load_dataset(&args.osie)?;
    let fixations: Vec<Vec<Fixation>> = samples
        .iter()
        .map(|s| {
            s.fixations()
                .filter(|f| f.x >= 0.0 && f.y >= 0.0 && f.x < W as f64 && f.y < H as f64)
                .map(|f| Fixation::new(f.x, f.y))
                .collect()
        })
        .collect();
    let (cx, cy, sx, sy) = (
        (W as f64 - 1.0) / 2.0,
        (H as f64 - 1.0) / 2.0,
        W as f64 / 6.0,
        H as f64 / 6.0,
    );
    let centre = ndarray::Array2::from_shape_fn((H, W), |(y, x)| {
        let (dx, dy) = (x as f64 - cx, y as f64 - cy);
        (-(dx * dx / (2.0 * sx * sx) + dy * dy / (2.0 * sy * sy))).exp()
    });
    let start = Instant::now();
    let checksum: f64 = (0..samples.len())
        .into_par_iter()
        .map(|i| -> Result<f64> {
            let fix = &fixations[i];
            let m = centre.view();
            let gt = density_map(W, H, fix.iter().map(|f| (f.x, f.y)), 24.0, Border::Zero)?;
            let others: Vec<f64> = (1..=10)
                .flat_map(|k| &fixations[(i + k) % samples.len()])
                .map(|f| centre[(f.y as usize, f.x as usize)])
                .collect();
            let positives: Vec<f64> = fix
                .iter()
                .map(|f| centre[(f.y as usize, f.x as usize)])
                .collect();
            Ok(saliency::nss(m, fix, NssOptions::PYSALIENCY)?
                + saliency::cc(m, gt.view())?
                + saliency::kld(m, gt.view(), KldVariant::Mit)?
                + saliency::sim(m, gt.view(), SimVariant::Pysaliency)?
                + saliency::auc_judd(m, fix, AucJuddOptions::default())?
                + saliency::roc_auc(&positives, &others, RocThresholds::All)?
                + saliency::information_gain(m, m, fix, Duplicates::Keep)?)
        })
        .sum::<Result<f64, _>>()?;
    let ours = start.elapsed().as_secs_f64();
    println!(
        "saliency metrics over {} OSIE images (density, NSS, CC, KLD, SIM, AUC-Judd, sAUC, IG), {} threads",
        samples.len(),
        threads()
    );
    println!("absnet     {ours:>8.2} s   (checksum {checksum:.6})");
    if let Some(python) = &args.reference {
        let theirs = reference_value(python, "bench_metrics.py", &[], "seconds")?;
        println!("pysaliency {theirs:>8.2} s");
        println!("speed-up   {:>8.1}×", theirs / ours);
    }
    Ok(())
}
