//! `absnet`: the command line. Thin: parse, call the libraries, print.

mod bench;
mod predict;

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

use std::path::{Path, PathBuf};

use absnet_data::pipeline::{self, DEFAULT_MAX_PIXELS, Fit};
use absnet_model::backbone::Backbone;
use absnet_model::weights::{self, StoredPrecision};
use absnet_model::{Arch, BackboneConfig};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "absnet",
    version,
    about = "Saliency and aesthetics with ABSNet"
)]
struct Cli {
    /// Compute device: `cpu` (burn Flex) or `cuda` (with the `cuda` feature).
    #[arg(long, global = true, default_value = "cpu")]
    device: DeviceName,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceName {
    Cpu,
    Cuda,
}

#[derive(Subcommand)]
enum Command {
    /// Pretrained weight files.
    Weights {
        #[command(subcommand)]
        command: WeightsCommand,
    },
    /// ImageNet top-k classes of images with a pretrained backbone (checks imported weights).
    Classify {
        /// Images to classify.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[arg(long, default_value = "mobilenet_v2")]
        arch: Arch,
        /// Backbone weights (`.pth` or `.safetensors`); default `weights/<arch>.safetensors`.
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long, default_value_t = 5)]
        top: usize,
    },
    /// Saliency maps, heatmap overlays and a JSONL summary for photos (the main job).
    Predict(predict::PredictArgs),
    /// Write a run's best checkpoint as a model file with its card.
    Export {
        /// Run directory of `absnet train`.
        run: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Store float16 weights (half the size).
        #[arg(long)]
        f16: bool,
    },
    /// Train a model — saliency, aesthetics or both with a shared encoder — from a TOML config.
    Train {
        /// The run's config (see --print-default-config).
        #[arg(required_unless_present = "print_default_config")]
        config: Option<PathBuf>,
        /// Run directory: resolved config, log.jsonl, checkpoints/.
        #[arg(long, default_value = "runs/latest")]
        run: PathBuf,
        /// Continue the run in --run from its last checkpoint.
        #[arg(long)]
        resume: bool,
        /// Override the number of epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override any config field, e.g. `--set batch=4 --set balancing.method=famo`
        /// (values in TOML syntax; bare words are strings).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print the default configuration (the shipped model's) and exit.
        #[arg(long)]
        print_default_config: bool,
    },
    /// Speed against the Python references, side by side in one run.
    Bench {
        #[command(subcommand)]
        bench: bench::Bench,
    },
    /// Inspect datasets.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Score predictions against a benchmark dataset.
    Eval {
        #[command(subcommand)]
        eval: Eval,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// How fast examples are prepared (decode, fit, labels) in parallel batches: images/s.
    Throughput {
        dataset: absnet_data::DatasetSpec,
        /// Model input WIDTHxHEIGHT.
        #[arg(long, default_value = "480x320", value_parser = parse_size)]
        size: [u32; 2],
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Images to prepare (default: all).
        #[arg(long)]
        images: Option<usize>,
    },
    /// Images, observers, fixations, sizes and problems of a dataset (`FORMAT:PATH`; formats:
    /// osie, scene, salicon2015).
    Check {
        dataset: absnet_data::DatasetSpec,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Eval {
    /// Saliency maps (grayscale images, matched to stimuli by file stem, any size) against a
    /// dataset's fixations: NSS, AUC-Judd, AUC-Borji, sAUC, IG, CC, KLD, SIM.
    Saliency {
        /// Dataset spec, e.g. `osie:../shared/data/osie`.
        dataset: absnet_data::DatasetSpec,
        /// Folder of predicted maps.
        predictions: PathBuf,
        /// Ground-truth density σ in pixels (default: the dataset authors' own; required for
        /// datasets that state none, unless --sigma-fraction is given).
        #[arg(long)]
        sigma: Option<f64>,
        /// σ as a fraction of each image's diagonal (datasets of mixed sizes; 0.03 is common).
        #[arg(long, conflicts_with = "sigma")]
        sigma_fraction: Option<f64>,
        /// Metric conventions: `mit` (the MIT benchmark) or `pysaliency`.
        #[arg(long, default_value = "mit")]
        conventions: Conventions,
        /// Print the report as JSON (with per-image scores).
        #[arg(long)]
        json: bool,
    },
    /// The reference points for one part of a split: inter-observer consistency (leave one
    /// observer out), and centre-bias maps from the training part written for `eval saliency`.
    Baselines {
        dataset: absnet_data::DatasetSpec,
        /// Split file of `absnet train` (ids prefixed by the dataset format).
        #[arg(long)]
        split: PathBuf,
        #[arg(long, default_value = "test")]
        part: Part,
        #[arg(long, default_value_t = 0.03)]
        sigma_fraction: f64,
        /// Write the centre-bias maps of the part here.
        #[arg(long)]
        centre_bias: Option<PathBuf>,
    },
    /// Predicted score distributions against AVA-style labels: EMD, SRCC, PLCC, accuracy, MSE.
    Aesthetics {
        /// Labels: AVA JSON (`[{"image_id", "label"}]`) or CSV `image_id,v1..v10`.
        labels: PathBuf,
        /// Predictions in the same forms.
        predictions: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Part {
    Train,
    Val,
    Test,
}

#[derive(Clone, Copy, ValueEnum)]
enum Conventions {
    Mit,
    Pysaliency,
}

fn run_eval(eval: Eval) -> Result<()> {
    match eval {
        Eval::Saliency {
            dataset,
            predictions,
            sigma,
            sigma_fraction,
            conventions,
            json,
        } => {
            let samples = dataset.load()?;
            let sigma = match sigma_fraction {
                Some(_) => 0.0,
                None => sigma.or(dataset.default_sigma()).with_context(|| {
                    format!(
                        "{}: the dataset has no known σ; pass --sigma or --sigma-fraction",
                        dataset.path().display()
                    )
                })?,
            };
            let mut options = match conventions {
                Conventions::Mit => absnet_eval::saliency::SaliencyEvalOptions::mit(sigma),
                Conventions::Pysaliency => {
                    absnet_eval::saliency::SaliencyEvalOptions::pysaliency(sigma)
                }
            };
            options.sigma_fraction = sigma_fraction;
            let bar = indicatif::ProgressBar::new(samples.len() as u64).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images, ETA {eta}")
                    .expect("valid template"),
            );
            let report =
                absnet_eval::saliency::evaluate(&samples, &predictions, &options, &|| bar.inc(1))?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
        Eval::Baselines {
            dataset,
            split,
            part,
            sigma_fraction,
            centre_bias,
        } => {
            let samples = dataset.load_named()?;
            let split_file = absnet_data::split::Split::read(&split)?;
            let train = split_file.select_present(&samples, &split_file.train);
            let ids = match part {
                Part::Train => &split_file.train,
                Part::Val => &split_file.val,
                Part::Test => &split_file.test,
            };
            let chosen = split_file.select_present(&samples, ids);
            let observers = absnet_eval::baselines::inter_observer(&chosen, sigma_fraction)?;
            println!(
                "{} images; inter-observer consistency (leave one observer out, σ = {sigma_fraction} of the diagonal):",
                observers.images
            );
            println!(
                "  NSS {:.4}  AUC-Judd {:.4}  CC {:.4}  KLD {:.4}  SIM {:.4}",
                observers.nss, observers.auc_judd, observers.cc, observers.kld, observers.sim
            );
            if let Some(out) = centre_bias {
                let n = absnet_eval::baselines::write_centre_bias(
                    &train,
                    &chosen,
                    sigma_fraction,
                    &out,
                )?;
                println!(
                    "{n} centre-bias maps (from {} training images) in {}",
                    train.len(),
                    out.display()
                );
            }
        }
        Eval::Aesthetics {
            labels,
            predictions,
            json,
        } => {
            let labels = absnet_eval::aesthetics::read_distributions(&labels)?;
            let predictions = absnet_eval::aesthetics::read_distributions(&predictions)?;
            let report = absnet_eval::aesthetics::evaluate(&labels, &predictions)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum WeightsCommand {
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

fn device(name: DeviceName) -> Result<Device> {
    match name {
        DeviceName::Cpu => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        DeviceName::Cuda => Ok(Device::cuda(0)),
        #[cfg(not(feature = "cuda"))]
        DeviceName::Cuda => {
            bail!("this absnet was built without CUDA; rebuild with `--features cuda`")
        }
    }
}

fn main() -> std::process::ExitCode {
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
    match cli.command {
        Command::Weights {
            command:
                WeightsCommand::Import {
                    input,
                    arch,
                    output,
                    f16,
                },
        } => import(&input, arch, &output, f16, &device),
        Command::Classify {
            images,
            arch,
            weights,
            top,
        } => classify(&images, arch, weights, top, &device),
        Command::Bench { bench } => bench::run(&bench, &device),
        Command::Eval { eval } => run_eval(eval),
        Command::Predict(args) => predict::run(&args, &device),
        Command::Export { run, output, f16 } => {
            let precision = if f16 {
                StoredPrecision::F16
            } else {
                StoredPrecision::F32
            };
            let card = absnet_mtl::run::export(&run, &output, precision, &device)?;
            println!(
                "{}: {} (card in {})",
                output.display(),
                card.name,
                absnet_model::card::card_path(&output).display()
            );
            Ok(())
        }
        Command::Train {
            config,
            run,
            resume,
            epochs,
            overrides,
            print_default_config,
        } => {
            if print_default_config {
                print!("{}", absnet_mtl::config::DEFAULT_CONFIG);
                return Ok(());
            }
            let path = config.expect("clap requires it");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut config = absnet_mtl::config::TrainConfig::from_toml_with(&text, &overrides)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if let Some(epochs) = epochs {
                config.epochs = epochs;
            }
            train(&config, &run, resume, &device)
        }
        Command::Data {
            command:
                DataCommand::Throughput {
                    dataset,
                    size,
                    batch,
                    images,
                },
        } => data_throughput(&dataset, size, batch, images),
        Command::Data {
            command: DataCommand::Check { dataset, json },
        } => {
            let summary = absnet_data::check::check(&dataset.load()?);
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{summary}");
            }
            Ok(())
        }
    }
}

fn import(input: &Path, arch: Arch, output: &Path, f16: bool, device: &Device) -> Result<()> {
    let config = BackboneConfig {
        classifier: true,
        ..BackboneConfig::new(arch)
    };
    let backbone = Backbone::new(&config, device)?;
    let tensors = absnet_model::absnet::read_backbone_weights(&backbone, input)?;
    let count = tensors.len();
    let precision = if f16 {
        StoredPrecision::F16
    } else {
        StoredPrecision::F32
    };
    weights::write_safetensors(output, &tensors, precision, None)?;
    println!(
        "{}: {count} tensors of {arch} written to {}",
        input.display(),
        output.display()
    );
    Ok(())
}

fn train(
    config: &absnet_mtl::config::TrainConfig,
    run: &Path,
    resume: bool,
    device: &Device,
) -> Result<()> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} {bar:30} {pos}/{len} steps, loss {msg}, ETA {eta}",
        )
        .expect("valid template"),
    );
    let summary = absnet_mtl::run::train(config, run, resume, device, &|p| {
        bar.set_length(p.steps_in_epoch as u64);
        bar.set_prefix((p.epoch + 1).to_string());
        bar.set_position(p.step as u64);
        let losses: Vec<String> = p
            .losses
            .iter()
            .map(|(task, loss)| format!("{task} {loss:.4}"))
            .collect();
        bar.set_message(losses.join(" · "));
    })?;
    bar.finish_and_clear();
    for (epoch, v) in summary.validations.iter().enumerate() {
        let mut parts = Vec::new();
        if let Some(s) = &v.saliency {
            parts.push(format!(
                "saliency NSS {:.3}, CC {:.3}, KLD {:.3}, AUC-Judd {:.3}",
                s.nss, s.cc, s.kld, s.auc_judd
            ));
        }
        if let Some(a) = &v.aesthetics {
            parts.push(format!(
                "aesthetics EMD {:.4}, SRCC {:.3}, PLCC {:.3}, accuracy {:.3}",
                a.emd, a.srcc, a.plcc, a.accuracy
            ));
        }
        println!("epoch {}: validation {}", epoch + 1, parts.join("; "));
    }
    println!(
        "{} epochs, {} steps, {} samples skipped; run in {} (log.jsonl, curves.png, checkpoints/)",
        summary.epochs,
        summary.steps,
        summary.skipped,
        run.display()
    );
    Ok(())
}

fn parse_size(text: &str) -> Result<[u32; 2], String> {
    let (w, h) = text
        .split_once('x')
        .ok_or_else(|| format!("`{text}`: expected WIDTHxHEIGHT"))?;
    let parse = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("`{text}`: `{v}` is not a positive integer"))
    };
    Ok([parse(w)?, parse(h)?])
}

fn data_throughput(
    dataset: &absnet_data::DatasetSpec,
    size: [u32; 2],
    batch: usize,
    images: Option<usize>,
) -> Result<()> {
    use absnet_data::loader::{Loader, LoaderConfig, Skipped};
    let samples = dataset.load()?;
    let config = LoaderConfig {
        flip: true,
        ..LoaderConfig::new(size)
    };
    let loader = Loader::new(&samples, config);
    let order = loader.order(0);
    let order = &order[..images.unwrap_or(order.len()).min(order.len())];
    let mut skipped = Skipped::default();
    let start = std::time::Instant::now();
    let mut done = 0;
    for visits in order.chunks(batch.max(1)) {
        done += loader.batch(visits, &mut skipped)?.len();
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{done} examples at {}×{} (decode, fit, flip, fixations, density) in {seconds:.2} s: {:.1} images/s, {} threads",
        size[0],
        size[1],
        done as f64 / seconds,
        rayon::current_num_threads()
    );
    Ok(())
}

fn default_weights(arch: Arch) -> PathBuf {
    PathBuf::from(format!("weights/{}.safetensors", arch.name()))
}

fn classify(
    images: &[PathBuf],
    arch: Arch,
    weights: Option<PathBuf>,
    top: usize,
    device: &Device,
) -> Result<()> {
    let weights = weights.unwrap_or_else(|| default_weights(arch));
    let config = BackboneConfig {
        classifier: true,
        output_stride: 32,
        ..BackboneConfig::new(arch)
    };
    let backbone = Backbone::new(&config, device)?;
    let tensors = absnet_model::absnet::read_backbone_weights(&backbone, &weights)
        .with_context(|| format!("loading {arch} weights (run scripts/setup.sh to fetch them)"))?;
    let backbone = weights::load_tensors(backbone, tensors, &weights, arch.name())?.fold_norms();
    let classes: Vec<&str> = include_str!("../../../assets/imagenet_classes.txt")
        .lines()
        .collect();
    let mut failed = 0;
    for path in images {
        let image = match pipeline::decode_file(path, DEFAULT_MAX_PIXELS) {
            Ok(image) => image,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        let (input, _) = pipeline::fit(&image, [224, 224], Fit::Resize);
        let x = arch
            .normalization()
            .batch(&[input.as_raw()], 224, 224, device);
        let logits = backbone
            .classify(x)
            .expect("built with a classifier")
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 data");
        let probabilities = softmax(&logits);
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        println!("{}", path.display());
        for &class in order.iter().take(top) {
            println!(
                "  {:6.2}%  {}",
                probabilities[class] * 100.0,
                classes[class]
            );
        }
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be read", images.len());
    }
    Ok(())
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}
