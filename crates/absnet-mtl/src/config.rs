//! Training configuration (TOML). `absnet train --print-default-config` prints the default,
//! every field commented.

use std::path::PathBuf;

use absnet_model::AbsNetConfig;
use serde::{Deserialize, Serialize};

use crate::balancing::BalancingConfig;
use crate::groups::{GroupConfig, LrSchedule};
use crate::losses::SaliencyLoss;
use crate::schedule::TaskSchedule;

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
    /// Weight of this task's loss under `balancing = "fixed"`.
    #[serde(default = "one")]
    pub weight: f32,
}

/// The aesthetics task: datasets with AVA vote counts, trained with EMD (r = 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AestheticsTask {
    /// Dataset specs (`ava:PATH` or `ava-json:FILE`), pooled.
    pub datasets: Vec<String>,
    /// Split file (JSON); drawn from `split_seed` and `split_ratios` if it does not exist.
    pub split: PathBuf,
    #[serde(default = "default_split_seed")]
    pub split_seed: u64,
    #[serde(default = "default_ratios")]
    pub split_ratios: [f64; 3],
    /// Weight of this task's loss under `balancing = "fixed"`.
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
    /// The balancing method's own parameters (uncertainty, GradNorm, FAMO).
    #[serde(default = "balancing_group")]
    pub balancing: GroupConfig,
}

/// FAMO's optimizer for its task logits: Adam, lr 0.025, weight decay 0.001.
fn balancing_group() -> GroupConfig {
    GroupConfig {
        weight_decay: 1e-3,
        ..GroupConfig::adam(0.025)
    }
}

/// The default configuration, every field commented (`absnet train --print-default-config`).
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

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
    /// Write a checkpoint every this many steps too (epoch ends always write one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_steps: Option<usize>,
    pub saliency: Option<SaliencyTask>,
    pub aesthetics: Option<AestheticsTask>,
    #[serde(default)]
    pub task_schedule: TaskSchedule,
    #[serde(default)]
    pub balancing: BalancingConfig,
    pub groups: Groups,
    #[serde(alias = "schedule")]
    pub lr_schedule: LrSchedule,
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
    /// Saliency on OSIE and Scene with an ImageNet MobileNetV2, the project's default model:
    /// [`DEFAULT_CONFIG`].
    pub fn default_saliency() -> Self {
        Self::from_toml(DEFAULT_CONFIG).expect("the documented default config is valid")
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// `text` with `KEY=VALUE` overrides applied (dotted keys; values in TOML syntax, a bare
    /// word is a string).
    pub fn from_toml_with(text: &str, overrides: &[String]) -> Result<Self, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        for item in overrides {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("--set {item}: expected KEY=VALUE"))?;
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_string()));
            let mut parts: Vec<&str> = key.trim().split('.').collect();
            let last = parts
                .pop()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("--set {item}: empty key"))?;
            let mut current = &mut table;
            for part in parts {
                current = current
                    .entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| format!("--set {item}: `{part}` is not a section"))?;
            }
            current.insert(last.to_string(), value);
        }
        let config: Self = table
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Everything that can be checked before any data is read.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate().map_err(|e| e.to_string())?;
        if self.saliency.is_none() && self.aesthetics.is_none() {
            return Err("no task: add a [saliency] or an [aesthetics] section".into());
        }
        if self.saliency.is_some() && self.model.heads.saliency.is_none() {
            return Err("[saliency] task given but the model has no [model.heads.saliency]".into());
        }
        if let Some(task) = &self.aesthetics {
            let Some(head) = &self.model.heads.aesthetics else {
                return Err(
                    "[aesthetics] task given but the model has no [model.heads.aesthetics]".into(),
                );
            };
            if head.bins != 10 {
                return Err(format!(
                    "[model.heads.aesthetics] bins = {}: AVA vote counts have 10 bins",
                    head.bins
                ));
            }
            if task.datasets.is_empty() {
                return Err("[aesthetics] datasets is empty".into());
            }
        }
        if self
            .saliency
            .as_ref()
            .is_some_and(|t| t.datasets.is_empty())
        {
            return Err("[saliency] datasets is empty".into());
        }
        if self.batch == 0 || self.epochs == 0 || self.input.contains(&0) {
            return Err(format!(
                "batch = {}, epochs = {}, input = {:?}: all must be positive",
                self.batch, self.epochs, self.input
            ));
        }
        if self.steps_per_epoch == Some(0) || self.checkpoint_steps == Some(0) {
            return Err("steps_per_epoch and checkpoint_steps must be positive".into());
        }
        self.task_schedule.validate()
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_default_is_the_default_model_recipe() {
        let config = TrainConfig::default_saliency();
        assert_eq!(config.input, [320, 240]);
        assert!(config.aesthetics.is_none() && config.model.heads.aesthetics.is_none());
        assert_eq!(config.balancing, BalancingConfig::Equal {});
        assert_eq!(config.task_schedule, TaskSchedule::default());
        // What it prints back is the same configuration.
        assert_eq!(TrainConfig::from_toml(&config.to_toml()).unwrap(), config);
        // The commented-out multi-task sections form a valid config once uncommented.
        let multi_task = DEFAULT_CONFIG
            .lines()
            .map(|l| {
                let setting = |r: &&str| {
                    r.starts_with('[')
                        || (r.starts_with(|c: char| c.is_ascii_lowercase()) && r.contains(" = "))
                };
                l.strip_prefix("# ").filter(setting).unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let config = TrainConfig::from_toml(&multi_task).unwrap();
        assert_eq!(
            config.aesthetics.unwrap().datasets,
            vec!["ava:/data/AVA".to_string()]
        );
        assert_eq!(config.model.heads.aesthetics.unwrap().bins, 10);
    }

    #[test]
    fn overrides_reach_nested_fields() {
        let sets = [
            "batch=4",
            "balancing.method=famo",
            "task_schedule.kind=joint",
            "task_schedule.round_epochs=1",
        ]
        .map(String::from);
        // `round_epochs` does not belong to `joint`: refused by name.
        let message = TrainConfig::from_toml_with(DEFAULT_CONFIG, &sets).unwrap_err();
        assert!(message.contains("round_epochs"), "{message}");
        let config = TrainConfig::from_toml_with(DEFAULT_CONFIG, &sets[..2]).unwrap();
        assert_eq!(
            (config.batch, config.balancing),
            (4, BalancingConfig::Famo {})
        );
        assert!(
            TrainConfig::from_toml_with(DEFAULT_CONFIG, &["batch".to_string()])
                .unwrap_err()
                .contains("KEY=VALUE")
        );
    }

    #[test]
    fn a_task_without_its_head_fails_before_training() {
        let text = DEFAULT_CONFIG
            .replace("[model.heads.saliency]", "[model.heads.aesthetics]")
            .replace("widths = [32, 8]\nkernel = 7\n", "");
        let message = TrainConfig::from_toml(&text).unwrap_err();
        assert!(message.contains("no [model.heads.saliency]"), "{message}");
    }
}
