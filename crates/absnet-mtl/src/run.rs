//! A training run: its directory (resolved config, JSONL log, plots, checkpoints), the loop over
//! the task schedule, validation, and resuming exactly where a run stopped.
//!
//! Checkpoints are written to `checkpoints/epoch-N/` (and `step-N/` every `checkpoint_steps`):
//! model, optimizer states of every group and the balancing method's parameters in burn's format
//! (which keeps parameter ids, so optimizer state survives), and only then committed by an
//! atomic rename of `checkpoints/latest.json`, which also records the step, each task's place in
//! its data and the balancing method's history. A kill at any moment leaves the previous
//! checkpoint intact and pointed to.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use absnet_data::Sample;
use absnet_data::loader::{Example, Loader, Skipped};
use absnet_model::AbsNet;
use burn::module::Module;
use burn::tensor::{Device, Gradients};
use serde::{Deserialize, Serialize};

use crate::balancing::{Balancing, TaskStep};
use crate::config::{NonFinite, TrainConfig};
use crate::gradients::{GroupGradient, GroupGradientBuilder, aligned};
use crate::groups::{GroupOptimizers, GroupRates, StepGradients};
use crate::tasks::{Task, Validation, load_tasks};

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
    #[error(
        "epoch {epoch}, step {step}: the {what} is not finite ({value}); stopped (the last checkpoint is kept)"
    )]
    NonFinite {
        epoch: usize,
        step: usize,
        what: String,
        value: f64,
    },
}

pub(crate) fn file_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// What `latest.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Checkpoint {
    /// Epochs completed.
    epoch: usize,
    /// Steps completed in the run, and in the current epoch.
    step: usize,
    epoch_step: usize,
    /// Batches each task has drawn so far.
    visits: Vec<usize>,
    /// Each task's loss sum and count in the current epoch.
    loss_sums: Vec<f64>,
    loss_counts: Vec<usize>,
    dir: String,
    config_hash: u64,
    /// The best validation score so far (see [`Validation::score`]) and its checkpoint.
    best_score: Option<f64>,
    best_dir: Option<String>,
    balancing: serde_json::Value,
}

/// Progress reported to the caller after each step.
pub struct Progress {
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
        .fold(0xCBF2_9CE4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
        })
}

fn write_atomically(path: &Path, text: &str) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| file_error(path, e))
}

/// The gradients of every group from one backward pass (a single loss).
pub fn step_gradients(grads: &mut Gradients, model: &AbsNet) -> StepGradients {
    StepGradients {
        shared: GroupGradientBuilder::default()
            .add(grads, &model.backbone)
            .add(grads, &model.neck)
            .build(),
        saliency: GroupGradientBuilder::default()
            .add(grads, &model.saliency)
            .build(),
        aesthetics: GroupGradientBuilder::default()
            .add(grads, &model.aesthetics)
            .build(),
    }
}

/// A task's training data as an endless sequence of batches: pass p is the loader's seeded
/// order for p, cut into batches; `visits` batches have been drawn.
struct TaskStream<'a> {
    loader: Loader<'a>,
    batch: usize,
    batches: usize,
    visits: usize,
    order: Option<(u64, Vec<(usize, bool)>)>,
}

impl<'a> TaskStream<'a> {
    fn new(
        samples: &'a [Sample],
        loader_config: absnet_data::loader::LoaderConfig,
        batch: usize,
        visits: usize,
    ) -> Self {
        Self {
            loader: Loader::new(samples, loader_config),
            batch,
            batches: samples.len().div_ceil(batch),
            visits,
            order: None,
        }
    }

    fn next(&mut self, skipped: &mut Skipped) -> Result<Vec<Example>, TrainError> {
        let pass = (self.visits / self.batches) as u64;
        let index = self.visits % self.batches;
        self.visits += 1;
        if self.order.as_ref().is_none_or(|(p, _)| *p != pass) {
            self.order = Some((pass, self.loader.order(pass)));
        }
        let (_, order) = self.order.as_ref().expect("just drawn");
        let visits = &order[index * self.batch..((index + 1) * self.batch).min(order.len())];
        Ok(self.loader.batch(visits, skipped)?)
    }
}

/// Everything a checkpoint holds, written and then committed.
struct Saver {
    checkpoints: PathBuf,
    latest: PathBuf,
}

/// What a run trains besides the model.
struct Training {
    optimizers: GroupOptimizers,
    balancer: Box<dyn Balancing>,
}

