//! Equal weighting: the plain sum of the task losses, `L = Σₜ Lₜ`.

use super::{Balancing, Combined, TaskStep};

pub struct Equal;

impl Balancing for Equal {
    fn combine(&mut self, step: &TaskStep) -> Combined {
        Combined::weighted(step, vec![1.0; step.tasks.len()])
    }

    fn task_weights(&self) -> Vec<f64> {
        Vec::new()
    }
}
