//! Checkpoints: `checkpoints/epoch-N/` (and `step-N/` every `checkpoint_steps`) hold the model,
//! every group's optimizer state and the balancing method's parameters in burn's format (which
//! keeps parameter ids, so optimizer state survives), and are committed only then by an atomic
//! replacement of `checkpoints/latest.json`, which also records the step, each task's place in
//! its data and the balancing method's history. A kill at any moment leaves the previous
//! checkpoint intact and pointed to.

use std::path::{Path, PathBuf};

use absnet_model::AbsNet;
use burn::module::Module;
use serde::{Deserialize, Serialize};

use crate::balancing::{BalancerState, Balancing};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::groups::GroupOptimizers;

/// What `latest.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Epochs completed.
    pub epoch: usize,
    /// Steps completed in the run, and in the current epoch.
    pub step: usize,
    pub epoch_step: usize,
    /// Batches each task has drawn so far.
    pub visits: Vec<usize>,
    /// Each task's loss sum and count in the current epoch.
    pub loss_sums: Vec<f64>,
    pub loss_counts: Vec<usize>,
    /// The checkpoint folder, and the configuration it belongs to ([`config_hash`]).
    pub dir: String,
    pub config_hash: u64,
    /// The best validation score so far and its checkpoint.
    pub best_score: Option<f64>,
    pub best_dir: Option<String>,
    #[serde(default)]
    pub balancing: Option<BalancerState>,
}

impl CheckpointState {
    /// The state of a run that has not trained yet.
    pub fn start(tasks: usize, config: &TrainConfig) -> Self {
        Self {
            epoch: 0,
            step: 0,
            epoch_step: 0,
            visits: vec![0; tasks],
            loss_sums: vec![0.0; tasks],
            loss_counts: vec![0; tasks],
            dir: String::new(),
            config_hash: config_hash(config),
            best_score: None,
            best_dir: None,
            balancing: None,
        }
    }

    /// Each task's mean loss so far in this epoch (`None`: not trained yet).
    pub fn epoch_means(&self) -> Vec<Option<f64>> {
        self.loss_sums
            .iter()
            .zip(&self.loss_counts)
            .map(|(&s, &n)| (n > 0).then(|| s / n as f64))
            .collect()
    }
}

/// Identifies a run's configuration (FNV-1a of its TOML); the number of epochs is left out, so
/// a finished run can be extended with `--resume --epochs N`.
pub fn config_hash(config: &TrainConfig) -> u64 {
    use std::hash::Hasher;
    let comparable = TrainConfig {
        epochs: 0,
        ..config.clone()
    };
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(comparable.to_toml().as_bytes());
    hasher.finish()
}

/// The checkpoints folder of a run.
pub struct Saver {
    pub checkpoints: PathBuf,
}

impl Saver {
    pub fn latest(&self) -> PathBuf {
        self.checkpoints.join("latest.json")
    }

    /// Writes a checkpoint named `name` and commits it; `score` (an epoch's validation) may make
    /// it the best. Only the latest and the best are kept.
    pub fn save(
        &self,
        name: String,
        model: &AbsNet,
        optimizers: &mut GroupOptimizers,
        balancer: &mut dyn Balancing,
        state: &mut CheckpointState,
        score: Option<f64>,
    ) -> Result<(), TrainError> {
        let dir = self.checkpoints.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        let path = dir.join("model.bpk");
        model
            .clone()
            .save_file(&path)
            .map_err(|e| TrainError::checkpoint(&path, e))?;
        for (group, optimizer) in optimizers.named() {
            let path = dir.join(format!("optimizer-{group}.bpk"));
            optimizer
                .save(&path)
                .map_err(|e| TrainError::checkpoint(&path, e))?;
        }
        if let Some(learned) = balancer.learned() {
            learned.save(&dir)?;
        }
        state.balancing = Some(balancer.state());
        let previous = std::mem::replace(&mut state.dir, name.clone());
        let previous_best = state.best_dir.clone();
        if let Some(score) = score.filter(|&s| state.best_score.is_none_or(|best| s > best)) {
            state.best_score = Some(score);
            state.best_dir = Some(name);
        }
        let json = serde_json::to_string_pretty(state).expect("serialisable");
        let latest = self.latest();
        absnet_fs::write_atomically(&latest, json.as_bytes())
            .map_err(|e| TrainError::io(&latest, e))?;
        for old in [Some(previous), previous_best].into_iter().flatten() {
            if !old.is_empty() && old != state.dir && Some(&old) != state.best_dir.as_ref() {
                let _ = std::fs::remove_dir_all(self.checkpoints.join(old));
            }
        }
        Ok(())
    }

    /// The state `latest.json` records.
    pub fn read_state(&self) -> Result<CheckpointState, TrainError> {
        let path = self.latest();
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|cause| TrainError::CheckpointState { path, cause })
    }

    /// The model, optimizer states and balancing method of checkpoint `dir`. burn materialises
    /// the optimizer states on its default device (`BURN_DEVICE`) and moves them to the
    /// parameters' device at the next step; in a build with several backends, pin that default
    /// to the training device (as the CLI does) or a resume starts the other backend.
    pub fn load(
        &self,
        dir: &Path,
        model: AbsNet,
        optimizers: &mut GroupOptimizers,
        balancer: &mut dyn Balancing,
    ) -> Result<AbsNet, TrainError> {
        let path = dir.join("model.bpk");
        let model = model
            .try_load_file(&path)
            .map_err(|e| TrainError::checkpoint(&path, e))?;
        for (group, optimizer) in optimizers.named() {
            let path = dir.join(format!("optimizer-{group}.bpk"));
            *optimizer = optimizer
                .clone()
                .load(&path)
                .map_err(|e| TrainError::checkpoint(&path, e))?;
        }
        if let Some(learned) = balancer.learned() {
            learned.load(dir)?;
        }
        Ok(model)
    }
}
