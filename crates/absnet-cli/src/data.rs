//! `absnet data`: what a dataset holds, and how fast its examples are prepared.

use absnet_data::DatasetSpec;
use absnet_data::loader::{self, LoaderConfig};
use anyhow::{Result, bail};

use crate::ranges;

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// How fast examples are prepared (decode, fit, labels) in parallel batches: images/s.
    Throughput {
        dataset: DatasetSpec,
        /// Model input WIDTHxHEIGHT.
        #[arg(long, default_value = "480x320", value_parser = ranges::input_size)]
        size: [u32; 2],
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
        batch: u16,
        /// Images to prepare (default: all).
        #[arg(long)]
        images: Option<usize>,
    },
    /// Images, observers, fixations, sizes and problems of a dataset (`FORMAT:PATH`; formats:
    /// osie, scene, salicon2015, salicon2017, mit1003, fixatons, cat2000, folder, ava,
    /// ava-json, livec). Exits with an error when it finds problems.
    Check {
        dataset: DatasetSpec,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Throughput {
            dataset,
            size,
            batch,
            images,
        } => {
            let samples = dataset.load()?;
            let config = LoaderConfig {
                flip: true,
                ..LoaderConfig::new(size)
            };
            let report = loader::throughput(&samples, config, usize::from(batch), images)?;
            println!(
                "{} examples at {}×{} (decode, fit, flip, fixations, density) in {:.2} s: {:.1} images/s, {} threads",
                report.examples,
                size[0],
                size[1],
                report.seconds,
                report.examples as f64 / report.seconds,
                rayon::current_num_threads()
            );
            Ok(())
        }
        DataCommand::Check { dataset, json } => {
            let summary = absnet_data::check::check_dataset(&dataset)?;
            if summary.images == 0 {
                bail!("{}: the dataset holds no images", dataset.path().display());
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{summary}");
            }
            if !summary.problems.is_empty() {
                bail!("{}: {} problems found", dataset, summary.problems.len());
            }
            Ok(())
        }
    }
}
