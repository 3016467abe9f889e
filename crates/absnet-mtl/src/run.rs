//! A training run: its directory (resolved config, JSONL log, checkpoints), the loop, validation,
//! and resuming exactly where a run stopped.
//!
//! Checkpoints are written to `checkpoints/epoch-N/` (model and optimizer states in burn's
//! format, which keeps parameter ids so optimizer state survives) and only then committed by an
//! atomic rename of `checkpoints/latest.json`: a kill at any moment leaves the previous checkpoint
//! intact and pointed to.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use absnet_data::loader::{Example, Loader, LoaderConfig, Skipped};
use absnet_data::split::Split;
use absnet_data::{DatasetSpec, Sample};
use absnet_metrics::saliency::{self, AucJuddOptions, KldVariant, NssOptions};
use absnet_model::AbsNet;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::config::{NonFinite, TrainConfig};
use crate::groups::GroupOptimizers;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] absnet_data::DataError),
    #[error(transparent)]
    Sample(#[from] absnet_data::loader::SampleError),
    #[error(transparent)]
    Model(#[from] absnet_model::ModelError),
    #[error("epoch {epoch}, step {step}: the loss is {loss}; stopped (the last checkpoint is kept)")]
    NonFinite { epoch: usize, step: usize, loss: f32 },
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Validation scores of one epoch (means over the validation images).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub nss: f64,
    pub cc: f64,
    pub kld: f64,
    pub auc_judd: f64,
}

/// What `latest.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Checkpoint {
    /// Epochs completed.
    epoch: usize,
    step: usize,
    dir: String,
    config_hash: u64,
    best_cc: f64,
    best_dir: Option<String>,
}

/// Progress reported to the caller after each step.
pub struct Progress {
    pub epoch: usize,
    pub step: usize,
    pub steps_in_epoch: usize,
    pub loss: f32,
}

/// A finished (or resumed and finished) run.
#[derive(Debug)]
pub struct Summary {
    pub epochs: usize,
    pub steps: usize,
    pub validations: Vec<Validation>,
    pub skipped: usize,
    pub model: AbsNet,
}

/// The parts of the saliency task's split.
pub struct SplitSamples {
    pub train: Vec<Sample>,
    pub val: Vec<Sample>,
    pub test: Vec<Sample>,
}

/// Loads every saliency dataset, prefixing ids with the format so they stay unique, and splits
/// them with the task's split file (drawn and written first if it does not exist).
pub fn saliency_samples(config: &TrainConfig) -> Result<SplitSamples, TrainError> {
    let task = config.saliency.as_ref().ok_or_else(|| TrainError::Config("no [saliency] task".into()))?;
    let mut samples = Vec::new();
    for spec in &task.datasets {
        let parsed: DatasetSpec = spec.parse()?;
        let prefix = spec.split(':').next().unwrap_or_default().to_string();
        for mut sample in parsed.load()? {
            sample.id = format!("{prefix}/{}", sample.id);
            samples.push(sample);
        }
    }
    if let Some(dir) = task.split.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let split = Split::read_or_draw(&task.split, &samples, task.split_seed, task.split_ratios)?;
    Ok(SplitSamples {
        train: split.select(&samples, &split.train, &task.split)?,
        val: split.select(&samples, &split.val, &task.split)?,
        test: split.select(&samples, &split.test, &task.split)?,
    })
}

/// Identifies a run's configuration; the number of epochs is left out, so a finished run can be
/// extended with `--resume --epochs N`.
fn config_hash(config: &TrainConfig) -> u64 {
    let comparable = TrainConfig {
        epochs: 0,
        ..config.clone()
    };
    comparable
        .to_toml()
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3))
}

