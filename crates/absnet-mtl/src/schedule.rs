//! Task schedules: which tasks a training step trains, when the tasks' datasets are disjoint
//! (saliency images carry no aesthetic votes and vice versa). Steps are counted over the whole
//! run, so a schedule continues across epochs and resumes where it stopped.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskSchedule {
    /// Rounds of one task at a time, in the order of the config (saliency, then aesthetics), as
    /// the reference trains — but each group keeps its optimizer state across rounds. A round is
    /// `round_steps` steps, or `round_epochs` passes over that task's training set.
    Alternating {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        round_steps: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        round_epochs: Option<usize>,
    },
    /// One task per step, taking turns: saliency, aesthetics, saliency, …
    Interleaved {},
    /// Every task every step, one batch each; the balancing method combines them (LibMTL's
    /// multi-input mode).
    Joint {},
}

impl Default for TaskSchedule {
    fn default() -> Self {
        Self::Alternating {
            round_steps: None,
            round_epochs: Some(1),
        }
    }
}

impl TaskSchedule {
    pub fn validate(&self) -> Result<(), crate::error::ConfigError> {
        match self {
            Self::Alternating {
                round_steps,
                round_epochs,
            } => match (round_steps, round_epochs) {
                (Some(n), None) | (None, Some(n)) if *n > 0 => Ok(()),
                _ => Err(crate::error::ConfigError::invalid(
                    "task_schedule",
                    "`alternating` needs exactly one of round_steps and round_epochs, at least 1",
                )),
            },

            _ => Ok(()),
        }
    }

    /// The tasks trained at `step` (counted from the start of the run), given the number of
    /// batches in one pass over each task's training set.
    pub fn tasks_at(&self, step: usize, batches: &[usize]) -> Vec<usize> {
        let tasks = batches.len();
        match self {
            Self::Joint {} => (0..tasks).collect(),
            Self::Interleaved {} => vec![step % tasks],
            Self::Alternating {
                round_steps,
                round_epochs,
            } => {
                let rounds: Vec<usize> = batches
                    .iter()
                    .map(|&b| {
                        round_steps
                            .unwrap_or_else(|| round_epochs.unwrap_or(1) * b)
                            .max(1)
                    })
                    .collect();
                let mut position = step % rounds.iter().sum::<usize>();
                for (task, &round) in rounds.iter().enumerate() {
                    if position < round {
                        return vec![task];
                    }
                    position -= round;
                }
                unreachable!("the position lies within one cycle")
            }
        }
    }

    /// Steps in an epoch unless the config sets `steps_per_epoch`: one pass over every task's
    /// training set — the sum of the tasks' batches when a step trains one task, the largest
    /// when it trains all.
    pub fn epoch_steps(&self, batches: &[usize]) -> usize {
        match self {
            Self::Joint {} => batches.iter().copied().max().unwrap_or(0),
            _ => batches.iter().sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visits(schedule: &TaskSchedule, steps: usize, batches: &[usize]) -> Vec<Vec<usize>> {
        (0..steps).map(|s| schedule.tasks_at(s, batches)).collect()
    }

    #[test]
    fn alternating_rounds_follow_the_config_order() {
        let by_steps = TaskSchedule::Alternating {
            round_steps: Some(2),
            round_epochs: None,
        };
        assert_eq!(
            visits(&by_steps, 7, &[5, 3]),
            [[0], [0], [1], [1], [0], [0], [1]]
        );
        // A round of one epoch is that task's batches per pass: 3 of task 0, then 2 of task 1.
        let by_epochs = TaskSchedule::default();
        assert_eq!(
            visits(&by_epochs, 7, &[3, 2]),
            [[0], [0], [0], [1], [1], [0], [0]]
        );
        assert_eq!(by_epochs.epoch_steps(&[3, 2]), 5);
    }

    #[test]
    fn interleaved_takes_turns_and_joint_trains_all() {
        assert_eq!(
            visits(&TaskSchedule::Interleaved {}, 5, &[4, 9]),
            [[0], [1], [0], [1], [0]]
        );
        assert_eq!(
            visits(&TaskSchedule::Joint {}, 2, &[4, 9]),
            [[0, 1], [0, 1]]
        );
        assert_eq!(TaskSchedule::Joint {}.epoch_steps(&[4, 9]), 9);
        // One task: every schedule trains it every step.
        for schedule in [
            TaskSchedule::default(),
            TaskSchedule::Interleaved {},
            TaskSchedule::Joint {},
        ] {
            assert_eq!(visits(&schedule, 3, &[4]), [[0], [0], [0]]);
        }
    }

    #[test]
    fn an_alternating_round_needs_one_positive_length() {
        assert!(
            TaskSchedule::Alternating {
                round_steps: Some(3),
                round_epochs: Some(1)
            }
            .validate()
            .is_err()
        );
        assert!(
            TaskSchedule::Alternating {
                round_steps: Some(0),
                round_epochs: None
            }
            .validate()
            .is_err()
        );
        assert!(
            TaskSchedule::Alternating {
                round_steps: None,
                round_epochs: None
            }
            .validate()
            .is_err()
        );
    }
}
