//! `log.jsonl`: one typed record a line, written by the run and read back by the plots.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use absnet_model::PerHead;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::tasks::Validation;

/// The learning rate of every group at a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRates {
    pub shared: f64,
    pub balancing: f64,
    #[serde(flatten)]
    pub heads: PerHead<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum LogRecord {
    /// A step trained: each trained task's loss and balancing weight, every group's rate.
    Step {
        epoch: usize,
        step: usize,
        losses: PerHead<f64>,
        weights: PerHead<f64>,
        lr: GroupRates,
        /// With two tasks in the step and a trained shared encoder: the cosine of their
        /// shared-encoder gradients before balancing (below 0: the tasks pull the encoder
        /// apart, the conflict PCGrad projects away).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gradient_cosine: Option<f64>,
    },
    /// A step left out (`non_finite = "skip"`).
    Skipped {
        epoch: usize,
        step: usize,
        skipped: String,
    },
    /// An epoch ended: validation, each task's mean loss and weight, samples skipped so far.
    Epoch {
        epoch: usize,
        step: usize,
        validation: Validation,
        skipped: usize,
        mean_losses: PerHead<Option<f64>>,
        task_weights: PerHead<f64>,
    },
    /// The run resumed from a checkpoint; steps logged after it by the stopped run are trained
    /// again.
    Resumed {
        resumed_at_step: usize,
        checkpoint: String,
    },
    /// The training curves could not be drawn (the run goes on).
    PlotFailed { epoch: usize, plot_error: String },
}

/// The run's log, appended one whole line at a time.
pub struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    pub fn open(path: &Path) -> Result<Self, TrainError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn write(&mut self, record: &LogRecord) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(record).expect("a record always serialises");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| TrainError::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The records of a log; lines that are not records (cut short by a kill, or from another
/// version) are left out.
pub fn read(text: &str) -> Vec<LogRecord> {
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}
