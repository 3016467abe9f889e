//! Training configuration (TOML). `absnet train --print-default-config` prints the default,
//! every field commented. [`TrainConfig::validate`] checks every value's range before anything
//! is loaded or written, naming the key.

use std::path::PathBuf;

use absnet_data::DatasetSpec;
use absnet_metrics::rating::BINS as RATING_BINS;
use absnet_model::{AbsNetConfig, Head, Tap};
use serde::{Deserialize, Serialize};

use crate::balancing::BalancingConfig;
use crate::error::{ConfigError, positive};
use crate::groups::{GroupConfig, Groups, LrSchedule};
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
    pub datasets: Vec<DatasetSpec>,
    /// A folder of per-dataset split files (`NAME.json`), or one `.json` file over all the
    /// datasets pooled; drawn from `split_seed` and `split_ratios` where missing.
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
    /// The validation metric that picks the best checkpoint.
    #[serde(default)]
    pub selection: SaliencySelection,
    /// Weight of this task's loss under `balancing = "fixed"`.
    #[serde(default = "one")]
    pub weight: f32,
}

/// Saliency validation metrics a best checkpoint can be chosen by (higher is better).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaliencySelection {
    Nss,
    #[default]
    Cc,
    AucJudd,
    /// The fixations' log-likelihood gain over a uniform density, bits per fixation.
    LlBits,
}

impl SaliencySelection {
    /// The metric's name in validation logs.
    pub fn name(self) -> &'static str {
        match self {
            SaliencySelection::Nss => "nss",
            SaliencySelection::Cc => "cc",
            SaliencySelection::AucJudd => "auc_judd",
            SaliencySelection::LlBits => "ll_bits",
        }
    }
}

/// An image-rating task — `[aesthetics]` (AVA vote counts) or `[quality]` (a quality study's
/// opinion scores, `livec:PATH`): its head's score distribution trained with EMD (r = 2) and/or
/// an L1/L2 loss on the mean score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingTask {
    /// Dataset specs, pooled: `ava:PATH` or `ava-json:FILE` for aesthetics, `livec:PATH` for
    /// quality.
    pub datasets: Vec<DatasetSpec>,
    /// A folder of per-dataset split files, or one `.json` file; drawn where missing.
    pub split: PathBuf,
    #[serde(default = "default_split_seed")]
    pub split_seed: u64,
    #[serde(default = "default_ratios")]
    pub split_ratios: [f64; 3],
    #[serde(default)]
    pub loss: RatingLoss,
    /// Train on a random window `[width, height]` of each input (a multiple of 32 px, the
    /// encoder's deepest stride), cut from the encoder's features at every depth, a new window
    /// at every visit; validation and prediction see the whole input. `None`: the whole input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<[u32; 2]>,
    /// Weight of this task's loss under `balancing = "fixed"`.
    #[serde(default = "one")]
    pub weight: f32,
}

/// A weighted sum of rating losses: EMD (r = 2) between the predicted and the target score
/// distributions (NIMA's), and L1 / L2 between the predicted mean score and the target's, both
/// on the bins' 0–1 position scale (so weights mean the same for AVA and LIVE-C),
/// `1 − PLCC` of the batch's predicted mean scores and their targets, and the fidelity loss over
/// the batch's pairs (a ranking loss: Thurstone's probability that one photo is rated above
/// another, from the predicted distributions against the raters' means and deviations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RatingLoss {
    pub emd: f32,
    pub l1: f32,
    pub l2: f32,
    pub plcc: f32,
    pub fidelity: f32,
}

impl Default for RatingLoss {
    fn default() -> Self {
        Self {
            emd: 1.0,
            l1: 0.0,
            l2: 0.0,
            plcc: 0.0,
            fidelity: 0.0,
        }
    }
}

impl RatingLoss {
    fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let terms = [
            ("emd", self.emd),
            ("l1", self.l1),
            ("l2", self.l2),
            ("plcc", self.plcc),
            ("fidelity", self.fidelity),
        ];
        if let Some((name, value)) = terms.iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
            return Err(ConfigError::invalid(
                format!("{section}.loss.{name}"),
                format!("{value}: expected a finite weight ≥ 0"),
            ));
        }
        if terms.iter().all(|(_, v)| *v == 0.0) {
            return Err(ConfigError::invalid(
                format!("{section}.loss"),
                "every weight is 0: set emd, l1, l2, plcc or fidelity",
            ));
        }
        if self.emd == 0.0 && self.l1 == 0.0 && self.l2 == 0.0 {
            let name = if self.plcc > 0.0 { "plcc" } else { "fidelity" };
            return Err(ConfigError::invalid(
                format!("{section}.loss.{name}"),
                "a ranking loss leaves the score's offset free: add emd, l1 or l2",
            ));
        }
        Ok(())
    }
}

