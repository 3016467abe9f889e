//! Parameter groups: the shared encoder (backbone and neck) and each head, each with its own
//! optimizer, learning rate and freezing, stepped from one backward pass.

use absnet_model::AbsNet;
use burn::module::Module;
use burn::optim::{
    AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig,
    momentum::MomentumConfig,
};
use serde::{Deserialize, Serialize};

use crate::gradients::GroupGradient;

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
    /// Clip the group's gradient norm to this value.
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

    /// PyTorch's defaults where burn's differ (Adam eps 1e-8, not 1e-5).
    pub fn build(&self) -> ModuleOptimizer {
        let clip = self
            .clip_norm
            .map(burn::grad_clipping::GradientClippingConfig::Norm);
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            OptimizerKind::Adam => AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(decay)
                .with_grad_clipping(clip)
                .init(),
            OptimizerKind::AdamW => AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(self.weight_decay as f32)
                .with_grad_clipping(clip)
                .init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(Some(MomentumConfig::new().with_momentum(0.9)))
                .with_weight_decay(decay)
                .with_gradient_clipping(clip)
                .init(),
        }
    }
}

/// One step's gradient of each group (`None`: the group received none).
pub struct StepGradients {
    pub shared: Option<GroupGradient>,
    pub saliency: Option<GroupGradient>,
    pub aesthetics: Option<GroupGradient>,
}

/// Learning rates of the shared, saliency and aesthetics groups at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupRates {
    pub shared: f64,
    pub saliency: f64,
    pub aesthetics: f64,
}

/// One head's step, when it exists, has a gradient and is not frozen (`lr` 0).
fn step_head<M: Module>(
    head: Option<M>,
    optimizer: Option<&mut ModuleOptimizer>,
    gradient: Option<GroupGradient>,
    lr: f64,
) -> Option<M> {
    match (head, optimizer, gradient) {
        (Some(head), Some(optimizer), Some(g)) if lr > 0.0 => {
            let grads = g.params_for(&head);
            Some(optimizer.step(lr, head, grads))
        }
        (head, _, _) => head,
    }
}

/// The optimizers of ABSNet's groups. A head the model lacks has no optimizer.
pub struct GroupOptimizers {
    pub shared: ModuleOptimizer,
    pub saliency: Option<ModuleOptimizer>,
    pub aesthetics: Option<ModuleOptimizer>,
}

impl GroupOptimizers {
    pub fn new(
        model: &AbsNet,
        shared: &GroupConfig,
        saliency: &GroupConfig,
        aesthetics: &GroupConfig,
    ) -> Self {
        Self {
            shared: shared.build(),
            saliency: model.saliency.is_some().then(|| saliency.build()),
            aesthetics: model.aesthetics.is_some().then(|| aesthetics.build()),
        }
    }

    /// One optimizer step per group that has a gradient, each at its own learning rate; a group
    /// at rate 0 (frozen) or without a gradient stays as it is, optimizer state included.
    pub fn step(&mut self, model: AbsNet, gradients: StepGradients, rates: GroupRates) -> AbsNet {
        let AbsNet {
            backbone,
            neck,
            saliency,
            aesthetics,
            config,
        } = model;
        let (backbone, neck) = match gradients.shared.filter(|_| rates.shared > 0.0) {
            Some(g) => {
                let grads = g.params_for(&backbone);
                let backbone = self.shared.step(rates.shared, backbone, grads);
                let neck = neck.map(|neck| {
                    let grads = g.params_for(&neck);
                    self.shared.step(rates.shared, neck, grads)
                });
                (backbone, neck)
            }
            None => (backbone, neck),
        };
        let saliency = step_head(
            saliency,
            self.saliency.as_mut(),
            gradients.saliency,
            rates.saliency,
        );
        let aesthetics = step_head(
            aesthetics,
            self.aesthetics.as_mut(),
            gradients.aesthetics,
            rates.aesthetics,
        );
        AbsNet {
            backbone,
            neck,
            saliency,
            aesthetics,
            config,
        }
    }

    /// The optimizers with their file names in a checkpoint.
    pub fn named(&mut self) -> Vec<(&'static str, &mut ModuleOptimizer)> {
        let mut named = vec![("shared", &mut self.shared)];
        if let Some(o) = &mut self.saliency {
            named.push(("saliency", o));
        }
        if let Some(o) = &mut self.aesthetics {
            named.push(("aesthetics", o));
        }
        named
    }
}
