//! The multi-task training engine: tasks (saliency, aesthetics) over disjoint datasets, task
//! schedules (alternating, interleaved, joint), loss-balancing methods, and parameter groups —
//! the shared encoder, each head, the balancing method's own parameters — each with its own
//! optimizer and learning rate, combined in one step: the ABSNet authors' remedy for loss scales
//! that differ between tasks.
//!
//! The public surface is what `absnet train`, `absnet export`, the benchmarks and the tests
//! drive: a run, its config, export, the tasks, the trainer's step and the balancing methods; the
//! feature cache, checkpoints, the log, the plots and the data streams are the run's own.
//!
//! Reading order: [`run`] (a run's loop over epochs and steps) → [`trainer`] (one step) →
//! [`tasks`] (each task's loss and validation) → [`balancing`] and [`groups`].

pub mod balancing;
mod cache;
mod checkpoint;
pub mod config;
mod crop;
pub mod error;
pub mod export;
pub mod gradients;
pub mod groups;
mod log;
pub mod losses;
mod plots;
pub mod run;
pub mod schedule;
mod stream;
pub mod tasks;
pub mod trainer;

pub use error::{ConfigError, TrainError};
