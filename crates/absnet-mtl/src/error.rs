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
    /// The message includes the I/O error itself, so it is not repeated as a source.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A model, optimizer or balancing checkpoint burn's recorder could not write or read.
    #[error("{path}: {cause}")]
    Checkpoint { path: PathBuf, cause: String },
    #[error("{path}: {cause}")]
    CheckpointState {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("{path}: {cause}")]
    RunConfig { path: PathBuf, cause: ConfigError },
    #[error(
        "{run}: another `absnet train` is running in this folder; wait for it to end or choose another --run"
    )]
    Locked { run: PathBuf },
    #[error(
        "{run}: holds an earlier run; pass --resume to continue it or --overwrite to start afresh"
    )]
    RunExists { run: PathBuf },
    #[error("{run}: no run to resume here (no config.toml); start one without --resume")]
    NothingToResume { run: PathBuf },
    #[error("{path}: holds another balancing method's state than the config's")]
    OtherBalancing { path: PathBuf },
    #[error("{path}: {cause} (the cached features of {image}; fill the cache first)")]
    NotCached {
        path: PathBuf,
        image: String,
        cause: std::io::Error,
    },
    #[error("{path}: {problem}")]
    CacheEntry { path: PathBuf, problem: String },
    #[error("{path}: feature shapes {found:?} differ from {batch:?} of the batch")]
    CacheShapes {
        path: PathBuf,
        found: Vec<[usize; 3]>,
        batch: Vec<[usize; 3]>,
    },
    #[error(
        "{path}: a model file's name ends in .safetensors (its card is written beside it as .json)"
    )]
    ModelName { path: PathBuf },
    #[error("{path}: already exists; pass --force to replace it")]
    Exists { path: PathBuf },
    #[error("{path}: {why}")]
    OtherEncoder { path: PathBuf, why: String },
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

impl TrainError {
    /// A file or folder that could not be read or written.
    pub(crate) fn io(path: &Path, cause: std::io::Error) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }

    /// A checkpoint file burn's recorder could not write or read.
    pub(crate) fn checkpoint(path: &Path, cause: impl std::fmt::Display) -> Self {
        TrainError::Checkpoint {
            path: path.to_path_buf(),
            cause: cause.to_string(),
        }
    }
}
