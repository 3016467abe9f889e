//! PCGrad — Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient Surgery for Multi-Task
//! Learning", NeurIPS 2020, Algorithm 1: for each task i, `gᵢ' = gᵢ`, then for every other task
//! j in random order, if `gᵢ' · gⱼ < 0`, `gᵢ' ← gᵢ' − (gᵢ' · gⱼ / ‖gⱼ‖²) gⱼ`; the update is
//! `Σᵢ gᵢ'`. Applied to the shared group only; each head keeps its own task's gradient.

use burn::tensor::Tensor;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::{BalancerState, Balancing, Combined, TaskStep};
use crate::gradients::dot;

pub struct PcGrad {
    seed: u64,
    steps: u64,
}

impl PcGrad {
    pub fn new(seed: u64) -> Self {
        Self { seed, steps: 0 }
    }
}

/// Each task's gradient with its conflicting components removed, visiting the others in the
/// order `orders[i]` gives for task i.
pub fn project_conflicts(gradients: &[Tensor<1>], orders: &[Vec<usize>]) -> Vec<Tensor<1>> {
    let squared_norms: Vec<f64> = gradients.iter().map(|g| dot(g, g)).collect();
    gradients
        .iter()
        .zip(orders)
        .map(|(g, order)| {
            let mut projected = g.clone();
            for &j in order {
                let overlap = dot(&projected, &gradients[j]);
                if overlap < 0.0 && squared_norms[j] > 0.0 {
                    projected =
                        projected - gradients[j].clone() * (overlap / squared_norms[j]) as f32;
                }
            }
            projected
        })
        .collect()
}

impl Balancing for PcGrad {
    fn combine(&mut self, step: &TaskStep) -> Combined {
        let n = step.shared.len();
        // A seeded shuffle of the other tasks for each task, drawn afresh at every step (and
        // the same again after a resume: the generator is seeded by the run's seed and step).
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ self.steps.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let orders: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                let mut others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                others.shuffle(&mut rng);
                others
            })
            .collect();
        self.steps += 1;
        let projected = project_conflicts(step.shared, &orders);
        let shared = projected
            .into_iter()
            .reduce(|a, b| a + b)
            .expect("at least one task per step");
        Combined {
            shared,
            weights: vec![1.0; n],
        }
    }

    fn task_weights(&self) -> Vec<f64> {
        Vec::new()
    }

    fn state(&self) -> BalancerState {
        BalancerState::Pcgrad { steps: self.steps }
    }

    fn restore(&mut self, state: &BalancerState) -> bool {
        let BalancerState::Pcgrad { steps } = state else {
            return false;
        };
        self.steps = *steps;
        true
    }
}
