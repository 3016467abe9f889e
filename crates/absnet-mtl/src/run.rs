//! A training run in its directory — the resolved `config.toml`, `log.jsonl`, `curves.png` and
//! `checkpoints/` — and the loop over its epochs and steps, resumable exactly where a
//! checkpoint stopped.

use std::path::{Path, PathBuf};

use absnet_data::loader::{Example, Loader, LoaderConfig, Skipped};
use absnet_model::{AbsNet, PerHead};
use burn::module::Module;
use burn::tensor::Device;

use crate::cache::FeatureCache;
use crate::checkpoint::{CheckpointState, Saver, config_hash};
use crate::config::{NonFinite, TrainConfig};
use crate::error::{ConfigError, TrainError};
use crate::groups::Rates;
use crate::log::{GroupRates, Log, LogRecord};
use crate::stream::TaskStream;
use crate::tasks::{Task, Validation, load_tasks};
use crate::trainer::{NotFinite as StepNotFinite, Step, StepError, Trainer};

/// How a run starts in its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new run; a directory that holds one already is refused.
    New,
    /// Continue from the last checkpoint.
    Resume,
    /// Discard the directory's run and start afresh.
    Overwrite,
}

/// Progress reported to the caller after each step (and while the feature cache fills:
/// `caching`, with `step` of `steps_in_epoch` images done).
pub struct Progress {
    pub caching: bool,
    pub epoch: usize,
    pub step: usize,
    pub steps_in_epoch: usize,
    /// Each task's mean loss so far in this epoch.
    pub losses: Vec<(&'static str, f64)>,
}

/// A finished (or resumed and finished) run.
#[derive(Debug)]
pub struct Summary {
    pub epochs: usize,
    pub steps: usize,
    /// One per epoch trained in this call, with the epoch's number (from 1).
    pub validations: Vec<(usize, Validation)>,
    pub skipped: usize,
    pub model: AbsNet,
}

/// Trains (or resumes) the run in `run_dir`. `device` is the plain device; training runs on its
/// autodiff form.
pub fn train(
    config: &TrainConfig,
    run_dir: &Path,
    start: Start,
    device: &Device,
    progress: &dyn Fn(&Progress),
) -> Result<Summary, TrainError> {
    config.validate()?;
    let _lock = lock_directory(run_dir)?;
    prepare_directory(run_dir, start)?;
    let tasks = load_tasks(config)?;
    let mut run = Run::open(config, run_dir, start, &tasks, device, progress)?;
    let mut validations = Vec::new();
    for epoch in run.state.epoch..config.epochs {
        let rates = config.groups.rates(
            epoch,
            config.epochs,
            config.warmup_epochs,
            &config.lr_schedule,
        );
        while run.state.epoch_step < run.steps_in_epoch {
            run.step(epoch, &rates, progress)?;
        }
        validations.push((epoch + 1, run.end_epoch(epoch)?));
    }
    Ok(Summary {
        epochs: run.state.epoch,
        steps: run.state.step,
        validations,
        skipped: run.skipped.total(),
        model: run.trainer.model().valid(),
    })
}

/// Takes `run_dir` for this process for as long as the returned file is held: a second
/// `absnet train` on the same folder (an `--overwrite` included) is refused instead of mixing
/// its log and checkpoints with the first's.
fn lock_directory(run_dir: &Path) -> Result<std::fs::File, TrainError> {
    std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    let path = run_dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| TrainError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(TrainError::Locked {
            run: run_dir.into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(TrainError::io(&path, e)),
    }
}

/// Checks `run_dir` against `start`, clearing it for [`Start::Overwrite`].
fn prepare_directory(run_dir: &Path, start: Start) -> Result<(), TrainError> {
    let latest = run_dir.join("checkpoints/latest.json");
    let log = run_dir.join("log.jsonl");
    let holds_run = latest.exists() || std::fs::metadata(&log).is_ok_and(|m| m.len() > 0);
    match start {
        Start::New if holds_run => Err(TrainError::RunExists {
            run: run_dir.into(),
        }),
        Start::Resume if !run_dir.join("config.toml").exists() => {
            Err(TrainError::NothingToResume {
                run: run_dir.into(),
            })
        }
        Start::Overwrite => {
            for file in ["config.toml", "log.jsonl", "curves.png"] {
                let path = run_dir.join(file);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
                }
            }
            let checkpoints = run_dir.join("checkpoints");
            if checkpoints.exists() {
                std::fs::remove_dir_all(&checkpoints)
                    .map_err(|e| TrainError::io(&checkpoints, e))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A run in progress.
struct Run<'a> {
    config: &'a TrainConfig,
    run_dir: PathBuf,
    tasks: &'a [Task],
    names: Vec<&'static str>,
    trainer: Trainer,
    streams: Vec<TaskStream<'a>>,
    batches: Vec<usize>,
    steps_in_epoch: usize,
    val_examples: Vec<Vec<Example>>,
    state: CheckpointState,
    saver: Saver,
    log: Log,
    skipped: Skipped,
}

impl<'a> Run<'a> {
    fn open(
        config: &'a TrainConfig,
        run_dir: &Path,
        start: Start,
        tasks: &'a [Task],
        device: &Device,
        progress: &dyn Fn(&Progress),
    ) -> Result<Self, TrainError> {
        let checkpoints = run_dir.join("checkpoints");
        std::fs::create_dir_all(&checkpoints).map_err(|e| TrainError::io(&checkpoints, e))?;
        let saver = Saver { checkpoints };
        let mut trainer = Trainer::new(config, tasks, device)?;
        if let Some(weights) = &config.backbone_weights {
            let model = trainer.model().clone().load_backbone(weights)?;
            trainer.set_model(model);
        }
        if let Some(root) = &config.feature_cache {
            let cache = fill_cache(root, config, tasks, &trainer, device, progress)?;
            trainer.use_cache(cache);
        }
        let mut log = Log::open(&run_dir.join("log.jsonl"))?;
        let state = if start == Start::Resume && saver.latest().exists() {
            let state = resume(config, run_dir, &saver, &mut trainer)?;
            log.write(&LogRecord::Resumed {
                resumed_at_step: state.step,
                checkpoint: state.dir.clone(),
            })?;
            state
        } else {
            let model = standardised(trainer.model().clone(), config, tasks, &trainer)?;
            trainer.set_model(model);
            if start == Start::Resume {
                // Stopped before its first checkpoint: every logged step is trained again.
                log.write(&LogRecord::Resumed {
                    resumed_at_step: 0,
                    checkpoint: "none".into(),
                })?;
            }
            let path = run_dir.join("config.toml");
            absnet_fs::write_atomically(&path, config.to_toml().as_bytes())
                .map_err(|e| TrainError::io(&path, e))?;
            CheckpointState::start(tasks.len(), config)
        };
        let streams: Vec<TaskStream> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                TaskStream::new(
                    &t.train,
                    loader_config(config, t, i),
                    config.batch,
                    state.visits[i],
                )
            })
            .collect();
        let batches: Vec<usize> = streams.iter().map(|s| s.batches).collect();
        let mut skipped = Skipped::default();
        let val_examples = validation_examples(config, tasks, &mut skipped)?;
        Ok(Self {
            steps_in_epoch: config
                .steps_per_epoch
                .unwrap_or_else(|| config.task_schedule.epoch_steps(&batches)),
            names: tasks.iter().map(Task::name).collect(),
            run_dir: run_dir.to_path_buf(),
            config,
            tasks,
            trainer,
            streams,
            batches,
            val_examples,
            state,
            saver,
            log,
            skipped,
        })
    }

    /// Draws the next batches, trains one step, logs it and checkpoints when due.
    fn step(
        &mut self,
        epoch: usize,
        rates: &Rates,
        progress: &dyn Fn(&Progress),
    ) -> Result<(), TrainError> {
        let trained = self
            .config
            .task_schedule
            .tasks_at(self.state.step, &self.batches);
        let mut batches = Vec::new();
        for t in trained {
            batches.push((t, self.streams[t].next(&mut self.skipped)?));
        }
        self.state.visits = self.streams.iter().map(|s| s.visits).collect();
        self.state.step += 1;
        self.state.epoch_step += 1;
        let step = match self.trainer.step(self.tasks, batches, rates) {
            Ok(Some(step)) => step,
            Ok(None) => return Ok(()),
            Err(StepError::NotFinite(not_finite)) => return self.not_finite(epoch, not_finite),
            Err(StepError::Failed(e)) => return Err(e),
        };
        self.record(epoch, &step, rates)?;
        progress(&Progress {
            caching: false,
            epoch,
            step: self.state.epoch_step,
            steps_in_epoch: self.steps_in_epoch,
            losses: self
                .state
                .epoch_means()
                .into_iter()
                .enumerate()
                .filter_map(|(t, m)| m.map(|m| (self.names[t], m)))
                .collect(),
        });
        let due = self
            .config
            .checkpoint_steps
            .is_some_and(|k| self.state.step.is_multiple_of(k));
        if due && self.state.epoch_step < self.steps_in_epoch {
            let trainer = &mut self.trainer;
            let model = trainer.model().clone();
            let name = format!("step-{}", self.state.step);
            let (optimizers, balancer) = (&mut trainer.optimizers, trainer.balancer.as_mut());
            self.saver
                .save(name, &model, optimizers, balancer, &mut self.state, None)?;
        }
        Ok(())
    }

    /// A step whose loss or gradient is not finite: logged and skipped, or the end of the run.
    fn not_finite(
        &mut self,
        epoch: usize,
        StepNotFinite { what, value }: StepNotFinite,
    ) -> Result<(), TrainError> {
        if self.config.non_finite == NonFinite::Skip {
            let skipped = format!("{what} is {value}");
            return self.log.write(&LogRecord::Skipped {
                epoch,
                step: self.state.step,
                skipped,
            });
        }
        let kept = match self.state.dir.as_str() {
            "" => "no checkpoint was written yet".to_string(),
            dir => format!("the last checkpoint, {dir}, is kept"),
        };
        Err(TrainError::NonFinite {
            epoch: epoch + 1,
            step: self.state.step,
            what,
            value,
            kept,
        })
    }

    /// Adds a trained step to the epoch's losses and the log.
    fn record(&mut self, epoch: usize, step: &Step, rates: &Rates) -> Result<(), TrainError> {
        for (&t, &loss) in step.tasks.iter().zip(&step.losses) {
            self.state.loss_sums[t] += loss;
            self.state.loss_counts[t] += 1;
        }
        let by_head = |values: &[f64]| -> PerHead<f64> {
            step.tasks
                .iter()
                .zip(values)
                .map(|(&t, &v)| (self.tasks[t].head, v))
                .collect()
        };
        let lr = GroupRates {
            shared: rates.shared,
            balancing: rates.balancing,
            heads: rates.heads.clone(),
        };
        let (losses, weights) = (by_head(&step.losses), by_head(&step.weights));
        self.log.write(&LogRecord::Step {
            epoch,
            step: self.state.step,
            losses,
            weights,
            lr,
            gradient_cosine: step.gradient_cosine,
        })
    }

    /// Validates, lets the balancing method see the epoch's losses, logs, checkpoints and draws
    /// the curves.
    fn end_epoch(&mut self, epoch: usize) -> Result<Validation, TrainError> {
        let validation = self.trainer.validate(self.tasks, &self.val_examples)?;
        let means = self.state.epoch_means();
        self.trainer.balancer.end_epoch(&means);
        let heads = |values: Vec<Option<f64>>| -> PerHead<Option<f64>> {
            self.tasks
                .iter()
                .zip(values)
                .map(|(t, v)| (t.head, v))
                .collect()
        };
        let weights = self.trainer.balancer.task_weights();
        self.log.write(&LogRecord::Epoch {
            epoch,
            step: self.state.step,
            validation: validation.clone(),
            skipped: self.skipped.total(),
            mean_losses: heads(means),
            task_weights: self
                .tasks
                .iter()
                .zip(weights)
                .map(|(t, w)| (t.head, w))
                .collect(),
        })?;
        self.state.epoch = epoch + 1;
        self.state.epoch_step = 0;
        self.state.loss_sums = vec![0.0; self.tasks.len()];
        self.state.loss_counts = vec![0; self.tasks.len()];
        // Without validation images for the first task nothing is scored, and the latest
        // checkpoint is the one exported.
        let first = &self.tasks[0];
        let score = (!self.val_examples[0].is_empty()).then(|| {
            validation
                .get(&first.head)
                .and_then(|s| s.get(first.objective.selection()))
                .copied()
                .unwrap_or(f64::NEG_INFINITY)
        });
        let trainer = &mut self.trainer;
        let model = trainer.model().clone();
        let name = format!("epoch-{}", epoch + 1);
        self.saver.save(
            name,
            &model,
            &mut trainer.optimizers,
            trainer.balancer.as_mut(),
            &mut self.state,
            score,
        )?;
        if let Err(e) =
            crate::plots::write_training_curves(self.log.path(), &self.run_dir.join("curves.png"))
        {
            self.log.write(&LogRecord::PlotFailed {
                epoch,
                plot_error: e.to_string(),
            })?;
        }
        Ok(validation)
    }
}

/// The state of the last checkpoint, its model, optimizers and balancing method loaded into
/// `trainer`; a checkpoint of another configuration is refused.
fn resume(
    config: &TrainConfig,
    run_dir: &Path,
    saver: &Saver,
    trainer: &mut Trainer,
) -> Result<CheckpointState, TrainError> {
    let state = saver.read_state()?;
    if state.config_hash != config_hash(config) {
        return Err(ConfigError::invalid(
            saver.latest().display().to_string(),
            format!("the run was started with another configuration; resume it with the config.toml in {}", run_dir.display()),
        )
        .into());
    }
    let dir = saver.checkpoints.join(&state.dir);
    let model = saver.load(
        &dir,
        trainer.model().clone(),
        &mut trainer.optimizers,
        trainer.balancer.as_mut(),
    )?;
    trainer.set_model(model);
    if !trainer
        .balancer
        .restore(&state.balancing.clone().unwrap_or_default())
    {
        return Err(TrainError::OtherBalancing {
            path: saver.latest(),
        });
    }
    Ok(state)
}

/// Each task's validation examples (at most `val_images`), prepared once.
fn validation_examples(
    config: &TrainConfig,
    tasks: &[Task],
    skipped: &mut Skipped,
) -> Result<Vec<Vec<Example>>, TrainError> {
    tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let val = &task.val[..config
                .val_images
                .unwrap_or(task.val.len())
                .min(task.val.len())];
            let loader = Loader::new(
                val,
                LoaderConfig {
                    flip: false,
                    ..loader_config(config, task, i)
                },
            );
            let visits: Vec<(usize, bool)> = (0..val.len()).map(|i| (i, false)).collect();
            Ok(loader.batch(&visits, skipped)?)
        })
        .collect()
}

