//! `absnet`: the command line. Thin: each subcommand's file parses its arguments, calls the
//! libraries and writes files; errors become messages here.

mod args;
mod batch;
mod crop;
mod data;
mod eval;
mod inputs;
mod output;
mod predict;
mod ranges;
mod rank;
mod serve;
mod train;
mod weights;

use absnet::process::DeviceArgs;
use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "absnet",
    version,
    about = "Saliency, picture quality and aesthetics with ABSNet"
)]
struct Cli {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Saliency maps, heatmap overlays and a JSONL summary for photos (the main job).
    Predict(predict::PredictArgs),
    /// Crop windows that keep what people look at, for several aspect ratios.
    Crop(crop::CropArgs),
    /// The best shots of a burst or an album, near-duplicates grouped, with a contact sheet.
    Rank(rank::RankArgs),
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
}

fn main() -> std::process::ExitCode {
    absnet::process::main(run)
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let device = cli.device.set_up()?;
    match cli.command {
        Command::Predict(args) => predict::run(&args, &device),
        Command::Crop(args) => crop::run(&args, &device),
        Command::Rank(args) => rank::run(&args, &device),
        Command::Serve(args) => serve::run(&args, &device),
        Command::Train(args) => train::run(&args, &device),
        Command::Export(args) => train::export(&args, &device),
        Command::Eval { eval } => eval::run(eval, &device),
        Command::Data { command } => data::run(command),
        Command::Weights { command } => weights::run(command, &device),
        Command::Classify(args) => weights::classify(&args, &device),
    }
}
