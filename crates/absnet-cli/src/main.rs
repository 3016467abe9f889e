//! `absnet`: the command line. Thin: each subcommand's file parses its arguments, calls the
//! libraries and writes files; errors become messages here.

mod batch;
mod bench;
mod crop;
mod data;
mod eval;
mod inputs;
mod output;
mod predict;
mod ranges;
mod serve;
mod train;
mod weights;

use anyhow::{Result, bail};
use burn::tensor::Device;
use clap::{Parser, Subcommand, ValueEnum};

/// Tensors of hundreds of MB are allocated and freed every step; glibc's malloc hands each back
/// to the kernel and faults it in again (a third of a training step's time). mimalloc, told not
/// to purge freed memory, reuses it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the same index in v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn keep_freed_memory() {
    // SAFETY: sets a process-wide allocator option; -1 means "never purge".
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`absnet … | head`) would panic;
/// restoring the default makes absnet end quietly there, as command-line tools do.
fn end_quietly_on_closed_pipes() {
    // SAFETY: resets one signal's disposition before any thread is started.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

#[derive(Parser)]
#[command(
    name = "absnet",
    version,
    about = "Saliency and aesthetics with ABSNet"
)]
struct Cli {
    /// Compute device: `cpu` (burn Flex), `gpu` (burn wgpu: Vulkan, Metal or DirectX 12; with
    /// the `gpu` feature) or `cuda` (with the `cuda` feature, which needs network at build time).
    #[arg(long, global = true, default_value = "cpu")]
    device: DeviceName,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceName {
    Cpu,
    Gpu,
    Cuda,
}

#[derive(Subcommand)]
enum Command {
    /// Saliency maps, heatmap overlays and a JSONL summary for photos (the main job).
    Predict(predict::PredictArgs),
    /// Crop windows that keep what people look at, for several aspect ratios.
    Crop(crop::CropArgs),
    /// An HTTP service (saliency, crops, metrics) and a web page, batched and bounded.
    Serve(serve::ServeArgs),
    /// Train a model — saliency, aesthetics or both with a shared encoder — from a TOML config.
    Train(train::TrainArgs),
    /// Write a run's best checkpoint as a model file with its card.
    Export(train::ExportArgs),
    /// Score predictions against a benchmark dataset.
    Eval {
        #[command(subcommand)]
        eval: eval::Eval,
    },
    /// Inspect datasets.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Pretrained weight files.
    Weights {
        #[command(subcommand)]
        command: weights::WeightsCommand,
    },
    /// ImageNet top-k classes of images with a pretrained backbone (checks imported weights).
    Classify(weights::ClassifyArgs),
    /// Speed against the Python references, side by side in one run.
    Bench {
        #[command(subcommand)]
        bench: bench::Bench,
    },
}

/// burn creates some tensors on its default device, not on the one passed to it: a resumed run's
/// optimizer state is loaded there (and moved to the parameters' device at the next step). In a
/// build with the GPU backend that default is the GPU, so `--device cpu` would still start a
/// Vulkan driver, or fail without one. Pinning burn's default (`BURN_DEVICE`) to the chosen
/// device keeps every tensor on it.
fn pin_default_device(name: DeviceName) {
    let burn_name = match name {
        DeviceName::Cpu => "flex",
        DeviceName::Gpu => "wgpu",
        DeviceName::Cuda => "cuda",
    };
    // SAFETY: called from `run` before anything has started a thread.
    unsafe { std::env::set_var("BURN_DEVICE", burn_name) };
}

fn device(name: DeviceName) -> Result<Device> {
    match name {
        DeviceName::Cpu => Ok(Device::flex()),
        #[cfg(feature = "gpu")]
        DeviceName::Gpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "gpu"))]
        DeviceName::Gpu => {
            bail!("this absnet was built without the GPU backend; rebuild with `--features gpu`")
        }
        #[cfg(feature = "cuda")]
        DeviceName::Cuda => Ok(Device::cuda(0)),
        #[cfg(not(feature = "cuda"))]
        DeviceName::Cuda => {
            bail!("this absnet was built without CUDA; rebuild with `--features cuda`")
        }
    }
}

fn main() -> std::process::ExitCode {
    end_quietly_on_closed_pipes();
    keep_freed_memory();
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let device = device(cli.device)?;
    pin_default_device(cli.device);
    match cli.command {
        Command::Predict(args) => predict::run(&args, &device),
        Command::Crop(args) => crop::run(&args, &device),
        Command::Serve(args) => serve::run(&args, &device),
        Command::Train(args) => train::run(&args, &device),
        Command::Export(args) => train::export(&args, &device),
        Command::Eval { eval } => eval::run(eval, &device),
        Command::Data { command } => data::run(command),
        Command::Weights { command } => weights::run(command, &device),
        Command::Classify(args) => weights::classify(&args, &device),
        Command::Bench { bench } => bench::run(&bench, &device),
    }
}