impl Saver {
    fn save(
        &self,
        name: String,
        model: &AbsNet,
        training: &mut Training,
        state: &mut Checkpoint,
        validation: Option<&Validation>,
    ) -> Result<(), TrainError> {
        let dir = self.checkpoints.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
        let path = dir.join("model.bpk");
        model
            .clone()
            .save_file(&path)
            .map_err(|e| file_error(&path, format!("{e:?}")))?;
        for (group, optimizer) in training.optimizers.named() {
            let path = dir.join(format!("optimizer-{group}.bpk"));
            optimizer
                .save(&path)
                .map_err(|e| file_error(&path, format!("{e:?}")))?;
        }
        if let Some(learned) = training.balancer.learned() {
            learned.save(&dir).map_err(|e| file_error(&dir, e))?;
        }
        state.balancing = training.balancer.state();
        let previous = std::mem::replace(&mut state.dir, name.clone());
        let previous_best = state.best_dir.clone();
        if let Some(v) = validation.filter(|v| state.best_score.is_none_or(|best| v.score() > best))
        {
            state.best_score = Some(v.score());
            state.best_dir = Some(name);
        }
        write_atomically(
            &self.latest,
            &serde_json::to_string_pretty(state).expect("serialisable"),
        )?;
        // Keep the latest and the best checkpoints only.
        for old in [Some(previous), previous_best].into_iter().flatten() {
            if !old.is_empty() && old != state.dir && Some(&old) != state.best_dir.as_ref() {
                let _ = std::fs::remove_dir_all(self.checkpoints.join(old));
            }
        }
        Ok(())
    }

    fn load(
        &self,
        dir: &Path,
        model: AbsNet,
        training: &mut Training,
    ) -> Result<AbsNet, TrainError> {
        let path = dir.join("model.bpk");
        let model = model
            .try_load_file(&path)
            .map_err(|e| file_error(&path, format!("{e:?}")))?;
        for (group, optimizer) in training.optimizers.named() {
            let path = dir.join(format!("optimizer-{group}.bpk"));
            *optimizer = optimizer
                .clone()
                .load(&path)
                .map_err(|e| file_error(&path, format!("{e:?}")))?;
        }
        if let Some(learned) = training.balancer.learned() {
            learned.load(dir).map_err(|e| file_error(dir, e))?;
        }
        Ok(model)
    }
}

