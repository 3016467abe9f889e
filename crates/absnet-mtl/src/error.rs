//! What can stop a run, each naming the file, key, epoch or step concerned.

use std::path::{Path, PathBuf};

/// A configuration that cannot train, named by its key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// TOML that does not parse or does not fit the config's shape (the message names the key).
    #[error("{0}")]
    Syntax(String),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error(transparent)]
    Model(#[from] absnet_model::ModelError),
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, message: impl std::fmt::Display) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.to_string(),
        }
    }
}

/// `value` must be finite and above 0.
pub(crate) fn positive(key: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!("{value}: expected a finite number above 0"),
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] absnet_data::DataError),
    #[error(transparent)]
    Sample(#[from] absnet_data::loader::SampleError),
    #[error(transparent)]
    Model(#[from] absnet_model::ModelError),
    #[error("epoch {epoch}, step {step}: the {what} is not finite ({value}); stopped ({kept})")]
    NonFinite {
        epoch: usize,
        step: usize,
        what: String,
        value: f64,
        kept: String,
    },
}

/// A file that could not be read or written, and why.
pub fn file_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}