/// Images, densities and fixation masks of a batch as tensors.
pub fn batch_tensors(examples: &[Example], config: &TrainConfig, device: &Device) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
    let [w, h] = config.input;
    let (w, h) = (w as usize, h as usize);
    let normalization = config.model.backbone.arch.normalization();
    let images: Vec<&[u8]> = examples.iter().map(|e| e.image.as_raw().as_slice()).collect();
    let x = normalization.batch(&images, h, w, device);
    let mut density = Vec::with_capacity(examples.len() * h * w);
    let mut mask = vec![0f32; examples.len() * h * w];
    for (i, e) in examples.iter().enumerate() {
        match &e.density {
            Some(d) => density.extend_from_slice(d),
            None => density.extend(std::iter::repeat_n(1.0 / (h * w) as f32, h * w)),
        }
        for f in &e.fixations {
            mask[i * h * w + f.y as usize * w + f.x as usize] = 1.0;
        }
    }
    let shape = [examples.len(), 1, h, w];
    (
        x,
        Tensor::from_data(TensorData::new(density, shape), device),
        Tensor::from_data(TensorData::new(mask, shape), device),
    )
}

/// Mean NSS, CC, KLD and AUC-Judd of `model` on `examples`, at input resolution.
pub fn validate(model: &AbsNet, examples: &[Example], config: &TrainConfig, device: &Device) -> Validation {
    let [w, h] = config.input;
    let (w, h) = (w as usize, h as usize);
    let mut sums = Validation::default();
    let mut count = 0.0;
    for chunk in examples.chunks(config.batch) {
        let (x, _, _) = batch_tensors(chunk, config, device);
        let maps = model.forward(x).saliency.expect("a saliency model").into_data().convert::<f32>();
        let maps: Vec<f64> = maps.try_into_vec::<f32>().expect("f32").into_iter().map(f64::from).collect();
        for (i, example) in chunk.iter().enumerate() {
            let (Some(density), false) = (&example.density, example.fixations.is_empty()) else {
                continue;
            };
            let map = ArrayView2::from_shape((h, w), &maps[i * h * w..(i + 1) * h * w]).expect("h × w");
            let gt: Vec<f64> = density.iter().map(|&v| f64::from(v)).collect();
            let gt = ArrayView2::from_shape((h, w), &gt).expect("h × w");
            let (Ok(nss), Ok(cc), Ok(kld), Ok(auc)) = (
                saliency::nss(map, &example.fixations, NssOptions::PYSALIENCY),
                saliency::cc(map, gt),
                saliency::kld(map, gt, KldVariant::Mit),
                saliency::auc_judd(map, &example.fixations, AucJuddOptions::default()),
            ) else {
                continue;
            };
            sums.nss += nss;
            sums.cc += cc;
            sums.kld += kld;
            sums.auc_judd += auc;
            count += 1.0;
        }
    }
    let count = f64::max(count, 1.0);
    Validation {
        nss: sums.nss / count,
        cc: sums.cc / count,
        kld: sums.kld / count,
        auc_judd: sums.auc_judd / count,
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| file_error(path, e))
}

const GROUPS: [&str; 3] = ["shared", "saliency", "aesthetics"];

fn optimizer_slots(optimizers: &mut GroupOptimizers) -> [Option<&mut burn::optim::ModuleOptimizer>; 3] {
    [
        Some(&mut optimizers.shared.1),
        optimizers.saliency.as_mut().map(|(_, o)| o),
        optimizers.aesthetics.as_mut().map(|(_, o)| o),
    ]
}