/// Trains (or resumes) the run in `run_dir`. `device` is the plain device; training runs on its
/// autodiff form.
pub fn train(
    config: &TrainConfig,
    run_dir: &Path,
    resume: bool,
    device: &Device,
    progress: &dyn Fn(&Progress),
) -> Result<Summary, TrainError> {
    config.validate().map_err(TrainError::Config)?;
    let tasks = load_tasks(config)?;
    let names: Vec<&'static str> = tasks.iter().map(Task::name).collect();
    let checkpoints = run_dir.join("checkpoints");
    std::fs::create_dir_all(&checkpoints).map_err(|e| file_error(&checkpoints, e))?;
    let latest_path = checkpoints.join("latest.json");
    let hash = config_hash(config);
    let autodiff = device.clone().autodiff();
    // The untrained neck and heads are drawn from the seed: a run is reproducible.
    autodiff.seed(config.seed);
    let mut model = AbsNet::new(&config.model, &autodiff)?;
    let groups = &config.groups;
    let fixed_weights: Vec<f64> = tasks.iter().map(|t| t.weight).collect();
    let mut training = Training {
        optimizers: GroupOptimizers::new(
            &model,
            &groups.shared,
            &groups.saliency,
            &groups.aesthetics,
        ),
        balancer: config
            .balancing
            .build(&fixed_weights, &groups.balancing, &autodiff, config.seed),
    };
    let mut state = Checkpoint {
        epoch: 0,
        step: 0,
        epoch_step: 0,
        visits: vec![0; tasks.len()],
        loss_sums: vec![0.0; tasks.len()],
        loss_counts: vec![0; tasks.len()],
        dir: String::new(),
        config_hash: hash,
        best_score: None,
        best_dir: None,
        balancing: serde_json::Value::Null,
    };
    let saver = Saver {
        checkpoints: checkpoints.clone(),
        latest: latest_path.clone(),
    };
    let mut resumed_from = None;
    if resume && latest_path.exists() {
        let text =
            std::fs::read_to_string(&latest_path).map_err(|e| file_error(&latest_path, e))?;
        state = serde_json::from_str(&text).map_err(|e| file_error(&latest_path, e))?;
        if state.config_hash != hash {
            return Err(TrainError::Config(format!(
                "{}: the run was started with another configuration; resume it with the config.toml in {}",
                latest_path.display(),
                run_dir.display()
            )));
        }
        model = saver.load(&checkpoints.join(&state.dir), model, &mut training)?;
        resumed_from = Some(state.step);
        training
            .balancer
            .restore(&state.balancing)
            .map_err(|e| file_error(&latest_path, e))?;
    } else {
        if let Some(weights) = &config.backbone_weights {
            model = model.load_backbone(weights)?;
        }
        write_atomically(&run_dir.join("config.toml"), &config.to_toml())?;
    }
    let log_path = run_dir.join("log.jsonl");
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| file_error(&log_path, e))?;
    let mut log_line =
        |line: serde_json::Value| writeln!(log, "{line}").map_err(|e| file_error(&log_path, e));
    if let Some(step) = resumed_from {
        // Steps after the checkpoint that a killed run had logged are trained again.
        log_line(serde_json::json!({"resumed_at_step": step, "checkpoint": state.dir}))?;
    }

    let mut streams: Vec<TaskStream> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            TaskStream::new(
                &t.train,
                t.loader_config(config, i),
                config.batch,
                state.visits[i],
            )
        })
        .collect();
    let batches: Vec<usize> = streams.iter().map(|s| s.batches).collect();
    let steps_in_epoch = config
        .steps_per_epoch
        .unwrap_or_else(|| config.task_schedule.epoch_steps(&batches));
    let mut skipped = Skipped::default();
    let mut val_examples = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let val = &task.val[..config
            .val_images
            .unwrap_or(task.val.len())
            .min(task.val.len())];
        let loader = Loader::new(
            val,
            absnet_data::loader::LoaderConfig {
                flip: false,
                ..task.loader_config(config, i)
            },
        );
        let visits: Vec<(usize, bool)> = (0..val.len()).map(|i| (i, false)).collect();
        val_examples.push(loader.batch(&visits, &mut skipped)?);
    }

    let mut validations = Vec::new();
    for epoch in state.epoch..config.epochs {
        let rate = |g: &crate::groups::GroupConfig| {
            g.lr_at(
                epoch,
                config.epochs,
                config.warmup_epochs,
                &config.lr_schedule,
            )
        };
        let rates = GroupRates {
            shared: rate(&groups.shared),
            saliency: rate(&groups.saliency),
            aesthetics: rate(&groups.aesthetics),
        };
        let balancing_rate = rate(&groups.balancing);
        while state.epoch_step < steps_in_epoch {
            let trained = config.task_schedule.tasks_at(state.step, &batches);
            let outcome = backward_tasks(
                &trained,
                &tasks,
                &mut streams,
                &model,
                config,
                &autodiff,
                &mut skipped,
            )?;
            state.visits = streams.iter().map(|s| s.visits).collect();
            state.step += 1;
            state.epoch_step += 1;
            let step =
                outcome.and_then(|step| balance(step, training.balancer.as_mut(), balancing_rate));
            let step = match step {
                Ok(step) => step,
                Err(NotFinite { what, value }) => match config.non_finite {
                    NonFinite::Stop => {
                        return Err(TrainError::NonFinite {
                            epoch,
                            step: state.step,
                            what,
                            value,
                        });
                    }
                    NonFinite::Skip => {
                        log_line(
                            serde_json::json!({"epoch": epoch, "step": state.step, "skipped": format!("{what} is {value}")}),
                        )?;
                        continue;
                    }
                },
            };
            let Some(BalancedStep {
                tasks: step_tasks,
                losses,
                weights,
                examples: examples_of,
                gradients,
            }) = step
            else {
                continue;
            };
            model = training.optimizers.step(model, gradients, rates);
            if training.balancer.needs_losses_after_step() {
                let valid = model.valid();
                let after: Vec<f64> = step_tasks
                    .iter()
                    .zip(&examples_of)
                    .map(|(&t, examples)| {
                        f64::from(
                            tasks[t]
                                .loss(&valid, examples, config, device)
                                .into_scalar::<f32>(),
                        )
                    })
                    .collect();
                training
                    .balancer
                    .after_step(&step_tasks, &after, balancing_rate);
            }
            for (&t, &loss) in step_tasks.iter().zip(&losses) {
                state.loss_sums[t] += loss;
                state.loss_counts[t] += 1;
            }
            let by_name = |values: &[f64]| -> serde_json::Map<String, serde_json::Value> {
                step_tasks
                    .iter()
                    .zip(values)
                    .map(|(&t, &v)| (names[t].to_string(), v.into()))
                    .collect()
            };
            log_line(serde_json::json!({
                "epoch": epoch, "step": state.step, "losses": by_name(&losses), "weights": by_name(&weights),
                "lr": {"shared": rates.shared, "saliency": rates.saliency, "aesthetics": rates.aesthetics, "balancing": balancing_rate},
            }))?;
            progress(&Progress {
                epoch,
                step: state.epoch_step,
                steps_in_epoch,
                losses: epoch_means(&state)
                    .into_iter()
                    .enumerate()
                    .filter_map(|(t, m)| m.map(|m| (names[t], m)))
                    .collect(),
            });
            if config
                .checkpoint_steps
                .is_some_and(|k| state.step.is_multiple_of(k))
                && state.epoch_step < steps_in_epoch
            {
                saver.save(
                    format!("step-{}", state.step),
                    &model,
                    &mut training,
                    &mut state,
                    None,
                )?;
            }
        }
        let valid = model.valid();
        let mut validation = Validation::default();
        for (task, examples) in tasks.iter().zip(&val_examples) {
            let v = task.validate(&valid, examples, config, device);
            validation.saliency = validation.saliency.or(v.saliency);
            validation.aesthetics = validation.aesthetics.or(v.aesthetics);
        }
        let means = epoch_means(&state);
        training.balancer.end_epoch(&means);
        log_line(serde_json::json!({
            "epoch": epoch, "step": state.step, "validation": validation, "skipped": skipped.total(),
            "mean_losses": names.iter().zip(&means).map(|(n, m)| (n.to_string(), serde_json::json!(m))).collect::<serde_json::Map<_, _>>(),
            "task_weights": names.iter().zip(training.balancer.task_weights()).map(|(n, w)| (n.to_string(), serde_json::json!(w))).collect::<serde_json::Map<_, _>>(),
        }))?;
        state.epoch = epoch + 1;
        state.epoch_step = 0;
        state.loss_sums = vec![0.0; tasks.len()];
        state.loss_counts = vec![0; tasks.len()];
        saver.save(
            format!("epoch-{}", epoch + 1),
            &model,
            &mut training,
            &mut state,
            Some(&validation),
        )?;
        validations.push((epoch + 1, validation));
        if let Err(e) = crate::plots::write_training_curves(&log_path, &run_dir.join("curves.png"))
        {
            log_line(serde_json::json!({"epoch": epoch, "plot_error": e.to_string()}))?;
        }
    }
    Ok(Summary {
        epochs: state.epoch,
        steps: state.step,
        validations,
        skipped: skipped.total(),
        model: model.valid(),
    })
}

