//! Tasks as values: each names its head and its data (split into training and validation
//! parts), and its [`Objective`] — the loss on a batch and the validation metrics — lives in its
//! own module. A third task is its module and one arm of [`objective`].

mod rating;
mod saliency;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use absnet_data::loader::{Example, LoaderConfig};
use absnet_data::split::Split;
use absnet_data::{DatasetSpec, Sample};
use absnet_model::{AbsNet, AbsNetOutput, Head, PerHead};
use burn::tensor::{Device, Tensor};

pub use rating::Rating;
pub use saliency::{Saliency, saliency_targets};

use crate::cache::FeatureCache;
use crate::config::TrainConfig;
use crate::crop;
use crate::error::{ConfigError, TrainError};

/// Validation scores of one task, by metric name.
pub type Scores = BTreeMap<String, f64>;

/// One epoch's validation: the scores of each task's head.
pub type Validation = PerHead<Scores>;

/// Where a batch's backbone features come from.
#[derive(Clone, Copy)]
pub enum Features<'a> {
    /// The model's own backbone, run on the batch's images.
    Live,
    /// A frozen encoder's cache: the backbone does not run (or, with `frozen_through`, only
    /// its layers past that tap).
    Cached(&'a FeatureCache),
}

impl Features<'_> {
    /// `model`'s forward pass through `heads` on `examples`, on each example's random window
    /// of `crop` input pixels (`[width, height]`, a training crop) or on the whole input.
    pub fn forward(
        self,
        model: &AbsNet,
        examples: &[Example],
        config: &TrainConfig,
        heads: &[Head],
        crop: Option<[u32; 2]>,
        device: &Device,
    ) -> Result<AbsNetOutput, TrainError> {
        let encoded = self.encode(model, examples, config, heads, crop, device)?;
        Ok(model.decode(encoded, heads))
    }

    /// The backbone's taps of `examples` (what the readout's standardisation is measured on),
    /// cut to each example's window of `crop` input pixels when given: the frozen taps are
    /// cut, and the layers past `frozen_through` run on the cut.
    pub fn encode(
        self,
        model: &AbsNet,
        examples: &[Example],
        config: &TrainConfig,
        heads: &[Head],
        crop: Option<[u32; 2]>,
        device: &Device,
    ) -> Result<absnet_model::Encoded, TrainError> {
        let frozen = match self {
            Features::Live => {
                let taps = config.frozen_taps(heads);
                let encoded = model.encode_taps(images(examples, config, device), &taps);
                match config.frozen_through {
                    Some(_) => encoded.detached(),
                    None => encoded,
                }
            }
            Features::Cached(cache) => cache.load(examples, device)?,
        };
        let frozen = match crop {
            Some(size) => crop::random_windows(frozen, examples, size),
            None => frozen,
        };
        Ok(match config.frozen_through {
            Some(tap) => model.encode_after(frozen, tap, heads),
            None => frozen,
        })
    }
}

/// What a task trains and how it is scored.
pub trait Objective: Send + Sync {
    /// The loss of `model` on a batch, computing only this task's head.
    fn loss(
        &self,
        model: &AbsNet,
        examples: &[Example],
        features: Features,
        device: &Device,
    ) -> Result<Tensor<1>, TrainError>;
    /// Validation scores of `model` (on a plain device) on `examples`.
    fn validate(
        &self,
        model: &AbsNet,
        examples: &[Example],
        features: Features,
        device: &Device,
    ) -> Result<Scores, TrainError>;
    /// The validation metric that picks the best checkpoint (higher is better).
    fn selection(&self) -> &'static str;
    /// Why `sample` cannot serve this task, if it cannot (an aesthetics set given for saliency).
    fn unusable(&self, sample: &Sample) -> Option<String>;
    /// How this task's images are prepared, from the run's defaults.
    fn loader(&self, defaults: LoaderConfig) -> LoaderConfig {
        defaults
    }
}

