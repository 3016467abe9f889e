//! Tasks as values: each names its datasets and split, the head it trains, its loss on a batch
//! and its validation metrics.

use std::path::Path;

use absnet_data::loader::{Example, LoaderConfig};
use absnet_data::split::Split;
use absnet_data::{DatasetSpec, Sample};
use absnet_metrics::saliency::{self, AucJuddOptions, KldVariant, NssOptions};
use absnet_model::AbsNet;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::losses::{self, SaliencyLoss};
use crate::run::{TrainError, file_error};

#[derive(Clone, Debug, PartialEq)]
pub enum TaskKind {
    /// Fixation densities and fixations; trains the saliency head.
    Saliency {
        loss: SaliencyLoss,
        sigma_fraction: f64,
    },
    /// AVA vote counts; trains the aesthetics head with EMD (r = 2).
    Aesthetics,
}

/// One task of a run with its split data.
#[derive(Clone, Debug)]
pub struct Task {
    pub kind: TaskKind,
    pub train: Vec<Sample>,
    pub val: Vec<Sample>,
    /// Its weight under fixed balancing.
    pub weight: f64,
}

/// Validation scores of the saliency task (means over the validation images).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SaliencyValidation {
    pub nss: f64,
    pub cc: f64,
    pub kld: f64,
    pub auc_judd: f64,
}

/// Validation scores of the aesthetics task: mean EMD (r = 2) of the distributions, and SRCC,
/// PLCC and binary accuracy (threshold 5) of the mean scores.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AestheticsValidation {
    pub emd: f64,
    pub srcc: f64,
    pub plcc: f64,
    pub accuracy: f64,
}

/// One epoch's validation of every task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saliency: Option<SaliencyValidation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aesthetics: Option<AestheticsValidation>,
}

impl Validation {
    /// What "best checkpoint" means: saliency CC when the run trains saliency, else aesthetics
    /// SRCC.
    pub fn score(&self) -> f64 {
        match (&self.saliency, &self.aesthetics) {
            (Some(s), _) => s.cc,
            (None, Some(a)) => a.srcc,
            (None, None) => f64::NEG_INFINITY,
        }
    }
}

/// Loads every dataset of a task, each with its ids prefixed by the dataset's name.
pub fn load_samples(datasets: &[String]) -> Result<Vec<Vec<Sample>>, TrainError> {
    datasets
        .iter()
        .map(|spec| Ok(spec.parse::<DatasetSpec>()?.load_named()?))
        .collect()
}