/// What made a step unusable.
struct NotFinite {
    what: String,
    value: f64,
}

/// The tasks of one step, each after its forward and backward pass on its own batch.
struct TaskPasses {
    tasks: Vec<usize>,
    losses: Vec<f64>,
    shared: Vec<GroupGradient>,
    /// Each task's head gradients (its own head only: a task's pass computes no other).
    heads: Vec<StepGradients>,
    examples: Vec<Vec<Example>>,
}

/// A step ready for the optimizers: the balanced gradients and what the log records.
struct BalancedStep {
    tasks: Vec<usize>,
    losses: Vec<f64>,
    weights: Vec<f64>,
    examples: Vec<Vec<Example>>,
    gradients: StepGradients,
}

/// Draws each trained task's next batch and runs its forward and backward pass; a task whose
/// batch came out empty (all samples skipped) sits the step out.
fn backward_tasks(
    trained: &[usize],
    tasks: &[Task],
    streams: &mut [TaskStream],
    model: &AbsNet,
    config: &TrainConfig,
    device: &Device,
    skipped: &mut Skipped,
) -> Result<Result<TaskPasses, NotFinite>, TrainError> {
    let mut passes = TaskPasses {
        tasks: Vec::new(),
        losses: Vec::new(),
        shared: Vec::new(),
        heads: Vec::new(),
        examples: Vec::new(),
    };
    for &t in trained {
        let examples = streams[t].next(skipped)?;
        if examples.is_empty() {
            continue;
        }
        let loss = tasks[t].loss(model, &examples, config, device);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        if !value.is_finite() {
            return Ok(Err(NotFinite {
                what: format!("{} loss", tasks[t].name()),
                value,
            }));
        }
        let mut grads = loss.backward();
        let mut gradients = step_gradients(&mut grads, model);
        passes.shared.push(
            gradients
                .shared
                .take()
                .expect("every task reaches the shared encoder"),
        );
        passes.heads.push(gradients);
        passes.tasks.push(t);
        passes.losses.push(value);
        passes.examples.push(examples);
    }
    Ok(Ok(passes))
}

