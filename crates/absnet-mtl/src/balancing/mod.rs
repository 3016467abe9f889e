//! Loss balancing: how the losses (and gradients) of the tasks trained in one step become one
//! update of the shared encoder. One small trait, one short file per method, like LibMTL's
//! `AbsWeighting`; each file cites its paper and reads like its update rule.
//!
//! Every method sees, per step, the tasks trained (indices into the run's task list), their loss
//! values and their gradients of the **shared group** (backbone and neck, flattened), and
//! returns the shared gradient to apply and each task's weight, which also scales that task's
//! head gradient. With the `alternating` and `interleaved` schedules a step trains one task, so
//! a method's weight for it acts as a scale of that task's updates; the methods differ most with
//! `joint`.

mod dwa;
mod equal;
mod famo;
mod fixed;
mod gradnorm;
mod pcgrad;
mod uncertainty;

use std::path::Path;

use burn::module::{Module, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

pub use dwa::Dwa;
pub use equal::Equal;
pub use famo::Famo;
pub use fixed::Fixed;
pub use gradnorm::GradNorm;
pub use pcgrad::{PcGrad, project_conflicts};
pub use uncertainty::Uncertainty;

use crate::error::{ConfigError, TrainError};
use crate::gradients::weighted_sum;
use crate::groups::GroupConfig;

/// Which method a run uses (`[balancing]` in the config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum BalancingConfig {
    /// Every task weight 1: the plain sum.
    Equal {},
    /// Each task's `weight` from its section.
    Fixed {},
    /// Learned homoscedastic uncertainty (Kendall et al. 2018).
    Uncertainty {},
    /// Dynamic weight average (Liu et al. 2019); `temperature` T in their eq. 7.
    Dwa {
        #[serde(default = "default_temperature")]
        temperature: f64,
    },
    /// GradNorm (Chen et al. 2018); `alpha` is the restoring-force strength.
    GradNorm {
        #[serde(default = "default_alpha")]
        alpha: f64,
    },
    /// Projecting conflicting gradients (Yu et al. 2020).
    Pcgrad {},
    /// Fast adaptive multitask optimisation (Liu et al. 2023).
    Famo {},
}

fn default_temperature() -> f64 {
    2.0
}
fn default_alpha() -> f64 {
    1.5
}

impl Default for BalancingConfig {
    fn default() -> Self {
        Self::Equal {}
    }
}