/// The training and validation parts of a task's datasets (the test part stays held out). `split`
/// is either a folder of per-dataset split files (`NAME.json`, each drawn from its dataset alone)
/// or, ending in `.json`, one file over all the datasets pooled; a missing file is drawn from
/// `seed` and `ratios` and written.
pub fn split_samples(
    datasets: &[Vec<Sample>],
    split: &Path,
    seed: u64,
    ratios: [f64; 3],
) -> Result<[Vec<Sample>; 2], TrainError> {
    let pooled = split.extension().is_some_and(|e| e == "json");
    let folder = if pooled {
        split.parent().filter(|d| !d.as_os_str().is_empty())
    } else {
        Some(split)
    };
    if let Some(dir) = folder {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let groups: Vec<(std::path::PathBuf, Vec<Sample>)> = if pooled {
        vec![(split.to_path_buf(), datasets.concat())]
    } else {
        datasets
            .iter()
            .filter(|samples| !samples.is_empty())
            .map(|samples| {
                let name = samples[0].id.split('/').next().unwrap_or_default();
                (Split::dataset_file(split, name), samples.clone())
            })
            .collect()
    };
    let mut parts = [Vec::new(), Vec::new()];
    for (path, samples) in &groups {
        let drawn = Split::read_or_draw(path, samples, seed, ratios)?;
        parts[0].extend(drawn.select(samples, &drawn.train, path)?);
        parts[1].extend(drawn.select(samples, &drawn.val, path)?);
    }
    Ok(parts)
}

fn task_error(section: &str, datasets: &[String], message: String) -> TrainError {
    TrainError::Config(format!("[{section}] datasets {datasets:?}: {message}"))
}

/// The run's tasks in schedule order (saliency, then aesthetics), data loaded and checked.
pub fn load_tasks(config: &TrainConfig) -> Result<Vec<Task>, TrainError> {
    let mut tasks = Vec::new();
    if let Some(t) = &config.saliency {
        let datasets = load_samples(&t.datasets)?;
        if let Some(s) = datasets.iter().flatten().find(|s| {
            s.votes.is_some()
                && s.observers.is_empty()
                && s.fixation_map.is_none()
                && s.density.is_none()
        }) {
            return Err(task_error(
                "saliency",
                &t.datasets,
                format!(
                    "{} has vote counts but no fixations: an aesthetics dataset?",
                    s.id
                ),
            ));
        }
        let [train, val] = split_samples(&datasets, &t.split, t.split_seed, t.split_ratios)?;
        tasks.push(Task {
            kind: TaskKind::Saliency {
                loss: t.loss.clone(),
                sigma_fraction: t.sigma_fraction,
            },
            train,
            val,
            weight: f64::from(t.weight),
        });
    }
    if let Some(t) = &config.aesthetics {
        let datasets = load_samples(&t.datasets)?;
        if let Some(s) = datasets.iter().flatten().find(|s| s.votes.is_none()) {
            return Err(task_error(
                "aesthetics",
                &t.datasets,
                format!(
                    "{} has no vote counts: use an `ava:` or `ava-json:` dataset",
                    s.id
                ),
            ));
        }
        let [train, val] = split_samples(&datasets, &t.split, t.split_seed, t.split_ratios)?;
        tasks.push(Task {
            kind: TaskKind::Aesthetics,
            train,
            val,
            weight: f64::from(t.weight),
        });
    }
    for task in &tasks {
        if task.train.is_empty() || task.val.is_empty() {
            return Err(TrainError::Config(format!(
                "the {} task's split has {} training and {} validation images; both must be non-empty",
                task.name(),
                task.train.len(),
                task.val.len()
            )));
        }
    }
    Ok(tasks)
}

/// Normalised images of a batch.
fn images(examples: &[Example], config: &TrainConfig, device: &Device) -> Tensor<4> {
    let [w, h] = config.input;
    let images: Vec<&[u8]> = examples
        .iter()
        .map(|e| e.image.as_raw().as_slice())
        .collect();
    config
        .model
        .backbone
        .arch
        .normalization()
        .batch(&images, h as usize, w as usize, device)
}

/// Images, densities and fixation masks of a saliency batch.
pub fn saliency_batch(
    examples: &[Example],
    config: &TrainConfig,
    device: &Device,
) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
    let [w, h] = config.input;
    let (w, h) = (w as usize, h as usize);
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
        images(examples, config, device),
        Tensor::from_data(TensorData::new(density, shape), device),
        Tensor::from_data(TensorData::new(mask, shape), device),
    )
}

/// Vote counts of an aesthetics batch, `[batch, 10]`.
fn votes(examples: &[Example], device: &Device) -> Tensor<2> {
    let counts: Vec<f32> = examples
        .iter()
        .flat_map(|e| e.votes.unwrap_or([1; 10]).map(|v| v as f32))
        .collect();
    Tensor::from_data(TensorData::new(counts, [examples.len(), 10]), device)
}

