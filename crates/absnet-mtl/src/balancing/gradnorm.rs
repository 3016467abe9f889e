//! GradNorm — Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient Normalization for
//! Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018, eqs. 1–2. Learned weights
//! `wₜ` (start 1) scale the task losses; after each step they move down the gradient of
//!
//! `L_grad = Σₜ | Gₜ − Ḡ · rₜ^α |`,  `Gₜ = wₜ ‖∇_W Lₜ‖`,  `rₜ = L̃ₜ / mean(L̃)`,  `L̃ₜ = Lₜ / Lₜ(0)`,
//!
//! with `Ḡ · rₜ^α` held constant, and are renormalised to sum to the number of tasks. `W` is the
//! whole shared group (the paper takes its last layer; LibMTL offers both), `Lₜ(0)` the task's
//! first loss.

use burn::tensor::Device;

use super::{BalancerState, Balancing, Combined, Learned, TaskStep, spread, step_mask};
use crate::gradients::dot;
use crate::groups::GroupConfig;

pub struct GradNorm {
    alpha: f64,
    weights: Learned,
    initial_losses: Vec<Option<f64>>,
}

impl GradNorm {
    pub fn new(tasks: usize, alpha: f64, group: &GroupConfig, device: &Device) -> Self {
        Self {
            alpha,
            weights: Learned::new(&vec![1.0; tasks], group, device),
            initial_losses: vec![None; tasks],
        }
    }
}

impl Balancing for GradNorm {
    fn combine(&mut self, step: &TaskStep) -> Combined {
        let w = self.weights.values();
        let tasks = w.len();
        let weights: Vec<f64> = step.tasks.iter().map(|&t| w[t]).collect();
        let combined = Combined::weighted(step, weights);
        let norms: Vec<f64> = step.shared.iter().map(|g| dot(g, g).sqrt()).collect();
        let relative: Vec<f64> = step
            .tasks
            .iter()
            .zip(step.losses)
            .map(|(&t, &loss)| {
                let initial = *self.initial_losses[t].get_or_insert(loss);
                loss / initial.max(f64::MIN_POSITIVE)
            })
            .collect();
        let mean_relative = relative.iter().sum::<f64>() / relative.len() as f64;
        let mean_norm = step
            .tasks
            .iter()
            .zip(&norms)
            .map(|(&t, n)| w[t] * n)
            .sum::<f64>()
            / norms.len() as f64;
        let targets: Vec<f64> = relative
            .iter()
            .map(|r| mean_norm * (r / mean_relative).powf(self.alpha))
            .collect();
        let norms = self.weights.constants(&spread(tasks, step.tasks, &norms));
        let targets = self.weights.constants(&spread(tasks, step.tasks, &targets));
        let mask = self.weights.constants(&step_mask(tasks, step.tasks));
        self.weights
            .step(step.lr, |w| ((w * norms - targets).abs() * mask).sum());
        // Renormalise: Σ wₜ = T, every weight positive.
        let updated: Vec<f64> = self.weights.values().iter().map(|v| v.max(1e-6)).collect();
        let total: f64 = updated.iter().sum();
        self.weights.set(
            &updated
                .iter()
                .map(|v| v * tasks as f64 / total)
                .collect::<Vec<_>>(),
        );
        combined
    }

    fn task_weights(&self) -> Vec<f64> {
        self.weights.values()
    }

    fn state(&self) -> BalancerState {
        BalancerState::GradNorm {
            initial_losses: self.initial_losses.clone(),
        }
    }

    fn restore(&mut self, state: &BalancerState) -> bool {
        let BalancerState::GradNorm { initial_losses } = state else {
            return false;
        };
        self.initial_losses = initial_losses.clone();
        true
    }

    fn learned(&mut self) -> Option<&mut Learned> {
        Some(&mut self.weights)
    }
}