impl BalancingConfig {
    /// The methods' options in range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Dwa { temperature } => {
                crate::error::positive("balancing.temperature", *temperature)
            }
            Self::GradNorm { alpha } if !(alpha.is_finite() && *alpha >= 0.0) => {
                Err(ConfigError::invalid(
                    "balancing.alpha",
                    format!("{alpha}: expected a finite number ≥ 0"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Whether the method reads each loss's scale — uncertainty (a learned variance), DWA and
    /// GradNorm (ratios of a task's losses), FAMO (their logarithms) — and so needs losses ≥ 0.
    pub fn reads_loss_scale(&self) -> bool {
        matches!(
            self,
            Self::Uncertainty {} | Self::Dwa { .. } | Self::GradNorm { .. } | Self::Famo {}
        )
    }

    /// The method for `fixed_weights.len()` tasks; `group` trains its own parameters, if any,
    /// on `device` (an autodiff device).
    pub fn build(
        &self,
        fixed_weights: &[f64],
        group: &GroupConfig,
        device: &Device,
        seed: u64,
    ) -> Box<dyn Balancing> {
        let tasks = fixed_weights.len();
        match self {
            Self::Equal {} => Box::new(Equal),
            Self::Fixed {} => Box::new(Fixed::new(fixed_weights.to_vec())),
            Self::Uncertainty {} => Box::new(Uncertainty::new(tasks, group, device)),
            Self::Dwa { temperature } => Box::new(Dwa::new(tasks, *temperature)),
            Self::GradNorm { alpha } => Box::new(GradNorm::new(tasks, *alpha, group, device)),
            Self::Pcgrad {} => Box::new(PcGrad::new(seed)),
            Self::Famo {} => Box::new(Famo::new(tasks, group, device)),
        }
    }
}

/// One training step as a balancing method sees it.
pub struct TaskStep<'a> {
    /// The tasks trained at this step (indices into the run's tasks), in order.
    pub tasks: &'a [usize],
    /// Their loss values.
    pub losses: &'a [f64],
    /// Their gradients of the shared group, flattened alike.
    pub shared: &'a [Tensor<1>],
    /// The learning rate of the method's own parameters at this step (0 while frozen).
    pub lr: f64,
}

/// What a method makes of a step.
pub struct Combined {
    /// The shared group's gradient to apply.
    pub shared: Tensor<1>,
    /// Each task's weight (same order as [`TaskStep::tasks`]); it scales the task's head
    /// gradient.
    pub weights: Vec<f64>,
}

impl Combined {
    /// `Σ wᵢ gᵢ`: what every loss-weighting method applies.
    pub fn weighted(step: &TaskStep, weights: Vec<f64>) -> Self {
        Self {
            shared: weighted_sum(step.shared, &weights),
            weights,
        }
    }
}

/// What a method keeps between steps, in checkpoints (its own parameters are saved beside).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum BalancerState {
    /// Nothing beyond its parameters.
    #[default]
    Stateless,
    /// DWA: the mean losses of the last two epochs, older first.
    Dwa { history: Vec<Vec<Option<f64>>> },
    /// GradNorm: each task's first loss.
    GradNorm { initial_losses: Vec<Option<f64>> },
    /// PCGrad: steps taken (seeds the order in which conflicts are projected).
    Pcgrad { steps: u64 },
}

/// A loss-balancing method.
pub trait Balancing {
    /// The shared gradient and task weights of one step (and, for methods that learn, one
    /// update of their parameters).
    fn combine(&mut self, step: &TaskStep) -> Combined;

    /// Whether [`Balancing::after_step`] wants the same batches' losses after the update.
    fn needs_losses_after_step(&self) -> bool {
        false
    }

    /// The losses of the step's batches after the update (FAMO's rule).
    fn after_step(&mut self, _tasks: &[usize], _losses_after: &[f64], _lr: f64) {}

    /// The mean loss of each task over the epoch that ended (`None`: not trained in it).
    fn end_epoch(&mut self, _mean_losses: &[Option<f64>]) {}

    /// The method's current weight of each task, for the log.
    fn task_weights(&self) -> Vec<f64>;

    /// History kept between steps, for checkpoints.
    fn state(&self) -> BalancerState {
        BalancerState::Stateless
    }

    /// Takes up the history of a checkpoint; `false` when it is another method's.
    fn restore(&mut self, state: &BalancerState) -> bool {
        *state == BalancerState::Stateless
    }

    /// The method's own parameters with their optimizer, if it has any.
    fn learned(&mut self) -> Option<&mut Learned> {
        None
    }
}

/// One value per task, a parameter of the `balancing` group.
#[derive(Module, Debug)]
pub struct TaskValues {
    pub values: Param<Tensor<1>>,
}

/// A method's parameters (one per task) and the optimizer of the `balancing` group.
pub struct Learned {
    params: TaskValues,
    optimizer: ModuleOptimizer,
    device: Device,
}

impl Learned {
    pub fn new(initial: &[f64], group: &GroupConfig, device: &Device) -> Self {
        Self {
            params: TaskValues {
                values: Param::from_tensor(Self::tensor(initial, device)),
            },
            optimizer: group.build(),
            device: device.clone(),
        }
    }

    fn tensor(values: &[f64], device: &Device) -> Tensor<1> {
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), device).require_grad()
    }

    pub fn values(&self) -> Vec<f64> {
        let data = self.params.values.val().into_data().convert::<f32>();
        data.try_into_vec::<f32>()
            .expect("f32")
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// One optimizer step down the gradient of `objective` (a function of the parameters and
    /// constants only) at learning rate `lr`; nothing when `lr` is 0 (a frozen group).
    pub fn step(&mut self, lr: f64, objective: impl FnOnce(Tensor<1>) -> Tensor<1>) {
        if lr == 0.0 {
            return;
        }
        let loss = objective(self.params.values.val());
        let mut grads = loss.backward();
        let grads = GradientsParams::from_module(&mut grads, &self.params);
        self.params = self.optimizer.step(lr, self.params.clone(), grads);
    }

    /// Replaces the values (a renormalisation), keeping the parameter and its optimizer state.
    pub fn set(&mut self, values: &[f64]) {
        let id = self.params.values.id;
        self.params.values = Param::initialized(id, Self::tensor(values, &self.device));
    }

    /// Constants of this step as a tensor beside the parameters.
    pub fn constants(&self, values: &[f64]) -> Tensor<1> {
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), &self.device)
    }

    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join("balancing.bpk");
        self.params
            .clone()
            .save_file(&path)
            .map_err(|e| TrainError::checkpoint(&path, e))?;
        let path = dir.join("optimizer-balancing.bpk");
        self.optimizer
            .save(&path)
            .map_err(|e| TrainError::checkpoint(&path, e))
    }

    pub fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join("balancing.bpk");
        self.params = self
            .params
            .clone()
            .try_load_file(&path)
            .map_err(|e| TrainError::checkpoint(&path, e))?;
        let path = dir.join("optimizer-balancing.bpk");
        self.optimizer = self
            .optimizer
            .clone()
            .load(&path)
            .map_err(|e| TrainError::checkpoint(&path, e))?;
        Ok(())
    }
}

/// 1 for the tasks of this step, 0 for the others.
fn step_mask(tasks: usize, step: &[usize]) -> Vec<f64> {
    (0..tasks)
        .map(|t| if step.contains(&t) { 1.0 } else { 0.0 })
        .collect()
}

/// The step's values spread over all tasks (0 elsewhere).
fn spread(tasks: usize, step: &[usize], values: &[f64]) -> Vec<f64> {
    let mut all = vec![0.0; tasks];
    for (&t, &v) in step.iter().zip(values) {
        all[t] = v;
    }
    all
}
