//! `absnet train` and `absnet export`.

use std::path::PathBuf;

use absnet_model::weights::StoredPrecision;
use absnet_mtl::config::TrainConfig;
use absnet_mtl::export::Checkpoint;
use absnet_mtl::run::Start;
use anyhow::{Context, Result, bail};
use burn::tensor::Device;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// The run's config (see --print-default-config); with --resume, the run's own config.toml
    /// unless given.
    #[arg(required_unless_present_any = ["print_default_config", "resume"])]
    config: Option<PathBuf>,
    /// Run directory: resolved config, log.jsonl, checkpoints/.
    #[arg(long, default_value = "runs/latest")]
    run: PathBuf,
    /// Continue the run in --run from its last checkpoint.
    #[arg(long, conflicts_with = "overwrite")]
    resume: bool,
    /// Discard the run in --run (checkpoints, log, curves) and start afresh.
    #[arg(long)]
    overwrite: bool,
    /// Override the number of epochs.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    epochs: Option<u32>,
    /// Override any config field, e.g. `--set batch=4 --set balancing.method=famo`
    /// (values in TOML syntax; bare words are strings).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Print the default configuration (the shipped model's) and exit.
    #[arg(long)]
    print_default_config: bool,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Run directory of `absnet train`.
    run: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
    /// Store float16 weights (half the size).
    #[arg(long)]
    f16: bool,
    /// Make the model predict from each photo and its mirror image, averaged, by default (with
    /// `--onto`, a model that already does keeps doing so).
    #[arg(long)]
    flip_average: bool,
    /// Replace the model file and its card if they exist.
    #[arg(long)]
    force: bool,
    /// Put the run's trained heads onto this model file instead (a run that trained new heads
    /// on its frozen encoder: `backbone_weights` = this file, same input size): one model, one
    /// encoder, every head.
    #[arg(long, value_name = "MODEL")]
    onto: Option<PathBuf>,
    /// Which checkpoint: `best` (by the first task's validation score; the last when the run
    /// has no validation part) or `latest` (the last epoch's, whatever its score).
    #[arg(long, value_enum, default_value_t = CheckpointArg::Best)]
    checkpoint: CheckpointArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum CheckpointArg {
    Best,
    Latest,
}

pub fn run(args: &TrainArgs, device: &Device) -> Result<()> {
    if args.print_default_config {
        print!("{}", absnet_mtl::config::DEFAULT_CONFIG);
        return Ok(());
    }
    let path = &match &args.config {
        Some(path) => path.clone(),
        None => {
            let own = args.run.join("config.toml");
            if !own.exists() {
                bail!(
                    "{}: no run to resume here (no config.toml); start one with a CONFIG",
                    args.run.display()
                );
            }
            own
        }
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut config = TrainConfig::from_toml_with(&text, &args.overrides)
        .with_context(|| path.display().to_string())?;
    if let Some(epochs) = args.epochs {
        config.epochs = epochs as usize;
    }
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} {bar:30} {pos}/{len} steps, loss {msg}, ETA {eta}",
        )
        .expect("valid template"),
    );
    let start = match (args.resume, args.overwrite) {
        (true, _) => Start::Resume,
        (false, true) => Start::Overwrite,
        (false, false) => Start::New,
    };
    let summary = absnet_mtl::run::train(&config, &args.run, start, device, &|p| {
        bar.set_length(p.steps_in_epoch as u64);
        if p.caching {
            bar.set_prefix("0 (caching features)");
        } else {
            bar.set_prefix((p.epoch + 1).to_string());
        }
        bar.set_position(p.step as u64);
        let losses: Vec<String> = p
            .losses
            .iter()
            .map(|(task, loss)| format!("{task} {loss:.4}"))
            .collect();
        bar.set_message(losses.join(" · "));
    })?;
    bar.finish_and_clear();
    for (epoch, validation) in &summary.validations {
        let parts: Vec<String> = validation
            .iter()
            .map(|(head, scores)| {
                let scores: Vec<String> = scores
                    .iter()
                    .map(|(metric, value)| format!("{metric} {value:.3}"))
                    .collect();
                format!("{head} {}", scores.join(", "))
            })
            .collect();
        if parts.is_empty() {
            println!("epoch {epoch}: no validation part");
        } else {
            println!("epoch {epoch}: validation {}", parts.join("; "));
        }
    }
    println!(
        "{} epochs, {} steps, {} samples skipped; run in {} (log.jsonl, curves.png, checkpoints/)",
        summary.epochs,
        summary.steps,
        summary.skipped,
        args.run.display()
    );
    Ok(())
}

pub fn export(args: &ExportArgs, device: &Device) -> Result<()> {
    let precision = if args.f16 {
        StoredPrecision::F16
    } else {
        StoredPrecision::F32
    };
    let options = absnet_mtl::export::ExportOptions {
        precision,
        flip_average: args.flip_average,
        force: args.force,
        onto: args.onto.as_deref(),
        checkpoint: match args.checkpoint {
            CheckpointArg::Best => Checkpoint::Best,
            CheckpointArg::Latest => Checkpoint::Latest,
        },
    };
    let card = absnet_mtl::export::export(&args.run, &args.output, options, device)?;
    println!(
        "{}: {} (card in {})",
        args.output.display(),
        card.name,
        absnet_model::card::card_path(&args.output).display()
    );
    Ok(())
}
