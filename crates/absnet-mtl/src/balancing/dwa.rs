//! Dynamic weight average — Liu, Johns & Davison, "End-to-End Multi-Task Learning with
//! Attention", CVPR 2019, eq. 7:
//!
//! `λₜ(e) = T · exp(wₜ(e−1) / τ) / Σᵢ exp(wᵢ(e−1) / τ)`,  `wₜ(e−1) = Lₜ(e−1) / Lₜ(e−2)`,
//!
//! with `Lₜ(e)` the mean loss of task t over epoch e, `T` the number of tasks and `τ` the
//! temperature; `λₜ = 1` for the first two epochs. A task not trained in one of the two epochs
//! counts as `wₜ = 1`.

use super::{BalancerState, Balancing, Combined, TaskStep};

pub struct Dwa {
    temperature: f64,
    /// Mean losses of the last two epochs, older first.
    history: Vec<Vec<Option<f64>>>,
    weights: Vec<f64>,
}

impl Dwa {
    pub fn new(tasks: usize, temperature: f64) -> Self {
        Self {
            temperature,
            history: Vec::new(),
            weights: vec![1.0; tasks],
        }
    }

    fn update_weights(&mut self) {
        let tasks = self.weights.len();
        let [older, newer] = match self.history.as_slice() {
            [.., a, b] => [a, b],
            _ => {
                self.weights = vec![1.0; tasks];
                return;
            }
        };
        let ratios: Vec<f64> = (0..tasks)
            .map(|t| match (newer[t], older[t]) {
                (Some(n), Some(o)) if o > 0.0 => n / o,
                _ => 1.0,
            })
            .collect();
        let exps: Vec<f64> = ratios
            .iter()
            .map(|w| (w / self.temperature).exp())
            .collect();
        let total: f64 = exps.iter().sum();
        self.weights = exps.iter().map(|e| tasks as f64 * e / total).collect();
    }
}

impl Balancing for Dwa {
    fn combine(&mut self, step: &TaskStep) -> Combined {
        Combined::weighted(step, step.tasks.iter().map(|&t| self.weights[t]).collect())
    }

    fn end_epoch(&mut self, mean_losses: &[Option<f64>]) {
        self.history.push(mean_losses.to_vec());
        if self.history.len() > 2 {
            self.history.remove(0);
        }
        self.update_weights();
    }

    fn task_weights(&self) -> Vec<f64> {
        self.weights.clone()
    }

    fn state(&self) -> BalancerState {
        BalancerState::Dwa {
            history: self.history.clone(),
        }
    }

    fn restore(&mut self, state: &BalancerState) -> bool {
        let BalancerState::Dwa { history } = state else {
            return false;
        };
        self.history = history.clone();
        self.update_weights();
        true
    }
}
