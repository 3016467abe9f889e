//! The engine's one training step: each trained task's forward and backward pass on its own
//! batch, the balancing method's combination of their shared-encoder gradients (and weights for
//! their heads), then one optimizer step per parameter group at its own learning rate.

use absnet_data::loader::Example;
use absnet_model::{AbsNet, PerHead};
use burn::module::Module;
use burn::tensor::Device;

use crate::balancing::{Balancing, TaskStep};
use crate::cache::FeatureCache;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::gradients::{GroupGradient, StepGradients, aligned, dot, step_gradients};
use crate::groups::{GroupOptimizers, Rates};
use crate::tasks::{Features, Task, Validation};

/// The model and what trains it.
pub struct Trainer {
    /// On the autodiff device; `None` only while a step moves it through the optimizers.
    model: Option<AbsNet>,
    pub(crate) optimizers: GroupOptimizers,
    pub(crate) balancer: Box<dyn Balancing>,
    /// The plain device (validation, FAMO's losses after the step) and its autodiff form.
    device: Device,
    autodiff: Device,
    /// The frozen encoder's features, when the run caches them.
    cache: Option<FeatureCache>,
}

/// What a step trained, for the log.
pub struct Step {
    /// The tasks trained (indices into the run's tasks), their losses and balancing weights.
    pub tasks: Vec<usize>,
    pub losses: Vec<f64>,
    pub weights: Vec<f64>,
    /// The cosine of two tasks' shared-encoder gradients, when two tasks shared a trained encoder.
    pub gradient_cosine: Option<f64>,
}

/// What made a step unusable.
#[derive(Debug)]
pub struct NotFinite {
    pub what: String,
    pub value: f64,
}

/// Why a step did not train.
#[derive(Debug)]
pub enum StepError {
    /// A loss or the combined gradient was not finite; nothing was changed.
    NotFinite(NotFinite),
    /// A batch's cached features could not be read.
    Failed(TrainError),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::NotFinite(n) => write!(f, "the {} is not finite ({})", n.what, n.value),
            StepError::Failed(e) => e.fmt(f),
        }
    }
}

impl From<TrainError> for StepError {
    fn from(e: TrainError) -> Self {
        StepError::Failed(e)
    }
}

/// Each trained task's pass: its loss, its shared-encoder gradient (none when the encoder is
/// frozen) and its head's.
struct Passes {
    tasks: Vec<usize>,
    losses: Vec<f64>,
    shared: Vec<GroupGradient>,
    heads: Vec<PerHead<GroupGradient>>,
    examples: Vec<Vec<Example>>,
}

impl Trainer {
    /// A fresh model — the untrained layers drawn from the config's seed, so a run is
    /// reproducible — with one optimizer per group and the balancing method for `tasks`.
    pub fn new(config: &TrainConfig, tasks: &[Task], device: &Device) -> Result<Self, TrainError> {
        let autodiff = device.clone().autodiff();
        autodiff.seed(config.seed);
        let model = AbsNet::new(&config.model, &autodiff)?;
        let weights: Vec<f64> = tasks.iter().map(|t| t.weight).collect();
        Ok(Self {
            optimizers: GroupOptimizers::new(&model, &config.groups),
            balancer: config.balancing.build(
                &weights,
                &config.groups.balancing,
                &autodiff,
                config.seed,
            ),
            model: Some(model),
            device: device.clone(),
            autodiff,
            cache: None,
        })
    }

    /// Reads the backbone's features from `cache` from now on (the encoder frozen, or frozen
    /// up to the cache's deepest tap).
    pub(crate) fn use_cache(&mut self, cache: FeatureCache) {
        self.cache = Some(cache);
    }

