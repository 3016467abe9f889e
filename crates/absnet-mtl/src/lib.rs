//! The multi-task training engine: tasks (saliency, aesthetics) over disjoint datasets, task
//! schedules (alternating, interleaved, joint), loss-balancing methods, and parameter groups —
//! the shared encoder, each head, the balancing method's own parameters — each with its own
//! optimizer and learning rate, combined in one step: the ABSNet authors' remedy for loss scales
//! that differ between tasks.

pub mod balancing;
pub mod config;
pub mod gradients;
pub mod groups;
pub mod losses;
pub mod plots;
pub mod run;
pub mod schedule;
pub mod tasks;
