//! `absnet-bench model`: ABSNet inference in ms per image next to PyTorch eager and ONNX Runtime
//! running the same architecture (scripts/reference/bench_torch.py), with the convolutions'
//! FLOPs counted from the architecture, the GFLOP/s each side reaches, and, with `--profile`,
//! where absnet's time goes by kind of operation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use absnet_model::profile::{Profile, profile};
use absnet_model::{AbsNet, AbsNetConfig, Arch, BackboneConfig, Engine};
use absnet_predict::ModelChoice;
use anyhow::{Context, Result};
use burn::tensor::{Device, Distribution, Tensor};

use super::{median, reference_json, threads};

#[derive(clap::Args)]
pub struct ModelArgs {
    #[arg(long, default_value = "mobilenet_v2")]
    arch: Arch,
    /// Time this model (`fast`, `accurate` or a model file) instead of the reference
    /// architecture; PyTorch and ONNX Runtime run it through `absnet-bench predict --reference`.
    #[arg(long, conflicts_with_all = ["arch", "reference"])]
    model: Option<ModelChoice>,
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
    /// absnet's convolutions on the CPU: `channels-last` (the product's) or `flex` (burn's own,
    /// to compare). Without folding, Flex's.
    #[arg(long, default_value_t = Engine::default())]
    engine: Engine,
    /// Also print where absnet's time goes, per kind of operation, at each batch size.
    #[arg(long)]
    profile: bool,
    /// Python with torch, torchvision and onnxruntime (scripts/reference/requirements.txt):
    /// also time PyTorch eager and ONNX Runtime on the same model.
    #[arg(long)]
    reference: Option<PathBuf>,
}

/// The Python side's medians for one batch size.
struct Reference {
    torch_ms: f64,
    onnxruntime_ms: f64,
    flops: f64,
}

pub fn run(args: &ModelArgs, device: &Device) -> Result<()> {
    let (mut model, title) = match &args.model {
        Some(choice) => {
            let (model, card) = choice.load(device)?;
            let arch = card.config.backbone.arch;
            (model, format!("{choice} ({arch})"))
        }
        None => {
            let config = AbsNetConfig::reference(BackboneConfig::new(args.arch));
            let title = format!("ABSNet-{} (output stride 8, both heads)", args.arch);
            (AbsNet::new(&config, device)?, title)
        }
    };
    if !args.no_fold {
        model = model.fold_norms().with_engine(args.engine);
    }
    let threads = threads();
    let (_, counted) = profile(|| model.forward(input(args, 1, device)));
    let flops = counted.flops() as f64;
    println!(
        "{title} at {}×{}, {} engine, {threads} threads, median of {}",
        args.height,
        args.width,
        if args.no_fold {
            Engine::Flex
        } else {
            args.engine
        },
        args.repeats
    );
    println!(
        "convolutions and fully connected layers: {:.2} GFLOP per image (multiply-add = 2)",
        flops / 1e9
    );
    let peak = fma_peak_gflops();
    if let Some(peak) = peak {
        println!("this machine's FMA peak, measured on {threads} threads: {peak:.0} GFLOP/s");
    }
    println!(
        "{:>5} {:>11} {:>8} {:>11} {:>8} {:>11} {:>8} {:>10} {:>10}",
        "batch",
        "absnet ms",
        "GFLOP/s",
        "PyTorch ms",
        "GFLOP/s",
        "ORT ms",
        "GFLOP/s",
        "vs PyTorch",
        "vs ORT"
    );
    for &batch in &args.batch {
        let ours = time_absnet(&model, args, batch, device);
        let theirs = match &args.reference {
            Some(python) => Some(time_references(python, args, batch, threads)?),
            None => None,
        };
        print_row(batch, flops, ours, theirs.as_ref());
    }
    println!("(vs X: X's time over absnet's; above 1× absnet is faster)");
    if peak.is_some() {
        println!(
            "(GFLOP/s over the FMA peak is the share of the physical limit each side reaches)"
        );
    }
    if args.profile {
        for &batch in &args.batch {
            let profile = profile_absnet(&model, args, batch, device);
            print_profile(&profile, batch, args.repeats, peak);
        }
    }
    Ok(())
}