/// How task `index`'s images are prepared: without their pixels when the backbone's features
/// come from the cache.
fn loader_config(config: &TrainConfig, task: &Task, index: usize) -> LoaderConfig {
    LoaderConfig {
        pixels: config.feature_cache.is_none(),
        ..task.loader_config(config, index)
    }
}

/// The feature cache under `root` for this run, every training image (and its mirror image when
/// training flips) and every validation image computed.
fn fill_cache(
    root: &Path,
    config: &TrainConfig,
    tasks: &[Task],
    trainer: &Trainer,
    device: &Device,
    progress: &dyn Fn(&Progress),
) -> Result<FeatureCache, TrainError> {
    let heads: Vec<_> = tasks.iter().map(|t| t.head).collect();
    let samples: Vec<&absnet_data::Sample> = tasks
        .iter()
        .flat_map(|t| t.train.iter().chain(&t.val))
        .collect();
    let cache = FeatureCache::open(root, config, &heads, &samples)?;
    let model = trainer.model().valid();
    for (i, task) in tasks.iter().enumerate() {
        let flips: &[bool] = if config.flip {
            &[false, true]
        } else {
            &[false]
        };
        let mut visits: Vec<(&absnet_data::Sample, bool)> = task
            .train
            .iter()
            .flat_map(|s| flips.iter().map(move |&f| (s, f)))
            .collect();
        visits.extend(task.val.iter().map(|s| (s, false)));
        let report = |done: usize, total: usize| {
            progress(&Progress {
                caching: true,
                epoch: 0,
                step: done,
                steps_in_epoch: total,
                losses: Vec::new(),
            })
        };
        cache.fill(
            &visits,
            &task.loader_config(config, i),
            &model,
            config.batch,
            device,
            &report,
        )?;
    }
    Ok(cache)
}