/// Trains (or resumes) the run in `run_dir`. `device` is the plain device; training runs on its
/// autodiff form.
pub fn train(config: &TrainConfig, run_dir: &Path, resume: bool, device: &Device, progress: &dyn Fn(&Progress)) -> Result<Summary, TrainError> {
    let SplitSamples { train: train_samples, val: val_samples, .. } = saliency_samples(config)?;
    if train_samples.is_empty() || val_samples.is_empty() {
        return Err(TrainError::Config(format!(
            "the split has {} training and {} validation images; both must be non-empty",
            train_samples.len(),
            val_samples.len()
        )));
    }
    let checkpoints = run_dir.join("checkpoints");
    std::fs::create_dir_all(&checkpoints).map_err(|e| file_error(&checkpoints, e))?;
    let latest_path = checkpoints.join("latest.json");
    let hash = config_hash(config);
    let autodiff = device.clone().autodiff();
    // The untrained neck and heads are drawn from the seed: a run is reproducible.
    autodiff.seed(config.seed);
    let mut model = AbsNet::new(&config.model, &autodiff)?;
    let mut optimizers = GroupOptimizers::new(&model, config.groups.shared.clone(), config.groups.saliency.clone(), config.groups.aesthetics.clone());
    let mut state = Checkpoint {
        epoch: 0,
        step: 0,
        dir: String::new(),
        config_hash: hash,
        best_cc: f64::NEG_INFINITY,
        best_dir: None,
    };
    if resume && latest_path.exists() {
        let text = std::fs::read_to_string(&latest_path).map_err(|e| file_error(&latest_path, e))?;
        state = serde_json::from_str(&text).map_err(|e| file_error(&latest_path, e))?;
        if state.config_hash != hash {
            return Err(TrainError::Config(format!(
                "{}: the run was started with another configuration; resume it with the config.toml in {}",
                latest_path.display(),
                run_dir.display()
            )));
        }
        let dir = checkpoints.join(&state.dir);
        model = model.try_load_file(dir.join("model.bpk")).map_err(|e| file_error(&dir.join("model.bpk"), format!("{e:?}")))?;
        for (name, slot) in GROUPS.iter().zip(optimizer_slots(&mut optimizers)) {
            if let Some(optimizer) = slot {
                let path = dir.join(format!("optimizer-{name}.bpk"));
                let loaded = optimizer.clone().load(&path).map_err(|e| file_error(&path, format!("{e:?}")))?;
                *optimizer = loaded;
            }
        }
    } else {
        if let Some(weights) = &config.backbone_weights {
            model = model.load_backbone(weights)?;
        }
        write_atomically(&run_dir.join("config.toml"), &config.to_toml())?;
    }
    let log_path = run_dir.join("log.jsonl");
    let mut log = OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| file_error(&log_path, e))?;
    let task = config.saliency.as_ref().expect("checked by saliency_samples");
    let loader_config = LoaderConfig {
        flip: config.flip,
        seed: config.seed,
        skip_bad: config.skip_bad,
        sigma_fraction: task.sigma_fraction,
        ..LoaderConfig::new(config.input)
    };
    let loader = Loader::new(&train_samples, loader_config.clone());
    let val_samples = &val_samples[..config.val_images.unwrap_or(val_samples.len()).min(val_samples.len())];
    let val_loader = Loader::new(val_samples, LoaderConfig { flip: false, ..loader_config });
    let mut skipped = Skipped::default();
    let val_visits: Vec<(usize, bool)> = (0..val_samples.len()).map(|i| (i, false)).collect();
    let val_examples = val_loader.batch(&val_visits, &mut skipped)?;
    let mut validations = Vec::new();
    for epoch in state.epoch..config.epochs {
        let lr_scale = config.schedule.scale(epoch, config.epochs, config.warmup_epochs);
        let order = loader.order(epoch as u64);
        let batches: Vec<&[(usize, bool)]> = order.chunks(config.batch).take(config.steps_per_epoch.unwrap_or(usize::MAX)).collect();
        let steps_in_epoch = batches.len();
        for (i, visits) in batches.into_iter().enumerate() {
            let examples = loader.batch(visits, &mut skipped)?;
            if examples.is_empty() {
                continue;
            }
            let (x, density, fixations) = batch_tensors(&examples, config, &autodiff);
            let out = model.forward(x);
            let loss = task.loss.forward(out.saliency.expect("a saliency model"), density, fixations) * task.weight;
            let value = loss.clone().into_scalar::<f32>();
            state.step += 1;
            if !value.is_finite() {
                match config.non_finite {
                    NonFinite::Stop => return Err(TrainError::NonFinite { epoch, step: state.step, loss: value }),
                    NonFinite::Skip => {
                        let _ = writeln!(log, "{}", serde_json::json!({"epoch": epoch, "step": state.step, "skipped": "non-finite loss", "loss": value.to_string()}));
                        continue;
                    }
                }
            }
            let grads = loss.backward();
            model = optimizers.step(model, grads, epoch, lr_scale);
            let line = serde_json::json!({
                "epoch": epoch, "step": state.step, "loss": value,
                "lr": {"shared": config.groups.shared.lr * lr_scale, "saliency": config.groups.saliency.lr * lr_scale},
            });
            writeln!(log, "{line}").map_err(|e| file_error(&log_path, e))?;
            progress(&Progress { epoch, step: i + 1, steps_in_epoch, loss: value });
        }
        let validation = validate(&model.valid(), &val_examples, config, device);
        let line = serde_json::json!({"epoch": epoch, "step": state.step, "validation": validation, "skipped": skipped.total()});
        writeln!(log, "{line}").map_err(|e| file_error(&log_path, e))?;
        // Write the checkpoint, then commit it.
        let dir_name = format!("epoch-{}", epoch + 1);
        let dir = checkpoints.join(&dir_name);
        std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
        model.clone().save_file(dir.join("model.bpk")).map_err(|e| file_error(&dir.join("model.bpk"), format!("{e:?}")))?;
        for (name, slot) in GROUPS.iter().zip(optimizer_slots(&mut optimizers)) {
            if let Some(optimizer) = slot {
                let path = dir.join(format!("optimizer-{name}.bpk"));
                optimizer.save(&path).map_err(|e| file_error(&path, format!("{e:?}")))?;
            }
        }
        let previous = std::mem::replace(&mut state.dir, dir_name.clone());
        let previous_best = state.best_dir.clone();
        if validation.cc > state.best_cc {
            state.best_cc = validation.cc;
            state.best_dir = Some(dir_name.clone());
        }
        state.epoch = epoch + 1;
        write_atomically(&latest_path, &serde_json::to_string_pretty(&state).expect("serialisable"))?;
        // Keep the latest and the best checkpoints only.
        for old in [Some(previous), previous_best].into_iter().flatten() {
            if !old.is_empty() && old != state.dir && Some(&old) != state.best_dir.as_ref() {
                let _ = std::fs::remove_dir_all(checkpoints.join(old));
            }
        }
        validations.push(validation);
    }
    Ok(Summary {
        epochs: state.epoch,
        steps: state.step,
        validations,
        skipped: skipped.total(),
        model: model.valid(),
    })
}