fn input(args: &ModelArgs, batch: usize, device: &Device) -> Tensor<4> {
    Tensor::random(
        [batch, 3, args.height, args.width],
        Distribution::Normal(0.0, 1.0),
        device,
    )
}

/// One row of the table: times, GFLOP/s and ratios at `batch`.
fn print_row(batch: usize, flops: f64, ours: f64, theirs: Option<&Reference>) {
    let gflops = |ms: f64| flops / ms / 1e6;
    print!("{batch:>5} {ours:>11.1} {:>8.0}", gflops(ours));
    let Some(theirs) = theirs else {
        let dash = "-";
        println!(" {dash:>11} {dash:>8} {dash:>11} {dash:>8} {dash:>10} {dash:>10}");
        return;
    };
    if (theirs.flops - flops).abs() > 0.01 * flops {
        eprintln!(
            "note: the reference counts {:.2} GFLOP per image, absnet {:.2}",
            theirs.flops / 1e9,
            flops / 1e9
        );
    }
    println!(
        " {:>11.1} {:>8.0} {:>11.1} {:>8.0} {:>9.2}× {:>9.2}×",
        theirs.torch_ms,
        gflops(theirs.torch_ms),
        theirs.onnxruntime_ms,
        gflops(theirs.onnxruntime_ms),
        theirs.torch_ms / ours,
        theirs.onnxruntime_ms / ours
    );
}

/// Median milliseconds per image of `model` at batch `batch`, through `forward_parallel` as
/// `absnet predict` runs it.
fn time_absnet(model: &AbsNet, args: &ModelArgs, batch: usize, device: &Device) -> f64 {
    let x = input(args, batch, device);
    let run = || {
        let out = model.forward_parallel(x.clone());
        // Reading the result back waits for the computation, on every backend.
        let _ = out.saliency.map(|s| s.into_data());
        let _ = out.aesthetics.map(|a| a.into_data());
    };
    run();
    run();
    let samples = (0..args.repeats)
        .map(|_| {
            let start = std::time::Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1e3 / batch as f64
        })
        .collect();
    median(samples)
}

/// Every repetition's profile of `forward` (one part: the profile follows the calling thread)
/// added up.
fn profile_absnet(model: &AbsNet, args: &ModelArgs, batch: usize, device: &Device) -> Profile {
    let x = input(args, batch, device);
    let _ = model.forward(x.clone());
    let mut sum = Profile::default();
    for _ in 0..args.repeats {
        let (out, run) = profile(|| {
            let out = model.forward(x.clone());
            let _ = out.saliency.as_ref().map(|s| s.to_data());
            out
        });
        drop(out);
        for (kind, stats) in run.kinds {
            let total = sum.kinds.entry(kind).or_default();
            total.calls += stats.calls;
            total.flops += stats.flops;
            total.time += stats.time;
        }
        sum.total += run.total;
    }
    sum
}

/// `profile` covers `repeats` forward passes of `batch` images; `peak`: the FMA peak in
/// GFLOP/s, for each kind's share of it.
fn print_profile(profile: &Profile, batch: usize, repeats: usize, peak: Option<f64>) {
    let images = (batch * repeats) as f64;
    let ms = |time: Duration| time.as_secs_f64() * 1e3 / images;
    let total = ms(profile.total);
    println!("\nwhere the time goes at batch {batch} (`forward`, ms per image):");
    println!(
        "{:<30} {:>6} {:>9} {:>7} {:>8} {:>8}",
        "operation", "calls", "ms/image", "share", "GFLOP/s", "of peak"
    );
    let dash = || "-".to_string();
    for (kind, stats) in &profile.kinds {
        let time = ms(stats.time);
        let rate = (stats.flops > 0).then(|| stats.flops as f64 / stats.time.as_secs_f64() / 1e9);
        println!(
            "{:<30} {:>6} {:>9.1} {:>6.1}% {:>8} {:>8}",
            kind.to_string(),
            stats.calls / repeats as u64,
            time,
            100.0 * time / total,
            rate.map_or_else(dash, |r| format!("{r:.0}")),
            rate.zip(peak)
                .map_or_else(dash, |(r, p)| format!("{:.0}%", 100.0 * r / p)),
        );
    }
    let rest = ms(profile.unrecorded());
    println!(
        "{:<30} {:>6} {:>9.1} {:>6.1}% {:>8} {:>8}",
        "outside these (layout, glue)",
        "",
        rest,
        100.0 * rest / total,
        "-",
        "-"
    );
    println!("{:<30} {:>6} {:>9.1}", "total", "", total);
}

