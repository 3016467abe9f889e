//! Uncertainty weighting — Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to
//! Weigh Losses for Scene Geometry and Semantics", CVPR 2018, eq. 7, in the log-variance form
//! LibMTL uses: with `sₜ = log σₜ²` learned,
//!
//! `L = Σₜ Lₜ / (2 exp(sₜ)) + sₜ / 2`.
//!
//! A task's weight is `exp(−sₜ) / 2`; `∂L/∂sₜ = ½ − Lₜ exp(−sₜ) / 2` drives `sₜ` towards
//! `log Lₜ`, so the weight settles at `1 / (2 Lₜ)`.

use burn::tensor::Device;

use super::{Balancing, Combined, Learned, TaskStep, spread, step_mask};
use crate::groups::GroupConfig;

pub struct Uncertainty {
    log_variances: Learned,
}

impl Uncertainty {
    pub fn new(tasks: usize, group: &GroupConfig, device: &Device) -> Self {
        Self {
            log_variances: Learned::new(&vec![0.0; tasks], group, device),
        }
    }
}

impl Balancing for Uncertainty {
    fn combine(&mut self, step: &TaskStep) -> Combined {
        let s = self.log_variances.values();
        let weights = step.tasks.iter().map(|&t| (-s[t]).exp() / 2.0).collect();
        let tasks = s.len();
        let losses = self
            .log_variances
            .constants(&spread(tasks, step.tasks, step.losses));
        let mask = self.log_variances.constants(&step_mask(tasks, step.tasks));
        self.log_variances.step(step.lr, |s| {
            ((s.clone().neg().exp() * losses + s) * mask * 0.5).sum()
        });
        Combined::weighted(step, weights)
    }

    fn task_weights(&self) -> Vec<f64> {
        self.log_variances
            .values()
            .iter()
            .map(|s| (-s).exp() / 2.0)
            .collect()
    }

    fn learned(&mut self) -> Option<&mut Learned> {
        Some(&mut self.log_variances)
    }
}
