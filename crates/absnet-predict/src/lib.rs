//! Inference as one library call: a [`Predictor`] loads a model (built in, or a file: [`ModelChoice`]), fits photos to the
//! model's input, runs batched forward passes and maps each saliency map back onto its photo;
//! a [`Prediction`] is what the CLI, the benchmarks, cropping and the HTTP service all read.
//! [`render`] turns maps into pictures and peaks, [`record`] into the JSONL/CSV records.

pub mod choice;
pub mod classify;
pub mod crop;
pub mod predictor;
pub mod record;
pub mod render;

pub use choice::{ModelChoice, ShippedModel};
pub use predictor::{
    Aesthetics, PredictError, Prediction, Predictor, PredictorOptions, Quality, QualityScorer,
};
pub use record::{Failure, Record, SummaryLine};