/// PyTorch eager's and ONNX Runtime's medians at `batch`.
fn time_references(
    python: &Path,
    args: &ModelArgs,
    batch: usize,
    threads: usize,
) -> Result<Reference> {
    let script_args = [
        "--height",
        &args.height.to_string(),
        "--width",
        &args.width.to_string(),
        "--batch",
        &batch.to_string(),
        "--repeats",
        &args.repeats.to_string(),
        "--threads",
        &threads.to_string(),
        "--onnxruntime",
    ]
    .map(String::from);
    let value = reference_json(python, "bench_torch.py", &script_args)?;
    let number = |key: &str| {
        value[key]
            .as_f64()
            .with_context(|| format!("bench_torch.py printed no `{key}`"))
    };
    Ok(Reference {
        torch_ms: number("ms_per_image")?,
        onnxruntime_ms: number("onnxruntime_ms_per_image")?,
        flops: number("flops_per_image")?,
    })
}

/// FLOP/s of independent fused multiply-adds on every rayon thread at once (AVX-512 where the CPU
/// has it, else AVX2 + FMA): the machine's arithmetic limit, which no convolution can pass.
/// `None` on other CPUs.
fn fma_peak_gflops() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        const ROUNDS: u64 = 20_000_000;
        let lanes = if is_x86_feature_detected!("avx512f") {
            16
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            8
        } else {
            return None;
        };
        let run = || {
            let start = std::time::Instant::now();
            let sink = if lanes == 16 {
                // SAFETY: the CPU has AVX-512F (checked above).
                unsafe { fma_chains_avx512(ROUNDS) }
            } else {
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                unsafe { fma_chains_avx2(ROUNDS) }
            };
            std::hint::black_box(sink);
            start.elapsed().as_secs_f64()
        };
        run();
        let seconds = rayon::broadcast(|_| run());
        let flops = (ROUNDS * FMA_CHAINS as u64 * lanes * 2) as f64;
        Some(seconds.iter().map(|s| flops / s / 1e9).sum())
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Independent accumulators: enough to cover the FMA latency (4 cycles) on two pipes.
const FMA_CHAINS: usize = 12;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_chains_avx512(rounds: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut chains = [_mm512_set1_ps(1.0); FMA_CHAINS];
    for _ in 0..rounds {
        for chain in &mut chains {
            *chain = _mm512_fmadd_ps(*chain, a, b);
        }
    }
    chains.iter().map(|&c| _mm512_reduce_add_ps(c)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(rounds: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut chains = [_mm256_set1_ps(1.0); FMA_CHAINS];
    for _ in 0..rounds {
        for chain in &mut chains {
            *chain = _mm256_fmadd_ps(*chain, a, b);
        }
    }
    let mut lanes = [0.0f32; 8];
    for chain in chains {
        let mut values = [0.0f32; 8];
        // SAFETY: `values` holds 8 floats, an unaligned store writes exactly those.
        unsafe { _mm256_storeu_ps(values.as_mut_ptr(), chain) };
        lanes.iter_mut().zip(values).for_each(|(l, v)| *l += v);
    }
    lanes.iter().sum()
}