/// The run's best checkpoint (highest validation CC) as a model file with its card.
pub fn export(run_dir: &Path, output: &Path, precision: absnet_model::weights::StoredPrecision, device: &Device) -> Result<absnet_model::ModelCard, TrainError> {
    let config_path = run_dir.join("config.toml");
    let text = std::fs::read_to_string(&config_path).map_err(|e| file_error(&config_path, e))?;
    let config = TrainConfig::from_toml(&text).map_err(|e| file_error(&config_path, e))?;
    let latest_path = run_dir.join("checkpoints/latest.json");
    let text = std::fs::read_to_string(&latest_path).map_err(|e| file_error(&latest_path, e))?;
    let state: Checkpoint = serde_json::from_str(&text).map_err(|e| file_error(&latest_path, e))?;
    let dir = run_dir.join("checkpoints").join(state.best_dir.as_ref().unwrap_or(&state.dir));
    let model = AbsNet::new(&config.model, device)?
        .try_load_file(dir.join("model.bpk"))
        .map_err(|e| file_error(&dir.join("model.bpk"), format!("{e:?}")))?;
    let name = output.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let backbone = config.backbone_weights.as_ref().map_or_else(|| "none (random initialisation)".into(), |p| p.display().to_string());
    let mut card = absnet_model::ModelCard::new(&name, config.model.clone(), &backbone);
    card.input = Some(config.input);
    if let (Some(task), Some(head)) = (&config.saliency, card.heads.get_mut("saliency")) {
        head.trained = true;
        head.data = task.datasets.iter().map(|d| format!("{d} (train part of {})", task.split.display())).collect();
        head.notes = format!(
            "{} of {} epochs, checkpoint {}, validation CC {:.4}",
            state.epoch,
            config.epochs,
            dir.display(),
            state.best_cc
        );
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    absnet_model::card::save_model(&model, &card, output, precision)?;
    Ok(card)
}