/// What every task section holds, whatever the task.
pub struct TaskData<'a> {
    pub head: Head,
    pub datasets: &'a [DatasetSpec],
    pub split: &'a std::path::Path,
    pub split_seed: u64,
    pub split_ratios: [f64; 3],
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

/// The default configuration, every field commented (`absnet train --print-default-config`).
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: AbsNetConfig,
    /// ImageNet weights for the backbone (`.pth` or converted `.safetensors`).
    pub backbone_weights: Option<PathBuf>,
    /// A folder for the frozen encoder's features: computed once per image, flip and input
    /// size, then read instead of running the backbone. The shared encoder must stay frozen for
    /// the whole run (`groups.shared.frozen_epochs` ≥ `epochs`), or up to `frozen_through`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_cache: Option<PathBuf>,
    /// The encoder's layers up to and including this tap never train; those past it train with
    /// the shared group (the tasks share the encoder's last blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_through: Option<Tap>,
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
    pub aesthetics: Option<RatingTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<RatingTask>,
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

impl TrainConfig {
    /// The backbone taps the frozen part of the encoder hands to `heads`: all they read, or
    /// with `frozen_through` those up to it (the layers past it run in every step).
    pub fn frozen_taps(&self, heads: &[Head]) -> Vec<Tap> {
        match self.frozen_through {
            Some(frozen) => self.model.taps_through(heads, frozen),
            None => self.model.taps(heads).0,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_non_finite() -> NonFinite {
    NonFinite::Stop
}

/// What a training crop's sides are multiples of: the encoder's deepest stride, so every tap
/// is cut at whole cells.
pub(crate) const CROP_STEP: u32 = 32;

/// The smallest model input validation can score (the encoder's stride is 8).
const SMALLEST_INPUT: u32 = 16;

impl TrainConfig {
    /// Saliency on OSIE and Scene with an ImageNet MobileNetV2, the project's default model:
    /// [`DEFAULT_CONFIG`].
    pub fn default_saliency() -> Self {
        Self::from_toml(DEFAULT_CONFIG).expect("the documented default config is valid")
    }

    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_toml_with(text, &[])
    }

    /// `text` with `KEY=VALUE` overrides applied (dotted keys; values in TOML syntax, a bare
    /// word is a string), then validated.
    pub fn from_toml_with(text: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        for item in overrides {
            apply_override(&mut table, item)?;
        }
        let config: Self = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The image-rating tasks configured, with their heads.
    pub fn ratings(&self) -> impl Iterator<Item = (Head, &RatingTask)> {
        [
            (Head::Aesthetics, self.aesthetics.as_ref()),
            (Head::Quality, self.quality.as_ref()),
        ]
        .into_iter()
        .filter_map(|(head, task)| Some((head, task?)))
    }

    /// The tasks configured, in schedule order (saliency, then aesthetics, then quality).
    pub fn tasks(&self) -> Vec<TaskData<'_>> {
        let saliency = self.saliency.as_ref().map(|t| TaskData {
            head: Head::Saliency,
            datasets: &t.datasets,
            split: &t.split,
            split_seed: t.split_seed,
            split_ratios: t.split_ratios,
            weight: t.weight,
        });
        let ratings = self.ratings().map(|(head, t)| TaskData {
            head,
            datasets: &t.datasets,
            split: &t.split,
            split_seed: t.split_seed,
            split_ratios: t.split_ratios,
            weight: t.weight,
        });
        saliency.into_iter().chain(ratings).collect()
    }

    /// Everything that can be checked before any data is read or any file written.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.model.validate()?;
        let tasks = self.tasks();
        if tasks.is_empty() {
            return Err(ConfigError::invalid(
                "[saliency] / [aesthetics] / [quality]",
                "no task: add a [saliency], an [aesthetics] or a [quality] section",
            ));
        }
        let heads = self.model.heads();
        for task in &tasks {
            validate_task(task, &heads)?;
        }
        for (head, task) in self.ratings() {
            task.loss.validate(head.name())?;
            if let Some(crop) = task.crop {
                self.validate_crop(head, crop)?;
            }
            let bins = self.model.heads.ratings().find(|(h, _)| *h == head);
            if let Some((_, config)) = bins.filter(|(_, c)| c.bins != RATING_BINS) {
                return Err(ConfigError::invalid(
                    format!("model.heads.{head}.bins"),
                    format!(
                        "{}: the {head} targets have {RATING_BINS} bins",
                        config.bins
                    ),
                ));
            }
        }

        if let Some(t) = &self.saliency {
            positive("saliency.sigma_fraction", t.sigma_fraction)?;
            t.loss.validate()?;
        }
        self.validate_run()?;
        self.groups.validate(&heads)?;
        if self.feature_cache.is_some()
            && self.frozen_through.is_none()
            && self.groups.shared.frozen_epochs < self.epochs
        {
            return Err(ConfigError::invalid(
                "feature_cache",
                format!(
                    "cached features need a frozen encoder: set groups.shared.frozen_epochs to at \
                     least epochs ({}; it is {}), or frozen_through to the last frozen tap",
                    self.epochs, self.groups.shared.frozen_epochs
                ),
            ));
        }
        if self.frozen_through == Some(Tap::C5) {
            return Err(ConfigError::invalid(
                "frozen_through",
                "c5 is the encoder's last tap: nothing would train past it (freeze the whole \
                 encoder with groups.shared.frozen_epochs instead)",
            ));
        }
        self.lr_schedule.validate("lr_schedule")?;
        self.task_schedule.validate()?;
        self.balancing.validate()?;
        let negative = self
            .saliency
            .as_ref()
            .is_some_and(|t| t.loss.can_be_negative());
        if negative && self.balancing.reads_loss_scale() && self.tasks().len() > 1 {
            return Err(ConfigError::invalid(
                "balancing.method",
                "this method reads the losses' scale (a log, a ratio or a learned variance of \
                 each loss) and needs losses ≥ 0, but saliency.loss.nss makes the saliency loss \
                 negative (−NSS): use nll, kld or cc for saliency, or equal, fixed or pcgrad",
            ));
        }
        Ok(())
    }

    /// A training crop fits the input and cuts every tap at whole cells.
    fn validate_crop(&self, head: Head, crop: [u32; 2]) -> Result<(), ConfigError> {
        let [w, h] = self.input;
        if w % CROP_STEP != 0 || h % CROP_STEP != 0 {
            return Err(ConfigError::invalid(
                "input",
                format!(
                    "{w}×{h}: {head}.crop needs an input whose sides are multiples of {CROP_STEP}"
                ),
            ));
        }
        let [cw, ch] = crop;
        if cw == 0 || ch == 0 || cw % CROP_STEP != 0 || ch % CROP_STEP != 0 || cw > w || ch > h {
            return Err(ConfigError::invalid(
                format!("{head}.crop"),
                format!(
                    "{cw}×{ch}: expected sides that are positive multiples of {CROP_STEP} and \
                     fit the {w}×{h} input"
                ),
            ));
        }
        Ok(())
    }

    fn validate_run(&self) -> Result<(), ConfigError> {
        let counts = [
            ("batch", Some(self.batch)),
            ("epochs", Some(self.epochs)),
            ("steps_per_epoch", self.steps_per_epoch),
            ("val_images", self.val_images),
            ("checkpoint_steps", self.checkpoint_steps),
        ];
        for (key, value) in counts {
            if value == Some(0) {
                return Err(ConfigError::invalid(key, "0: must be at least 1"));
            }
        }
        let [w, h] = self.input;
        if w < SMALLEST_INPUT || h < SMALLEST_INPUT || u64::from(w) * u64::from(h) > 4_000_000 {
            return Err(ConfigError::invalid(
                "input",
                format!(
                    "[{w}, {h}]: expected at least {SMALLEST_INPUT}×{SMALLEST_INPUT} and at most 4,000,000 pixels"
                ),
            ));
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config always serialises")
    }
}

fn validate_task(task: &TaskData, heads: &[Head]) -> Result<(), ConfigError> {
    let section = task.head.name();
    if !heads.contains(&task.head) {
        return Err(ConfigError::invalid(
            format!("[{section}]"),
            format!("the task is given but the model has no [model.heads.{section}]"),
        ));
    }
    if task.datasets.is_empty() {
        return Err(ConfigError::invalid(
            format!("{section}.datasets"),
            "empty: name at least one dataset",
        ));
    }
    let ratios = task.split_ratios;
    // A validation ratio of 0 trains without validation (the last epoch is kept).
    if ratios.iter().any(|r| !r.is_finite() || *r < 0.0) || ratios[0] <= 0.0 {
        return Err(ConfigError::invalid(
            format!("{section}.split_ratios"),
            format!(
                "{ratios:?}: expected finite, non-negative train, validation and test ratios, the first above 0"
            ),
        ));
    }
    if !(task.weight.is_finite() && task.weight >= 0.0) {
        return Err(ConfigError::invalid(
            format!("{section}.weight"),
            format!("{}: expected a finite number ≥ 0", task.weight),
        ));
    }
    Ok(())
}

/// `KEY=VALUE` applied to `table`.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let invalid = |message: &str| ConfigError::invalid(format!("--set {item}"), message);
    let (key, value) = item
        .split_once('=')
        .ok_or_else(|| invalid("expected KEY=VALUE"))?;
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut parts: Vec<&str> = key.trim().split('.').collect();
    let last = parts
        .pop()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid("empty key"))?;
    let mut current = table;
    for part in parts {
        current = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| invalid(&format!("`{part}` is not a section")))?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

impl Groups {
    fn validate(&self, heads: &[Head]) -> Result<(), ConfigError> {
        self.shared.validate("groups.shared")?;
        self.balancing.validate("groups.balancing")?;
        for head in heads {
            let group = self.heads.get(head).ok_or_else(|| {
                ConfigError::invalid(
                    format!("[groups.{head}]"),
                    "missing: every head of the model needs its group",
                )
            })?;
            group.validate(&format!("groups.{head}"))?;
        }
        Ok(())
    }
}

impl GroupConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        positive(&format!("{key}.lr"), self.lr)?;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(ConfigError::invalid(
                format!("{key}.weight_decay"),
                format!("{}: expected a finite number ≥ 0", self.weight_decay),
            ));
        }
        if let Some(clip) = self.clip_norm {
            positive(&format!("{key}.clip_norm"), f64::from(clip))?;
        }
        if let Some(schedule) = &self.schedule {
            schedule.validate(&format!("{key}.schedule"))?;
        }
        Ok(())
    }
}

