//! The multi-task training engine: task losses and parameter groups, each group (the shared
//! encoder, each head) with its own optimizer and learning rate, combined in one step — the
//! ABSNet authors' remedy for loss scales that differ between tasks.

pub mod config;
pub mod groups;
pub mod losses;
pub mod run;