    /// The plain device validation runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Where batches' backbone features come from.
    pub fn features(&self) -> Features<'_> {
        match &self.cache {
            Some(cache) => Features::Cached(cache),
            None => Features::Live,
        }
    }

    pub fn model(&self) -> &AbsNet {
        self.model.as_ref().expect("a model between steps")
    }

    pub fn set_model(&mut self, model: AbsNet) {
        self.model = Some(model);
    }

    /// Trains one step on `batches` (task index and its examples; an empty batch sits the step
    /// out). `Ok(None)`: no task had a batch. `Err`: a loss or the combined gradient was not
    /// finite, or a cached batch unreadable; nothing was changed.
    pub fn step(
        &mut self,
        tasks: &[Task],
        batches: Vec<(usize, Vec<Example>)>,
        rates: &Rates,
    ) -> Result<Option<Step>, StepError> {
        let passes = self.backward(tasks, batches)?;
        if passes.tasks.is_empty() {
            return Ok(None);
        }
        // Without a shared gradient (the encoder does not train) the heads share nothing, so
        // there is nothing to balance.
        let mut gradient_cosine = None;
        let (shared, weights) = if passes.shared.is_empty() {
            (None, vec![1.0; passes.tasks.len()])
        } else {
            let shared = aligned(passes.shared);
            let values: Vec<_> = shared.iter().map(|g| g.values.clone()).collect();
            if let [a, b] = values.as_slice() {
                gradient_cosine = Some(dot(a, b) / (dot(a, a) * dot(b, b)).sqrt());
            }
            let combined = self.balancer.combine(&TaskStep {
                tasks: &passes.tasks,
                losses: &passes.losses,
                shared: &values,
                lr: rates.balancing,
            });
            let shared = shared[0].with_values(combined.shared);
            let norm = shared.norm();
            if !norm.is_finite() {
                return Err(StepError::NotFinite(NotFinite {
                    what: "shared gradient norm".into(),
                    value: norm,
                }));
            }
            (Some(shared), combined.weights)
        };
        let mut gradients = StepGradients {
            shared,
            heads: PerHead::new(),
        };
        for (heads, &w) in passes.heads.into_iter().zip(&weights) {
            for (head, g) in heads {
                gradients
                    .heads
                    .insert(head, g.with_values(g.values.clone() * w as f32));
            }
        }
        let gradients_shared = gradients.shared.is_some();
        let model = self.model.take().expect("a model between steps");
        self.model = Some(self.optimizers.step(model, gradients, rates));
        if self.balancer.needs_losses_after_step() && gradients_shared {
            let valid = self.model().valid();
            let mut after = Vec::new();
            for (&t, examples) in passes.tasks.iter().zip(&passes.examples) {
                let loss =
                    tasks[t]
                        .objective
                        .loss(&valid, examples, self.features(), &self.device)?;
                after.push(f64::from(loss.into_scalar::<f32>()));
            }
            self.balancer
                .after_step(&passes.tasks, &after, rates.balancing);
        }
        Ok(Some(Step {
            tasks: passes.tasks,
            losses: passes.losses,
            weights,
            gradient_cosine,
        }))
    }

    /// Each task's forward and backward pass on its own batch.
    fn backward(
        &self,
        tasks: &[Task],
        batches: Vec<(usize, Vec<Example>)>,
    ) -> Result<Passes, StepError> {
        let model = self.model();
        let mut passes = Passes {
            tasks: Vec::new(),
            losses: Vec::new(),
            shared: Vec::new(),
            heads: Vec::new(),
            examples: Vec::new(),
        };
        for (t, examples) in batches.into_iter().filter(|(_, e)| !e.is_empty()) {
            let loss =
                tasks[t]
                    .objective
                    .loss(model, &examples, self.features(), &self.autodiff)?;
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(StepError::NotFinite(NotFinite {
                    what: format!("{} loss", tasks[t].name()),
                    value,
                }));
            }
            let mut grads = loss.backward();
            let gradients = step_gradients(&mut grads, model);
            passes.shared.extend(gradients.shared);
            passes.heads.push(gradients.heads);
            passes.tasks.push(t);
            passes.losses.push(value);
            passes.examples.push(examples);
        }
        Ok(passes)
    }

    /// Every task's validation scores on its own examples; a task without validation examples
    /// has none.
    pub fn validate(
        &self,
        tasks: &[Task],
        examples: &[Vec<Example>],
    ) -> Result<Validation, TrainError> {
        let valid = self.model().valid();
        tasks
            .iter()
            .zip(examples)
            .filter(|(_, examples)| !examples.is_empty())
            .map(|(task, examples)| {
                let scores =
                    task.objective
                        .validate(&valid, examples, self.features(), &self.device)?;
                Ok((task.head, scores))
            })
            .collect()
    }
}
