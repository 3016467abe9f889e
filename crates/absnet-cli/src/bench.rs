//! `absnet bench`: ABSNet inference time, and, with `--reference PYTHON`, the same model with the
//! same weights in PyTorch eager (scripts/reference/bench_torch.py) measured in the same run on
//! the same thread count, with the ratio.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use absnet_model::{AbsNet, AbsNetConfig, Arch, BackboneConfig};
use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Distribution, Tensor};

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "mobilenet_v2")]
    arch: Arch,
    #[arg(long, default_value_t = 320)]
    height: usize,
    #[arg(long, default_value_t = 480)]
    width: usize,
    /// Batch sizes to time.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    batch: Vec<usize>,
    /// Timed repetitions per batch size (the median is reported).
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// Keep BatchNorm as a separate op instead of folding it into the convolutions.
    #[arg(long)]
    no_fold: bool,
    /// Python with torch + torchvision: also time PyTorch eager on the same model.
    #[arg(long)]
    reference: Option<PathBuf>,
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Median milliseconds per image of `model` at batch `batch`.
fn time_absnet(model: &AbsNet, args: &BenchArgs, batch: usize, device: &Device) -> f64 {
    let x = Tensor::<4>::random(
        [batch, 3, args.height, args.width],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let run = || {
        let out = model.forward(x.clone());
        // Reading the result back waits for the computation, on every backend.
        let _ = out.saliency.map(|s| s.into_data());
        let _ = out.aesthetics.map(|a| a.into_data());
    };
    run();
    run();
    let samples = (0..args.repeats)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1e3 / batch as f64
        })
        .collect();
    median(samples)
}

fn time_torch(python: &PathBuf, args: &BenchArgs, batch: usize, threads: usize) -> Result<f64> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/reference/bench_torch.py");
    let output = Command::new(python)
        .arg(&script)
        .args(["--height", &args.height.to_string()])
        .args(["--width", &args.width.to_string()])
        .args(["--batch", &batch.to_string()])
        .args(["--repeats", &args.repeats.to_string()])
        .args(["--threads", &threads.to_string()])
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
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .with_context(|| format!("{} printed `{text}`, expected JSON", script.display()))?;
    value["ms_per_image"]
        .as_f64()
        .context("bench_torch.py output has no ms_per_image")
}

pub fn run(args: &BenchArgs, device: &Device) -> Result<()> {
    let config = AbsNetConfig::reference(BackboneConfig::new(args.arch));
    let mut model = AbsNet::new(&config, device)?;
    if !args.no_fold {
        model = model.fold_norms();
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(threads);
    println!(
        "ABSNet-{} (output stride 8, both heads) at {}×{}, {threads} threads, median of {}",
        args.arch, args.height, args.width, args.repeats
    );
    println!("{:>6} {:>14} {:>14} {:>10}", "batch", "absnet ms/img", "torch ms/img", "speed-up");
    for &batch in &args.batch {
        let ours = time_absnet(&model, args, batch, device);
        let torch = match &args.reference {
            Some(python) => Some(time_torch(python, args, batch, threads)?),
            None => None,
        };
        match torch {
            Some(torch) => println!(
                "{batch:>6} {ours:>14.1} {torch:>14.1} {:>9.2}×",
                torch / ours
            ),
            None => println!("{batch:>6} {ours:>14.1} {:>14} {:>10}", "-", "-"),
        }
    }
    Ok(())
}
