//! Parameter groups: the shared encoder (backbone and neck) and each head, each with its own
//! optimizer, learning rate and freezing, stepped from one backward pass.

use absnet_model::AbsNet;
use burn::optim::{
    AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig,
    decay::WeightDecayConfig, momentum::MomentumConfig,
};
use burn::tensor::Gradients;
use serde::{Deserialize, Serialize};

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
}

impl GroupConfig {
    pub fn adam(lr: f64) -> Self {
        Self {
            optimizer: OptimizerKind::Adam,
            lr,
            weight_decay: 0.0,
            clip_norm: None,
            frozen_epochs: 0,
        }
    }

    /// PyTorch's defaults where burn's differ (Adam eps 1e-8, not 1e-5).
    pub fn build(&self) -> ModuleOptimizer {
        let clip = self.clip_norm.map(burn::grad_clipping::GradientClippingConfig::Norm);
        let decay = (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
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

/// The optimizers of ABSNet's groups. A head the model lacks has no optimizer.
pub struct GroupOptimizers {
    pub shared: (GroupConfig, ModuleOptimizer),
    pub saliency: Option<(GroupConfig, ModuleOptimizer)>,
    pub aesthetics: Option<(GroupConfig, ModuleOptimizer)>,
}

impl GroupOptimizers {
    pub fn new(model: &AbsNet, shared: GroupConfig, saliency: GroupConfig, aesthetics: GroupConfig) -> Self {
        Self {
            shared: (shared.clone(), shared.build()),
            saliency: model.saliency.is_some().then(|| (saliency.clone(), saliency.build())),
            aesthetics: model.aesthetics.is_some().then(|| (aesthetics.clone(), aesthetics.build())),
        }
    }

    /// One optimizer step per group from the gradients of one backward pass, each at its own
    /// learning rate scaled by `lr_scale` (the schedule); groups frozen at `epoch` stay as they
    /// are.
    pub fn step(&mut self, model: AbsNet, mut grads: Gradients, epoch: usize, lr_scale: f64) -> AbsNet {
        let AbsNet {
            backbone,
            neck,
            saliency,
            aesthetics,
            config,
        } = model;
        let active = |c: &GroupConfig| epoch >= c.frozen_epochs;
        let (shared_config, shared_optimizer) = &mut self.shared;
        let (backbone, neck) = if active(shared_config) {
            let lr = shared_config.lr * lr_scale;
            let g = GradientsParams::from_module(&mut grads, &backbone);
            let backbone = shared_optimizer.step(lr, backbone, g);
            let neck = neck.map(|neck| {
                let g = GradientsParams::from_module(&mut grads, &neck);
                shared_optimizer.step(lr, neck, g)
            });
            (backbone, neck)
        } else {
            (backbone, neck)
        };
        let saliency = match (saliency, &mut self.saliency) {
            (Some(head), Some((c, optimizer))) if active(c) => {
                let g = GradientsParams::from_module(&mut grads, &head);
                Some(optimizer.step(c.lr * lr_scale, head, g))
            }
            (head, _) => head,
        };
        let aesthetics = match (aesthetics, &mut self.aesthetics) {
            (Some(head), Some((c, optimizer))) if active(c) => {
                let g = GradientsParams::from_module(&mut grads, &head);
                Some(optimizer.step(c.lr * lr_scale, head, g))
            }
            (head, _) => head,
        };
        AbsNet {
            backbone,
            neck,
            saliency,
            aesthetics,
            config,
        }
    }
}
