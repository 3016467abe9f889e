//! `absnet eval`: predictions scored against benchmark datasets.

use std::path::PathBuf;

use absnet_data::DatasetSpec;
use absnet_data::split::Split;
use absnet_eval::saliency::SaliencyEvalOptions;
use anyhow::{Context, Result};

#[derive(clap::Subcommand)]
pub enum Eval {
    /// Saliency maps (grayscale images, matched to stimuli by file stem, any size) against a
    /// dataset's fixations: NSS, AUC-Judd, AUC-Borji, sAUC, IG, CC, KLD, SIM.
    Saliency {
        /// Dataset spec, e.g. `osie:../shared/data/osie`.
        dataset: DatasetSpec,
        /// Folder of predicted maps.
        predictions: PathBuf,
        /// Ground-truth density σ in pixels (default: the dataset's own, from its authors or the
        /// spec's `sigma=`; required for datasets that state none, unless --sigma-fraction is
        /// given).
        #[arg(long, value_parser = positive)]
        sigma: Option<f64>,
        /// σ as a fraction of each image's diagonal (datasets of mixed sizes; 0.03 is common).
        #[arg(long, conflicts_with = "sigma", value_parser = positive)]
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
        dataset: DatasetSpec,
        /// Split file of `absnet train` (ids prefixed by the dataset's name).
        #[arg(long)]
        split: PathBuf,
        #[arg(long, default_value = "test")]
        part: Part,
        #[arg(long, default_value_t = 0.03, value_parser = positive)]
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

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Part {
    Train,
    Val,
    Test,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Conventions {
    Mit,
    Pysaliency,
}

fn positive(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("`{text}`: expected a positive number"))
}

pub fn run(eval: Eval) -> Result<()> {
    match eval {
        Eval::Saliency {
            dataset,
            predictions,
            sigma,
            sigma_fraction,
            conventions,
            json,
        } => saliency(
            &dataset,
            &predictions,
            sigma,
            sigma_fraction,
            conventions,
            json,
        ),
        Eval::Baselines {
            dataset,
            split,
            part,
            sigma_fraction,
            centre_bias,
        } => baselines(
            &dataset,
            &split,
            part,
            sigma_fraction,
            centre_bias.as_deref(),
        ),
        Eval::Aesthetics {
            labels,
            predictions,
            json,
        } => {
            let labels = absnet_eval::aesthetics::read_distributions(&labels)?;
            let predictions = absnet_eval::aesthetics::read_distributions(&predictions)?;
            let report = absnet_eval::aesthetics::evaluate(&labels, &predictions)?;
            print_report(&report, json)
        }
    }
}

fn print_report(report: &(impl serde::Serialize + std::fmt::Display), json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn saliency(
    dataset: &DatasetSpec,
    predictions: &std::path::Path,
    sigma: Option<f64>,
    sigma_fraction: Option<f64>,
    conventions: Conventions,
    json: bool,
) -> Result<()> {
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
        Conventions::Mit => SaliencyEvalOptions::mit(sigma),
        Conventions::Pysaliency => SaliencyEvalOptions::pysaliency(sigma),
    };
    options.sigma_fraction = sigma_fraction;
    let bar = indicatif::ProgressBar::new(samples.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images, ETA {eta}")
            .expect("valid template"),
    );
    let report = absnet_eval::saliency::evaluate(&samples, predictions, &options, &|| bar.inc(1))?;
    bar.finish_and_clear();
    print_report(&report, json)
}

fn baselines(
    dataset: &DatasetSpec,
    split: &std::path::Path,
    part: Part,
    sigma_fraction: f64,
    centre_bias: Option<&std::path::Path>,
) -> Result<()> {
    let samples = dataset.load_named()?;
    let split_file = Split::read(split)?;
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
        let n = absnet_eval::baselines::write_centre_bias(&train, &chosen, sigma_fraction, out)?;
        println!(
            "{n} centre-bias maps (from {} training images) in {}",
            train.len(),
            out.display()
        );
    }
    Ok(())
}
