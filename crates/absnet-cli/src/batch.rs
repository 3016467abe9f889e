//! The loop the image commands share (`predict`, `crop`): inputs listed, decoded in parallel,
//! predicted in batches, and each photo handed to the command's [`PhotoWriter`], whose record
//! is appended to the output folder; every failure is reported, recorded, and counted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use absnet_predict::record::Failure;
use anyhow::{Result, bail};
use image::RgbImage;
use rayon::prelude::*;

use crate::args::{ModelInputArgs, RunArgs};
use crate::inputs::{self, Source};
use crate::output::OutputFolder;

/// What a command asks of the model for each photo, and makes of the answer.
pub trait PhotoWriter {
    /// What the command needs of the model per photo (a whole
    /// [`absnet_predict::Prediction`], or less).
    type Predicted;

    /// The model's answers for `photos`, one each.
    fn predict(&self, photos: &[&RgbImage]) -> Result<Vec<Self::Predicted>>;

    /// Writes the photo's files; returns its JSON line, its CSV rows and what to print when it is
    /// the only input.
    fn write(
        &self,
        source: &Source,
        photo: &RgbImage,
        predicted: &Self::Predicted,
    ) -> Result<Written>;

    /// Whether every input's announcement is printed (a machine-readable line per image), not
    /// only a single input's.
    fn announces_every_input(&self) -> bool {
        false
    }
}

pub struct Written {
    pub json_line: String,
    pub csv_rows: Vec<Vec<String>>,
    pub announcement: String,
}

/// One run of an image command over its inputs.
pub struct BatchRun<'a> {
    /// The model's name in failure records.
    pub model: String,
    pub out: &'a OutputFolder,
    pub input: &'a ModelInputArgs,
    /// The batch size, and whether entries of input folders that are not images fail the run.
    pub run: &'a RunArgs,
    /// Columns of the output's CSV (a failure's row puts the error last).
    pub columns: usize,
}

/// How many inputs were done, failed, or skipped as done before, and how many entries of input
/// folders were passed over (`--skip-bad`).
pub struct Tally {
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
    pub passed_over: usize,
}

impl Tally {
    /// `, N passed over` when some were.
    pub fn passed_over_note(&self) -> String {
        match self.passed_over {
            0 => String::new(),
            n => format!(", {n} folder entries passed over (--skip-bad)"),
        }
    }
}

impl BatchRun<'_> {
    /// Runs every input not in `done`; an error only when the output itself cannot be written.
    pub fn run(
        &self,
        inputs: &[PathBuf],
        done: &HashSet<String>,
        writer: &impl PhotoWriter,
    ) -> Result<Tally> {
        let (todo, unlisted, skipped) = plan(
            inputs,
            done,
            self.out.jsonl().parent().unwrap_or(Path::new(".")),
        )?;
        let bar = indicatif::ProgressBar::new((todo.len() + unlisted.len()) as u64).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images, ETA {eta}")
                .expect("valid template"),
        );
        let (mut failed, mut passed_over) = (0, 0);
        for problem in &unlisted {
            if problem.entry && self.run.skip_bad {
                passed_over += 1;
            } else {
                failed += 1;
            }
            self.failure(&problem.input.display().to_string(), &problem.error, &bar)?;
        }
        for chunk in todo.chunks(usize::from(self.run.batch).max(1)) {
            let announce = todo.len() == 1 || writer.announces_every_input();
            failed += self.chunk(chunk, writer, &bar, announce)?;
        }
        bar.finish_and_clear();
        Ok(Tally {
            done: todo.len() + unlisted.len() - failed - passed_over,
            failed,
            skipped,
            passed_over,
        })
    }

    /// Decodes, predicts and writes `chunk`; returns how many failed.
    fn chunk(
        &self,
        chunk: &[Source],
        writer: &impl PhotoWriter,
        bar: &indicatif::ProgressBar,
        announce: bool,
    ) -> Result<usize> {
        let decoded: Vec<Result<RgbImage>> = chunk
            .par_iter()
            .map(|s| s.decode(self.input.max_bytes, self.input.max_pixels))
            .collect();
        let mut failed = 0;
        let mut ready = Vec::new();
        for (source, photo) in chunk.iter().zip(decoded) {
            match photo {
                Ok(photo) => ready.push((source, photo)),
                Err(e) => {
                    failed += 1;
                    self.failure(&source.name(), &e, bar)?;
                }
            }
        }
        let photos: Vec<&RgbImage> = ready.iter().map(|(_, photo)| photo).collect();
        let predictions = writer.predict(&photos)?;
        for ((source, photo), prediction) in ready.iter().zip(&predictions) {
            match writer.write(source, photo, prediction) {
                Ok(written) => {
                    self.out.append_rows(&written.json_line, written.csv_rows)?;
                    if announce {
                        bar.suspend(|| println!("{}", written.announcement));
                    }
                    bar.inc(1);
                }
                Err(e) => {
                    failed += 1;
                    self.failure(&source.name(), &e.context(source.name()), bar)?;
                }
            }
        }
        Ok(failed)
    }

    /// Reports a failed input and records it.
    fn failure(
        &self,
        image: &str,
        error: &anyhow::Error,
        bar: &indicatif::ProgressBar,
    ) -> Result<()> {
        let message = format!("{error:#}");
        bar.suspend(|| eprintln!("error: {message}"));
        let failure = Failure {
            image: image.to_string(),
            model: self.model.clone(),
            error: message,
        };
        self.out
            .append(&failure.to_json_line(), failure.csv_row(self.columns))?;
        bar.inc(1);
        Ok(())
    }
}

/// The inputs still to do, with the per-input errors of listing them, and how many were done
/// before; two inputs whose outputs would collide are refused.
fn plan(
    inputs: &[PathBuf],
    done: &HashSet<String>,
    out: &Path,
) -> Result<(Vec<Source>, Vec<inputs::Unlisted>, usize)> {
    let (sources, unlisted) = inputs::collect(inputs);
    let mut stems = HashSet::new();
    for source in &sources {
        if !stems.insert(source.stem()) {
            bail!(
                "two inputs are named `{}`: their outputs in {} would collide",
                source.stem(),
                out.display()
            );
        }
    }
    let total = sources.len();
    let todo: Vec<Source> = sources
        .into_iter()
        .filter(|s| !done.contains(&s.name()))
        .collect();
    let skipped = total - todo.len();
    Ok((todo, unlisted, skipped))
}

/// The inputs' own files, which outputs must never replace.
pub fn input_paths(inputs: &[PathBuf]) -> HashSet<PathBuf> {
    inputs::collect(inputs)
        .0
        .iter()
        .filter_map(|s| match s {
            Source::File(p) => p.canonicalize().ok(),
            Source::Stdin => None,
        })
        .collect()
}

/// Refuses to write over one of the inputs.
pub fn refuse_inputs<'a>(
    paths: impl IntoIterator<Item = &'a PathBuf>,
    inputs: &HashSet<PathBuf>,
) -> Result<()> {
    for path in paths {
        if path.canonicalize().is_ok_and(|p| inputs.contains(&p)) {
            bail!(
                "{} is one of the inputs; refusing to overwrite it",
                path.display()
            );
        }
    }
    Ok(())
}
