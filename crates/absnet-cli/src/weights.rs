//! `absnet weights import` and `absnet classify`: pretrained backbone weights.

use std::path::PathBuf;

use absnet_model::backbone::Backbone;
use absnet_model::weights::{self, StoredPrecision};
use absnet_model::{Arch, BackboneConfig};
use absnet_predict::classify::{Classifier, class_names};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;

use crate::inputs::{DEFAULT_MAX_BYTES, Source};

#[derive(clap::Subcommand)]
pub enum WeightsCommand {
    /// Convert a PyTorch checkpoint (zip or legacy `.pth`, or upstream-named safetensors) of a
    /// backbone to absnet's safetensors, checking every tensor name and shape.
    Import {
        input: PathBuf,
        #[arg(long)]
        arch: Arch,
        #[arg(short, long)]
        output: PathBuf,
        /// Store float16 (half the size).
        #[arg(long)]
        f16: bool,
    },
}

#[derive(clap::Args)]
pub struct ClassifyArgs {
    /// Images to classify.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[arg(long, default_value = "mobilenet_v2")]
    arch: Arch,
    /// Backbone weights (`.pth` or `.safetensors`); default `weights/<arch>.safetensors`.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Classes to show per image (1–1000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    top: u16,
}

pub fn run(command: WeightsCommand, device: &Device) -> Result<()> {
    let WeightsCommand::Import {
        input,
        arch,
        output,
        f16,
    } = command;
    let config = BackboneConfig {
        classifier: true,
        ..BackboneConfig::new(arch)
    };
    let backbone = Backbone::new(&config, device)?;
    let tensors = absnet_model::absnet::read_backbone_weights(&backbone, &input)?;
    let count = tensors.len();
    let precision = if f16 {
        StoredPrecision::F16
    } else {
        StoredPrecision::F32
    };
    weights::write_safetensors(&output, &tensors, precision, None)?;
    println!(
        "{}: {count} tensors of {arch} written to {}",
        input.display(),
        output.display()
    );
    Ok(())
}

pub fn classify(args: &ClassifyArgs, device: &Device) -> Result<()> {
    let weights = args
        .weights
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("weights/{}.safetensors", args.arch.name())));
    let classifier = Classifier::load(args.arch, &weights, device).with_context(|| {
        format!(
            "loading {} weights (run scripts/setup.sh to fetch them)",
            args.arch
        )
    })?;
    let names = class_names();
    let mut failed = 0;
    for path in &args.images {
        let photo = match Source::File(path.clone())
            .decode(DEFAULT_MAX_BYTES, absnet_data::pipeline::DEFAULT_MAX_PIXELS)
        {
            Ok(photo) => photo,
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
                continue;
            }
        };
        println!("{}", path.display());
        for class in classifier.top(&photo, usize::from(args.top)) {
            println!(
                "  {:6.2}%  {}",
                class.probability * 100.0,
                names[class.index]
            );
        }
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be read", args.images.len());
    }
    Ok(())
}
