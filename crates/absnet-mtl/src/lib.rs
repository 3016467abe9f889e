//! The multi-task training engine: tasks (saliency, aesthetics) over disjoint datasets, task
//! schedules (alternating, interleaved, joint), loss-balancing methods, and parameter groups —
//! the shared encoder, each head, the balancing method's own parameters — each with its own
//! optimizer and learning rate, combined in one step: the ABSNet authors' remedy for loss scales
//! that differ between tasks.
//!
//! Reading order: [`run`] (a run's loop over epochs and steps) → [`trainer`] (one step) →
//! [`tasks`] (each task's loss and validation) → [`balancing`] and [`groups`].

pub mod balancing;
pub mod cache;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod export;
pub mod gradients;
pub mod groups;
pub mod log;
pub mod losses;
pub mod plots;
pub mod run;
pub mod schedule;
pub mod stream;
pub mod tasks;
pub mod trainer;

pub use error::{ConfigError, TrainError};
