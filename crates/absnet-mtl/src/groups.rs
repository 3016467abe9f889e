//! Parameter groups: the shared encoder (backbone and neck) and each head, each with its own
//! optimizer, learning rate and freezing, stepped from one backward pass.

use absnet_model::{AbsNet, Head, HeadMapper, PerHead};
use burn::module::Module;
use burn::optim::{
    AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig,
    momentum::MomentumConfig,
};
use serde::{Deserialize, Serialize};

use crate::gradients::{GroupGradient, StepGradients};

/// Learning-rate schedule: a factor on a group's base rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    Constant,
    /// Multiply by `gamma` every `every` epochs (the reference).
    StepDecay {
        gamma: f64,
        every: usize,
    },
    /// Cosine from 1 to 0 over the run.
    Cosine,
}

impl LrSchedule {
    /// The factor at `epoch` of `epochs`, after `warmup` epochs of linear warm-up.
    pub fn scale(&self, epoch: usize, epochs: usize, warmup: usize) -> f64 {
        let base = match self {
            LrSchedule::Constant => 1.0,
            LrSchedule::StepDecay { gamma, every } => gamma.powi((epoch / (*every).max(1)) as i32),
            LrSchedule::Cosine => {
                0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs.max(1) as f64).cos())
            }
        };
        if epoch < warmup {
            base * (epoch + 1) as f64 / (warmup + 1) as f64
        } else {
            base
        }
    }
}

/// Which optimizer a group uses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adam,
    AdamW,
    /// SGD with momentum 0.9.
    Sgd,
}

/// One group's optimizer settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub optimizer: OptimizerKind,
    pub lr: f64,
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the group's gradient to this norm: the global norm of all the group's tensors
    /// together (the shared encoder's, or one head's), as `clip_grad_norm_` over the group.
    #[serde(default)]
    pub clip_norm: Option<f32>,
    /// Keep the group unchanged for the first N epochs.
    #[serde(default)]
    pub frozen_epochs: usize,
    /// This group's own schedule; without it, the run's `lr_schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<LrSchedule>,
}

impl GroupConfig {
    pub fn adam(lr: f64) -> Self {
        Self {
            optimizer: OptimizerKind::Adam,
            lr,
            weight_decay: 0.0,
            clip_norm: None,
            frozen_epochs: 0,
            schedule: None,
        }
    }

    /// The learning rate at `epoch` of `epochs` (after `warmup` epochs of warm-up): 0 while the
    /// group is frozen.
    pub fn lr_at(
        &self,
        epoch: usize,
        epochs: usize,
        warmup: usize,
        run_schedule: &LrSchedule,
    ) -> f64 {
        if epoch < self.frozen_epochs {
            return 0.0;
        }
        self.lr
            * self
                .schedule
                .as_ref()
                .unwrap_or(run_schedule)
                .scale(epoch, epochs, warmup)
    }

    /// PyTorch's defaults where burn's differ (Adam eps 1e-8, not 1e-5). Clipping is not the
    /// optimizer's (burn clips each tensor on its own): [`GroupOptimizers::step`] clips the
    /// group's whole gradient.
    pub fn build(&self) -> ModuleOptimizer {
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            OptimizerKind::Adam => AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(decay)
                .init(),
            OptimizerKind::AdamW => AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(self.weight_decay as f32)
                .init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(Some(MomentumConfig::new().with_momentum(0.9)))
                .with_weight_decay(decay)
                .init(),
        }
    }
}

/// Parameter groups (`[groups.*]`): the shared encoder, each head by name, and the balancing
/// method's own parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Groups {
    pub shared: GroupConfig,
    /// The balancing method's own parameters (uncertainty, GradNorm, FAMO).
    #[serde(default = "balancing_group")]
    pub balancing: GroupConfig,
    /// `[groups.saliency]`, `[groups.aesthetics]`: one per head (a misspelt head is refused).
    #[serde(flatten)]
    pub heads: PerHead<GroupConfig>,
}