impl Task {
    pub fn name(&self) -> &'static str {
        match self.kind {
            TaskKind::Saliency { .. } => "saliency",
            TaskKind::Aesthetics => "aesthetics",
        }
    }

    /// How this task's images are prepared.
    pub fn loader_config(&self, config: &TrainConfig, index: usize) -> LoaderConfig {
        let sigma_fraction = match self.kind {
            TaskKind::Saliency { sigma_fraction, .. } => sigma_fraction,
            TaskKind::Aesthetics => 0.0,
        };
        LoaderConfig {
            flip: config.flip,
            // Each task draws its own order.
            seed: config
                .seed
                .wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            skip_bad: config.skip_bad,
            sigma_fraction,
            ..LoaderConfig::new(config.input)
        }
    }

    /// The task's loss on a batch, computing only its own head.
    pub fn loss(
        &self,
        model: &AbsNet,
        examples: &[Example],
        config: &TrainConfig,
        device: &Device,
    ) -> Tensor<1> {
        match &self.kind {
            TaskKind::Saliency { loss, .. } => {
                let (x, density, fixations) = saliency_batch(examples, config, device);
                let out = model.forward_heads(x, true, false);
                loss.forward(
                    out.saliency
                        .expect("checked: the model has a saliency head"),
                    density,
                    fixations,
                )
            }
            TaskKind::Aesthetics => {
                let out = model.forward_heads(images(examples, config, device), false, true);
                losses::emd2(
                    out.aesthetics
                        .expect("checked: the model has an aesthetics head"),
                    votes(examples, device),
                )
            }
        }
    }

    /// Validation of `model` (on a plain device) on `examples` at input resolution.
    pub fn validate(
        &self,
        model: &AbsNet,
        examples: &[Example],
        config: &TrainConfig,
        device: &Device,
    ) -> Validation {
        match self.kind {
            TaskKind::Saliency { .. } => Validation {
                saliency: Some(validate_saliency(model, examples, config, device)),
                aesthetics: None,
            },
            TaskKind::Aesthetics => Validation {
                saliency: None,
                aesthetics: Some(validate_aesthetics(model, examples, config, device)),
            },
        }
    }
}

fn to_f64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    let data = t.into_data().convert::<f32>();
    data.try_into_vec::<f32>()
        .expect("f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Mean NSS, CC, KLD and AUC-Judd over the images with fixations.
pub fn validate_saliency(
    model: &AbsNet,
    examples: &[Example],
    config: &TrainConfig,
    device: &Device,
) -> SaliencyValidation {
    let [w, h] = config.input;
    let (w, h) = (w as usize, h as usize);
    let mut sums = SaliencyValidation::default();
    let mut count = 0.0;
    for chunk in examples.chunks(config.batch) {
        let (x, _, _) = saliency_batch(chunk, config, device);
        let maps = to_f64(
            model
                .forward_heads(x, true, false)
                .saliency
                .expect("a saliency model"),
        );
        for (i, example) in chunk.iter().enumerate() {
            let (Some(density), false) = (&example.density, example.fixations.is_empty()) else {
                continue;
            };
            let map =
                ArrayView2::from_shape((h, w), &maps[i * h * w..(i + 1) * h * w]).expect("h × w");
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
    SaliencyValidation {
        nss: sums.nss / count,
        cc: sums.cc / count,
        kld: sums.kld / count,
        auc_judd: sums.auc_judd / count,
    }
}

/// Mean EMD (r = 2), and SRCC, PLCC and accuracy of the mean scores.
pub fn validate_aesthetics(
    model: &AbsNet,
    examples: &[Example],
    config: &TrainConfig,
    device: &Device,
) -> AestheticsValidation {
    use absnet_metrics::aesthetics::{binary_accuracy, emd, mean_score, plcc, srcc};
    let (mut predicted_means, mut true_means, mut emds) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in examples.chunks(config.batch) {
        let out = model.forward_heads(images(chunk, config, device), false, true);
        let rows = to_f64(out.aesthetics.expect("an aesthetics model"));
        for (example, predicted) in chunk.iter().zip(rows.chunks(10)) {
            let Some(votes) = example.votes else { continue };
            let target: Vec<f64> = votes.iter().map(|&v| f64::from(v)).collect();
            let (Ok(e), Ok(p), Ok(t)) = (
                emd(predicted, &target, 2),
                mean_score(predicted),
                mean_score(&target),
            ) else {
                continue;
            };
            emds.push(e);
            predicted_means.push(p);
            true_means.push(t);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    AestheticsValidation {
        emd: mean(&emds),
        // Constant predictions (an untrained head) have no rank correlation: 0.
        srcc: srcc(&predicted_means, &true_means).unwrap_or(0.0),
        plcc: plcc(&predicted_means, &true_means).unwrap_or(0.0),
        accuracy: binary_accuracy(&predicted_means, &true_means, 5.0).unwrap_or(0.0),
    }
}