/// The balancing method's shared gradient and task weights; each head's gradient scaled by its
/// task's weight. `None` when no task had a batch.
fn balance(
    passes: TaskPasses,
    balancer: &mut dyn Balancing,
    lr: f64,
) -> Result<Option<BalancedStep>, NotFinite> {
    if passes.tasks.is_empty() {
        return Ok(None);
    }
    let shared = aligned(passes.shared);
    let values: Vec<_> = shared.iter().map(|g| g.values.clone()).collect();
    let combined = balancer.combine(&TaskStep {
        tasks: &passes.tasks,
        losses: &passes.losses,
        shared: &values,
        lr,
    });
    let shared = shared[0].with_values(combined.shared);
    let norm = shared.norm();
    if !norm.is_finite() {
        return Err(NotFinite {
            what: "shared gradient norm".into(),
            value: norm,
        });
    }
    let mut gradients = StepGradients {
        shared: Some(shared),
        saliency: None,
        aesthetics: None,
    };
    for (heads, &w) in passes.heads.into_iter().zip(&combined.weights) {
        let scaled =
            |g: Option<GroupGradient>| g.map(|h| h.with_values(h.values.clone() * w as f32));
        gradients.saliency = scaled(heads.saliency).or(gradients.saliency);
        gradients.aesthetics = scaled(heads.aesthetics).or(gradients.aesthetics);
    }
    Ok(Some(BalancedStep {
        tasks: passes.tasks,
        losses: passes.losses,
        weights: combined.weights,
        examples: passes.examples,
        gradients,
    }))
}

fn epoch_means(state: &Checkpoint) -> Vec<Option<f64>> {
    state
        .loss_sums
        .iter()
        .zip(&state.loss_counts)
        .map(|(&s, &n)| (n > 0).then(|| s / n as f64))
        .collect()
}

pub fn export(
    run_dir: &Path,
    output: &Path,
    precision: absnet_model::weights::StoredPrecision,
    device: &Device,
) -> Result<absnet_model::ModelCard, TrainError> {
    let config_path = run_dir.join("config.toml");
    let text = std::fs::read_to_string(&config_path).map_err(|e| file_error(&config_path, e))?;
    let config = TrainConfig::from_toml(&text).map_err(|e| file_error(&config_path, e))?;
    let latest_path = run_dir.join("checkpoints/latest.json");
    let text = std::fs::read_to_string(&latest_path).map_err(|e| file_error(&latest_path, e))?;
    let state: Checkpoint = serde_json::from_str(&text).map_err(|e| file_error(&latest_path, e))?;
    let dir = run_dir
        .join("checkpoints")
        .join(state.best_dir.as_ref().unwrap_or(&state.dir));
    let model = AbsNet::new(&config.model, device)?
        .try_load_file(dir.join("model.bpk"))
        .map_err(|e| file_error(&dir.join("model.bpk"), format!("{e:?}")))?;
    let name = output
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let backbone = config.backbone_weights.as_ref().map_or_else(
        || "none (random initialisation)".into(),
        |p| p.display().to_string(),
    );
    let mut card = absnet_model::ModelCard::new(&name, config.model.clone(), &backbone);
    card.input = Some(config.input);
    let trained = format!(
        "{} of {} epochs, checkpoint {}, validation score {:.4}",
        state.epoch,
        config.epochs,
        dir.display(),
        state.best_score.unwrap_or(f64::NAN)
    );
    type TaskData<'a> = Option<(&'a Vec<String>, &'a Path)>;
    let tasks: [(&str, TaskData); 2] = [
        (
            "saliency",
            config
                .saliency
                .as_ref()
                .map(|t| (&t.datasets, t.split.as_path())),
        ),
        (
            "aesthetics",
            config
                .aesthetics
                .as_ref()
                .map(|t| (&t.datasets, t.split.as_path())),
        ),
    ];
    for (name, task) in tasks {
        if let (Some((datasets, split)), Some(head)) = (task, card.heads.get_mut(name)) {
            head.trained = true;
            head.data = datasets
                .iter()
                .map(|d| format!("{d} (train part of {})", split.display()))
                .collect();
            head.notes =
                format!("{trained} (best: saliency CC, or aesthetics SRCC without saliency)");
        }
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    absnet_model::card::save_model(&model, &card, output, precision)?;
    Ok(card)
}
