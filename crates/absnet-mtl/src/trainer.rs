//! The engine's one training step: each trained task's forward and backward pass on its own
//! batch, the balancing method's combination of their shared-encoder gradients (and weights for
//! their heads), then one optimizer step per parameter group at its own learning rate.

use absnet_data::loader::Example;
use absnet_model::{AbsNet, PerHead};
use burn::module::Module;
use burn::tensor::Device;

use crate::balancing::{Balancing, TaskStep};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::gradients::{GroupGradient, StepGradients, aligned, step_gradients};
use crate::groups::{GroupOptimizers, Rates};
use crate::tasks::{Task, Validation};

/// The model and what trains it.
pub struct Trainer {
    /// On the autodiff device; `None` only while a step moves it through the optimizers.
    model: Option<AbsNet>,
    pub optimizers: GroupOptimizers,
    pub balancer: Box<dyn Balancing>,
    /// The plain device (validation, FAMO's losses after the step) and its autodiff form.
    device: Device,
    autodiff: Device,
}

/// What a step trained, for the log.
pub struct Step {
    /// The tasks trained (indices into the run's tasks), their losses and balancing weights.
    pub tasks: Vec<usize>,
    pub losses: Vec<f64>,
    pub weights: Vec<f64>,
}

/// What made a step unusable.
#[derive(Debug)]
pub struct NotFinite {
    pub what: String,
    pub value: f64,
}

/// Each trained task's pass: its loss, its shared-encoder gradient and its head's.
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
        })
    }

    pub fn model(&self) -> &AbsNet {
        self.model.as_ref().expect("a model between steps")
    }

    pub fn set_model(&mut self, model: AbsNet) {
        self.model = Some(model);
    }

    /// Trains one step on `batches` (task index and its examples; an empty batch sits the step
    /// out). `Ok(None)`: no task had a batch. `Err`: a loss or the combined gradient was not
    /// finite; nothing was changed.
    pub fn step(
        &mut self,
        tasks: &[Task],
        batches: Vec<(usize, Vec<Example>)>,
        rates: &Rates,
    ) -> Result<Option<Step>, NotFinite> {
        let passes = self.backward(tasks, batches)?;
        if passes.tasks.is_empty() {
            return Ok(None);
        }
        let shared = aligned(passes.shared);
        let values: Vec<_> = shared.iter().map(|g| g.values.clone()).collect();
        let combined = self.balancer.combine(&TaskStep {
            tasks: &passes.tasks,
            losses: &passes.losses,
            shared: &values,
            lr: rates.balancing,
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
            heads: PerHead::new(),
        };
        for (heads, &w) in passes.heads.into_iter().zip(&combined.weights) {
            for (head, g) in heads {
                gradients
                    .heads
                    .insert(head, g.with_values(g.values.clone() * w as f32));
            }
        }
        let model = self.model.take().expect("a model between steps");
        self.model = Some(self.optimizers.step(model, gradients, rates));
        if self.balancer.needs_losses_after_step() {
            let valid = self.model().valid();
            let after: Vec<f64> = passes
                .tasks
                .iter()
                .zip(&passes.examples)
                .map(|(&t, examples)| {
                    f64::from(
                        tasks[t]
                            .objective
                            .loss(&valid, examples, &self.device)
                            .into_scalar::<f32>(),
                    )
                })
                .collect();
            self.balancer
                .after_step(&passes.tasks, &after, rates.balancing);
        }
        Ok(Some(Step {
            tasks: passes.tasks,
            losses: passes.losses,
            weights: combined.weights,
        }))
    }

    /// Each task's forward and backward pass on its own batch.
    fn backward(
        &self,
        tasks: &[Task],
        batches: Vec<(usize, Vec<Example>)>,
    ) -> Result<Passes, NotFinite> {
        let model = self.model();
        let mut passes = Passes {
            tasks: Vec::new(),
            losses: Vec::new(),
            shared: Vec::new(),
            heads: Vec::new(),
            examples: Vec::new(),
        };
        for (t, examples) in batches.into_iter().filter(|(_, e)| !e.is_empty()) {
            let loss = tasks[t].objective.loss(model, &examples, &self.autodiff);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(NotFinite {
                    what: format!("{} loss", tasks[t].name()),
                    value,
                });
            }
            let mut grads = loss.backward();
            let gradients = step_gradients(&mut grads, model);
            passes.shared.push(
                gradients
                    .shared
                    .expect("every task reaches the shared encoder"),
            );
            passes.heads.push(gradients.heads);
            passes.tasks.push(t);
            passes.losses.push(value);
            passes.examples.push(examples);
        }
        Ok(passes)
    }

    /// Every task's validation scores on its own examples.
    pub fn validate(&self, tasks: &[Task], examples: &[Vec<Example>]) -> Validation {
        let valid = self.model().valid();
        tasks
            .iter()
            .zip(examples)
            .map(|(task, examples)| {
                (
                    task.head,
                    task.objective.validate(&valid, examples, &self.device),
                )
            })
            .collect()
    }
}
