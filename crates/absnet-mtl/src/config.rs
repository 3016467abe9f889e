//! Training configuration (TOML). `absnet train --print-default-config` prints the default,
//! every field commented.

use std::path::PathBuf;

use absnet_model::{AbsNetConfig, Arch, BackboneConfig};
use serde::{Deserialize, Serialize};

use crate::groups::GroupConfig;
use crate::losses::SaliencyLoss;

/// Learning-rate schedule applied to every group's base rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    Constant,
    /// Multiply by `gamma` every `every` epochs (the reference).
    StepDecay { gamma: f64, every: usize },
    /// Cosine from 1 to 0 over the run.
    Cosine,
}

impl LrSchedule {
    /// The factor at `epoch` of `epochs`, after `warmup` epochs of linear warm-up.
    pub fn scale(&self, epoch: usize, epochs: usize, warmup: usize) -> f64 {
        let base = match self {
            LrSchedule::Constant => 1.0,
            LrSchedule::StepDecay { gamma, every } => gamma.powi((epoch / (*every).max(1)) as i32),
            LrSchedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs.max(1) as f64).cos()),
        };
        if epoch < warmup { base * (epoch + 1) as f64 / (warmup + 1) as f64 } else { base }
    }
}

/// What to do with a batch whose loss or gradients are not finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NonFinite {
    /// Stop with an error; the last checkpoint stays as it was.
    Stop,
    /// Skip the batch (counted in the log).
    Skip,
}

/// The saliency task: datasets with fixations or density maps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaliencyTask {
    /// Dataset specs (`FORMAT:PATH`), pooled.
    pub datasets: Vec<String>,
    /// Split file (JSON); drawn from `split_seed` and `split_ratios` if it does not exist.
    pub split: PathBuf,
    #[serde(default = "default_split_seed")]
    pub split_seed: u64,
    /// Train, validation, test.
    #[serde(default = "default_ratios")]
    pub split_ratios: [f64; 3],
    /// Ground-truth σ as a fraction of the image diagonal (datasets with their own σ use it).
    #[serde(default = "default_sigma_fraction")]
    pub sigma_fraction: f64,
    #[serde(default)]
    pub loss: SaliencyLoss,
    /// Weight of this task's loss in the combined step.
    #[serde(default = "one")]
    pub weight: f32,
}

fn default_split_seed() -> u64 {
    2020
}
fn default_ratios() -> [f64; 3] {
    [0.8, 0.1, 0.1]
}
fn default_sigma_fraction() -> f64 {
    0.03
}
fn one() -> f32 {
    1.0
}

/// Parameter groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    pub shared: GroupConfig,
    pub saliency: GroupConfig,
    pub aesthetics: GroupConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: AbsNetConfig,
    /// ImageNet weights for the backbone (`.pth` or converted `.safetensors`).
    pub backbone_weights: Option<PathBuf>,
    /// Model input `[width, height]`.
    pub input: [u32; 2],
    pub batch: usize,
    pub epochs: usize,
    /// Stop an epoch after this many steps (small runs, tests); `None`: the whole training set.
    #[serde(default)]
    pub steps_per_epoch: Option<usize>,
    /// Validate on at most this many images.
    #[serde(default)]
    pub val_images: Option<usize>,
    pub seed: u64,
    /// Random horizontal flips of training images.
    #[serde(default = "yes")]
    pub flip: bool,
    pub saliency: Option<SaliencyTask>,
    pub groups: Groups,
    pub schedule: LrSchedule,
    #[serde(default)]
    pub warmup_epochs: usize,
    #[serde(default = "default_non_finite")]
    pub non_finite: NonFinite,
    /// Leave out samples that fail to load (counted) instead of stopping.
    #[serde(default)]
    pub skip_bad: bool,
}

fn yes() -> bool {
    true
}
fn default_non_finite() -> NonFinite {
    NonFinite::Stop
}

impl TrainConfig {
    /// Saliency on OSIE and Scene with an ImageNet MobileNetV2, the project's default model.
    pub fn default_saliency() -> Self {
        let mut model = AbsNetConfig::reference(BackboneConfig::new(Arch::MobilenetV2));
        model.heads.aesthetics = None;
        Self {
            model,
            backbone_weights: Some(PathBuf::from("weights/mobilenet_v2.safetensors")),
            input: [320, 240],
            batch: 8,
            epochs: 8,
            steps_per_epoch: None,
            val_images: None,
            seed: 2020,
            flip: true,
            saliency: Some(SaliencyTask {
                datasets: vec!["osie:../shared/data/osie".into(), "scene:../shared/data/scene".into()],
                split: PathBuf::from("models/default/split.json"),
                split_seed: default_split_seed(),
                split_ratios: default_ratios(),
                sigma_fraction: default_sigma_fraction(),
                loss: SaliencyLoss {
                    tv: 0.0,
                    kld: 1.0,
                    cc: 1.0,
                    nss: 0.1,
                    mse: 0.0,
                },
                weight: 1.0,
            }),
            groups: Groups {
                shared: GroupConfig::adam(1e-4),
                saliency: GroupConfig::adam(1e-3),
                aesthetics: GroupConfig::adam(1e-3),
            },
            schedule: LrSchedule::StepDecay { gamma: 0.5, every: 3 },
            warmup_epochs: 0,
            non_finite: NonFinite::Stop,
            skip_bad: false,
        }
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.model.validate().map_err(|e| e.to_string())?;
        if config.saliency.is_none() {
            return Err("no task: add a [saliency] section".into());
        }
        if config.saliency.is_some() && config.model.heads.saliency.is_none() {
            return Err("[saliency] task given but the model has no [model.heads.saliency]".into());
        }
        if config.batch == 0 || config.epochs == 0 || config.input.contains(&0) {
            return Err(format!(
                "batch = {}, epochs = {}, input = {:?}: all must be positive",
                config.batch, config.epochs, config.input
            ));
        }
        Ok(config)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config always serialises")
    }
}