/// The objective of the task training `head`.
pub fn objective(head: Head, config: &TrainConfig) -> Box<dyn Objective> {
    match head {
        Head::Saliency => Box::new(Saliency::new(config)),
        Head::Aesthetics | Head::Quality => Box::new(Rating::new(head, config)),
    }
}

/// One task of a run with its split data.
pub struct Task {
    pub head: Head,
    pub train: Vec<Sample>,
    pub val: Vec<Sample>,
    /// Its weight under fixed balancing.
    pub weight: f64,
    pub objective: Box<dyn Objective>,
}

impl Task {
    pub fn name(&self) -> &'static str {
        self.head.name()
    }

    /// How this task's images are prepared; each task draws its own order.
    pub fn loader_config(&self, config: &TrainConfig, index: usize) -> LoaderConfig {
        self.objective.loader(LoaderConfig {
            flip: config.flip,
            seed: config
                .seed
                .wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            skip_bad: config.skip_bad,
            ..LoaderConfig::new(config.input)
        })
    }
}

/// Loads every dataset of a task, each with its ids prefixed by the dataset's name.
pub fn load_samples(datasets: &[DatasetSpec]) -> Result<Vec<Vec<Sample>>, TrainError> {
    datasets.iter().map(|spec| Ok(spec.load_named()?)).collect()
}

/// The training and validation parts of a task's datasets (the test part stays held out). `split`
/// is either a folder of per-dataset split files (`NAME.json`, each drawn from its dataset alone)
/// or, ending in `.json`, one file over all the datasets pooled. A missing file is drawn from
/// `seed` and `ratios` and written; an existing one drawn with other ratios or another seed is
/// refused by path.
pub fn split_samples(
    datasets: &[Vec<Sample>],
    split: &Path,
    seed: u64,
    ratios: [f64; 3],
) -> Result<[Vec<Sample>; 2], TrainError> {
    let pooled = split.extension().is_some_and(|e| e == "json");
    let groups: Vec<(PathBuf, Vec<Sample>)> = if pooled {
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
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        }
        let drawn = Split::read_or_draw(path, samples, seed, ratios)?;

        parts[0].extend(drawn.select(samples, &drawn.train, path)?);
        parts[1].extend(drawn.select(samples, &drawn.val, path)?);
    }
    Ok(parts)
}

/// The run's tasks in schedule order (saliency, then the rating tasks), data loaded and checked
/// before any split file is drawn.
pub fn load_tasks(config: &TrainConfig) -> Result<Vec<Task>, TrainError> {
    let mut loaded = Vec::new();
    for data in config.tasks() {
        let objective = objective(data.head, config);
        let datasets = load_samples(data.datasets)?;
        if let Some((sample, why)) = datasets
            .iter()
            .flatten()
            .find_map(|s| Some((s, objective.unusable(s)?)))
        {
            let key = format!("{}.datasets", data.head);
            return Err(ConfigError::invalid(key, format!("{}: {why}", sample.id)).into());
        }
        loaded.push((data, objective, datasets));
    }
    let mut tasks = Vec::new();
    for (data, objective, datasets) in loaded {
        let [train, val] =
            split_samples(&datasets, data.split, data.split_seed, data.split_ratios)?;
        if train.is_empty() {
            return Err(ConfigError::invalid(
                format!("{}.split", data.head),
                format!("no training images ({} validation images)", val.len()),
            )
            .into());
        }
        tasks.push(Task {
            head: data.head,
            train,
            val,
            weight: f64::from(data.weight),
            objective,
        });
    }
    Ok(tasks)
}

/// Normalised images of a batch, `[batch, 3, height, width]`.
pub(crate) fn images(examples: &[Example], config: &TrainConfig, device: &Device) -> Tensor<4> {
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

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    let data = t.into_data().convert::<f32>();
    data.try_into_vec::<f32>()
        .expect("f32")
        .into_iter()
        .map(f64::from)
        .collect()
}
