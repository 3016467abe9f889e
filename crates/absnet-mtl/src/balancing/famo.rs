//! FAMO — Liu, Liu, Jin, Stone & Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS
//! 2023, Algorithm 1 (minimum losses taken as 0). Task logits `ξ` (start 0), `z = softmax(ξ)`;
//! the model follows the gradient of `Σₜ zₜ log Lₜ`, i.e. task weights
//!
//! `λₜ = zₜ / (c · Lₜ)`,  `c = Σᵢ zᵢ / Lᵢ`;
//!
//! after the update, with `δₜ = log Lₜ(before) − log Lₜ(after)` on the same batches, `ξ` moves
//! down the gradient of `Σₜ zₜ δₜ` (δ held constant) — weight flows to the tasks that improved
//! least. The paper's optimizer for `ξ` is Adam, lr 0.025, weight decay 0.001.

use burn::tensor::Device;

use super::{Balancing, Combined, Learned, TaskStep, spread, step_mask};
use crate::groups::GroupConfig;

const EPS: f64 = 1e-8;

pub struct Famo {
    logits: Learned,
    losses_before: Vec<f64>,
}

impl Famo {
    pub fn new(tasks: usize, group: &GroupConfig, device: &Device) -> Self {
        Self {
            logits: Learned::new(&vec![0.0; tasks], group, device),
            losses_before: Vec::new(),
        }
    }

    /// `softmax(ξ)` over the given tasks.
    fn z(&self, tasks: &[usize]) -> Vec<f64> {
        let xi = self.logits.values();
        let largest = tasks
            .iter()
            .map(|&t| xi[t])
            .fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = tasks.iter().map(|&t| (xi[t] - largest).exp()).collect();
        let total: f64 = exps.iter().sum();
        exps.iter().map(|e| e / total).collect()
    }
}

impl Balancing for Famo {
    fn combine(&mut self, step: &TaskStep) -> Combined {
        let z = self.z(step.tasks);
        let c: f64 = z.iter().zip(step.losses).map(|(z, l)| z / (l + EPS)).sum();
        let weights = z
            .iter()
            .zip(step.losses)
            .map(|(z, l)| z / (c * (l + EPS)))
            .collect();
        self.losses_before = step.losses.to_vec();
        Combined::weighted(step, weights)
    }

    fn needs_losses_after_step(&self) -> bool {
        true
    }

    fn after_step(&mut self, tasks: &[usize], losses_after: &[f64], lr: f64) {
        let n = self.logits.values().len();
        let delta: Vec<f64> = self
            .losses_before
            .iter()
            .zip(losses_after)
            .map(|(before, after)| (before + EPS).ln() - (after + EPS).ln())
            .collect();
        let delta = self.logits.constants(&spread(n, tasks, &delta));
        // Tasks outside the step leave the softmax: a large negative offset.
        let offset = self.logits.constants(
            &step_mask(n, tasks)
                .iter()
                .map(|m| (m - 1.0) * 1e4)
                .collect::<Vec<_>>(),
        );
        self.logits.step(lr, |xi| {
            (burn::tensor::activation::softmax(xi + offset, 0) * delta).sum()
        });
    }

    fn task_weights(&self) -> Vec<f64> {
        let n = self.logits.values().len();
        self.z(&(0..n).collect::<Vec<_>>())
    }

    fn learned(&mut self) -> Option<&mut Learned> {
        Some(&mut self.logits)
    }
}