impl LrSchedule {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if let LrSchedule::StepDecay { gamma, every } = self {
            if !(gamma.is_finite() && *gamma > 0.0 && *gamma <= 1.0) {
                return Err(ConfigError::invalid(
                    format!("{key}.gamma"),
                    format!("{gamma}: expected a factor in (0, 1]"),
                ));
            }
            if *every == 0 {
                return Err(ConfigError::invalid(
                    format!("{key}.every"),
                    "0: must be at least 1 epoch",
                ));
            }
        }
        Ok(())
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
        let config = TrainConfig::from_toml(&multi_task_default()).unwrap();
        assert_eq!(
            config.aesthetics.unwrap().datasets,
            vec!["ava:/data/AVA".parse::<DatasetSpec>().unwrap()]
        );
        assert_eq!(config.model.heads.aesthetics.unwrap().bins, 10);
        let quality = config.quality.unwrap();
        assert_eq!(quality.loss.l1, 1.0);
        assert_eq!(config.model.heads.quality.unwrap().inputs().len(), 4);
    }

    /// The default config with its commented-out multi-task sections uncommented.
    fn multi_task_default() -> String {
        DEFAULT_CONFIG
            .lines()
            .map(|l| {
                let setting = |r: &&str| {
                    r.starts_with('[')
                        || (r.starts_with(|c: char| c.is_ascii_lowercase()) && r.contains(" = "))
                };
                l.strip_prefix("# ").filter(setting).unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn methods_that_read_a_losss_scale_refuse_a_loss_that_can_be_negative() {
        let text = multi_task_default();
        for method in ["uncertainty", "dwa", "grad_norm", "famo"] {
            let sets = [format!("balancing.method=\"{method}\"")];
            let message = TrainConfig::from_toml_with(&text, &sets)
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("balancing.method") && message.contains("saliency.loss.nss"),
                "{method}: {message}"
            );
            let without_nss = [sets[0].clone(), "saliency.loss.nss=0".to_string()];
            TrainConfig::from_toml_with(&text, &without_nss).unwrap();
        }
        for method in ["equal", "pcgrad"] {
            let sets = [format!("balancing.method=\"{method}\"")];
            TrainConfig::from_toml_with(&text, &sets).unwrap();
        }
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
        let message = TrainConfig::from_toml_with(DEFAULT_CONFIG, &sets)
            .unwrap_err()
            .to_string();
        assert!(message.contains("round_epochs"), "{message}");
        let config = TrainConfig::from_toml_with(DEFAULT_CONFIG, &sets[..2]).unwrap();
        assert_eq!(
            (config.batch, config.balancing),
            (4, BalancingConfig::Famo {})
        );
        let message = TrainConfig::from_toml_with(DEFAULT_CONFIG, &["batch".to_string()])
            .unwrap_err()
            .to_string();
        assert!(message.contains("KEY=VALUE"), "{message}");
    }

    #[test]
    fn a_task_without_its_head_fails_before_training() {
        let text = DEFAULT_CONFIG
            .replace("[model.heads.saliency]", "[model.heads.aesthetics]")
            .replace("kind = \"conv\"\n", "")
            .replace("widths = [32, 8]\nkernel = 7\n", "");
        let message = TrainConfig::from_toml(&text).unwrap_err().to_string();
        assert!(message.contains("no [model.heads.saliency]"), "{message}");
    }

    #[test]
    fn numbers_out_of_range_are_refused_by_key() {
        let cases = [
            ("groups.shared.lr=-0.001", "groups.shared.lr"),
            ("groups.saliency.lr=nan", "groups.saliency.lr"),
            ("groups.shared.lr=inf", "groups.shared.lr"),
            ("val_images=0", "val_images"),
            ("input=[1, 1]", "input"),
            (
                "lr_schedule={kind=\"step_decay\", gamma=0.5, every=0}",
                "lr_schedule.every",
            ),
            ("saliency.sigma_fraction=0", "saliency.sigma_fraction"),
            (
                "saliency.split_ratios=[0, 0.5, 0.5]",
                "saliency.split_ratios",
            ),
            (
                "saliency.split_ratios=[1, -0.1, 0]",
                "saliency.split_ratios",
            ),
            ("saliency.loss.kld=-1", "saliency.loss.kld"),
            (
                "groups.shared.weight_decay=-1",
                "groups.shared.weight_decay",
            ),
            (
                "balancing={method=\"dwa\", temperature=0}",
                "balancing.temperature",
            ),
            (
                "saliency.datasets=[\"osie:x?first_fixation=drop\"]",
                "first_fixation=drop",
            ),
        ];
        for (set, key) in cases {
            let message = TrainConfig::from_toml_with(DEFAULT_CONFIG, &[set.to_string()])
                .unwrap_err()
                .to_string();
            assert!(message.contains(key), "{set}: {message}");
        }
    }

    /// The multi-task default with `sets` overriding it.
    fn multi_task_with(sets: &[&str]) -> Result<TrainConfig, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        TrainConfig::from_toml_with(&multi_task_default(), &sets)
    }

    #[test]
    fn a_training_crop_must_fit_the_input_at_whole_cells() {
        let config = multi_task_with(&["input=[512, 384]", "quality.crop=[384, 256]"]).unwrap();
        assert_eq!(config.quality.unwrap().crop, Some([384, 256]));
        // The default input's height (240) is not a multiple of 32.
        let message = multi_task_with(&["quality.crop=[256, 224]"])
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("input: 320×240"), "{message}");
        for crop in ["[384, 200]", "[640, 256]", "[0, 256]"] {
            let message = multi_task_with(&["input=[512, 384]", &format!("quality.crop={crop}")])
                .unwrap_err()
                .to_string();
            assert!(message.starts_with("quality.crop"), "{crop}: {message}");
        }
    }

    #[test]
    fn a_ranking_loss_needs_a_term_that_sets_the_scale() {
        multi_task_with(&["quality.loss.plcc=1"]).unwrap();
        for sets in [
            &["quality.loss.plcc=-1"][..],
            &[
                "quality.loss.plcc=1",
                "quality.loss.emd=0",
                "quality.loss.l1=0",
            ],
        ] {
            let message = multi_task_with(sets).unwrap_err().to_string();
            assert!(
                message.starts_with("quality.loss.plcc"),
                "{sets:?}: {message}"
            );
        }
        multi_task_with(&["quality.loss.fidelity=1"]).unwrap();
        let message = multi_task_with(&[
            "quality.loss.fidelity=1",
            "quality.loss.emd=0",
            "quality.loss.l1=0",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            message.starts_with("quality.loss.fidelity") && message.contains("offset"),
            "{message}"
        );
    }
}
