//! Evaluation: predicted saliency maps against a dataset's fixations, predicted score
//! distributions against aesthetic votes, with every metric of `absnet-metrics`, in parallel.

pub mod aesthetics;
pub mod baselines;
mod error;
pub mod predictions;
pub mod quality;
pub mod saliency;

pub use error::EvalError;