/// FAMO's optimizer for its task logits: Adam, lr 0.025, weight decay 0.001.
fn balancing_group() -> GroupConfig {
    GroupConfig {
        weight_decay: 1e-3,
        ..GroupConfig::adam(0.025)
    }
}

/// The learning rate of every group at one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    pub shared: f64,
    pub heads: PerHead<f64>,
    pub balancing: f64,
}

impl Groups {
    /// Each group's rate at `epoch` of `epochs`, after `warmup` epochs of warm-up.
    pub fn rates(
        &self,
        epoch: usize,
        epochs: usize,
        warmup: usize,
        schedule: &LrSchedule,
    ) -> Rates {
        let rate = |g: &GroupConfig| g.lr_at(epoch, epochs, warmup, schedule);
        Rates {
            shared: rate(&self.shared),
            heads: self.heads.iter().map(|(&h, g)| (h, rate(g))).collect(),
            balancing: rate(&self.balancing),
        }
    }
}

/// The optimizers of ABSNet's groups: the shared encoder's and one per head the model has, and
/// each group's gradient-norm limit.
pub struct GroupOptimizers {
    pub shared: ModuleOptimizer,
    pub heads: PerHead<ModuleOptimizer>,
    shared_clip: Option<f32>,
    head_clips: PerHead<f32>,
}

/// One optimizer step of each head that has a gradient and is not frozen (rate 0).
struct HeadSteps<'a> {
    optimizers: &'a mut PerHead<ModuleOptimizer>,
    gradients: PerHead<GroupGradient>,
    rates: &'a PerHead<f64>,
    clips: &'a PerHead<f32>,
}

impl HeadMapper for HeadSteps<'_> {
    fn map<M: Module>(&mut self, head: Head, module: M) -> M {
        let lr = self.rates.get(&head).copied().unwrap_or(0.0);
        match (self.optimizers.get_mut(&head), self.gradients.remove(&head)) {
            (Some(optimizer), Some(gradient)) if lr > 0.0 => {
                let gradient = gradient.clipped(self.clips.get(&head).copied());
                let grads = gradient.params_for(&module);
                optimizer.step(lr, module, grads)
            }
            _ => module,
        }
    }
}

impl GroupOptimizers {
    pub fn new(model: &AbsNet, groups: &Groups) -> Self {
        Self {
            shared: groups.shared.build(),
            heads: model
                .config
                .heads()
                .into_iter()
                .filter_map(|h| Some((h, groups.heads.get(&h)?.build())))
                .collect(),
            shared_clip: groups.shared.clip_norm,
            head_clips: groups
                .heads
                .iter()
                .filter_map(|(&h, g)| Some((h, g.clip_norm?)))
                .collect(),
        }
    }

    /// One optimizer step per group that has a gradient, each at its own learning rate; a group
    /// at rate 0 (frozen) or without a gradient stays as it is, optimizer state included.
    pub fn step(&mut self, model: AbsNet, gradients: StepGradients, rates: &Rates) -> AbsNet {
        let model = match gradients.shared.filter(|_| rates.shared > 0.0) {
            Some(g) => {
                let g = g.clipped(self.shared_clip);
                let grads = g.params_for(&model.backbone);
                let backbone = self.shared.step(rates.shared, model.backbone, grads);
                let neck = model.neck.map(|neck| {
                    let grads = g.params_for(&neck);
                    self.shared.step(rates.shared, neck, grads)
                });
                AbsNet {
                    backbone,
                    neck,
                    ..model
                }
            }

            None => model,
        };
        model.map_heads(&mut HeadSteps {
            optimizers: &mut self.heads,
            gradients: gradients.heads,
            rates: &rates.heads,
            clips: &self.head_clips,
        })
    }

    /// The optimizers with their file names in a checkpoint.
    pub fn named(&mut self) -> Vec<(String, &mut ModuleOptimizer)> {
        let mut named = vec![("shared".to_string(), &mut self.shared)];
        named.extend(
            self.heads
                .iter_mut()
                .map(|(h, o)| (h.name().to_string(), o)),
        );
        named
    }
}
