//! Fixed weighting: `L = Σₜ λₜ Lₜ` with each task's `weight` from the config.

use super::{Balancing, Combined, TaskStep};

pub struct Fixed {
    weights: Vec<f64>,
}

impl Fixed {
    pub fn new(weights: Vec<f64>) -> Self {
        Self { weights }
    }
}

impl Balancing for Fixed {
    fn combine(&mut self, step: &TaskStep) -> Combined {
        Combined::weighted(step, step.tasks.iter().map(|&t| self.weights[t]).collect())
    }

    fn task_weights(&self) -> Vec<f64> {
        self.weights.clone()
    }
}