/// Images the readout's feature statistics are measured on, per task.
const STATISTICS_IMAGES: usize = 128;

/// `model` with its readout head's standardisation set from the backbone's features of the
/// first training images of the saliency task; other models unchanged.
fn standardised(
    model: AbsNet,
    config: &TrainConfig,
    tasks: &[Task],
    trainer: &Trainer,
) -> Result<AbsNet, TrainError> {
    use absnet_model::Head;
    use absnet_model::heads::SaliencyHead;
    if !matches!(model.saliency, Some(SaliencyHead::Readout(_))) {
        return Ok(model);
    }
    let Some((index, task)) = tasks
        .iter()
        .enumerate()
        .find(|(_, t)| t.head == Head::Saliency)
    else {
        return Ok(model);
    };
    let samples = &task.train[..task.train.len().min(STATISTICS_IMAGES)];
    let loader = Loader::new(
        samples,
        LoaderConfig {
            flip: false,
            ..loader_config(config, task, index)
        },
    );
    let valid = model.valid();
    let device = trainer.device();
    let taps = match &config.model.heads.saliency {
        Some(absnet_model::heads::SaliencyHeadConfig::Readout(r)) => r.taps.clone(),
        _ => unreachable!("a readout head has a readout config"),
    };
    let mut sums: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    let visits: Vec<(usize, bool)> = (0..samples.len()).map(|i| (i, false)).collect();
    for chunk in visits.chunks(config.batch) {
        let examples = loader.batch(chunk, &mut Skipped::default())?;
        let encoded = trainer.features().encode(
            &valid,
            &examples,
            config,
            &[Head::Saliency],
            None,
            device,
        )?;
        for (i, tap) in taps.iter().enumerate() {
            let x = encoded
                .taps
                .iter()
                .find(|(t, _)| t == tap)
                .map(|(_, x)| x.tensor())
                .expect("the readout's taps are encoded");
            let [b, c, h, w] = x.dims();
            let values: Vec<f32> = x
                .swap_dims(0, 1)
                .reshape([c, b * h * w])
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32");
            if sums.len() <= i {
                sums.push((vec![0.0; c], vec![0.0; c], 0.0));
            }
            let (sum, squares, count) = &mut sums[i];
            for (ch, row) in values.chunks(b * h * w).enumerate() {
                for &v in row {
                    sum[ch] += f64::from(v);
                    squares[ch] += f64::from(v) * f64::from(v);
                }
            }
            *count += (b * h * w) as f64;
        }
    }
    let Some(SaliencyHead::Readout(mut readout)) = model.saliency else {
        unreachable!("checked above")
    };
    for (i, (sum, squares, count)) in sums.iter().enumerate() {
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let std: Vec<f32> = squares
            .iter()
            .zip(&mean)
            .map(|(q, &m)| {
                ((q / count - f64::from(m) * f64::from(m)).max(0.0).sqrt() as f32).max(1e-3)
            })
            .collect();
        readout = readout.set_statistics(i, &mean, &std);
    }
    Ok(AbsNet {
        saliency: Some(SaliencyHead::Readout(readout)),
        ..model
    })
}
