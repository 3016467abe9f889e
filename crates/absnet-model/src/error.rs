use std::path::PathBuf;

/// Everything that can go wrong building, importing, loading or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown architecture `{name}`; known: {known}")]
    UnknownArch { name: String, known: String },

    #[error("invalid model config: {0}")]
    Config(String),

    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },

    #[error("{path}: weights do not fit {arch}:\n{report}")]
    Mismatch {
        path: PathBuf,
        arch: String,
        report: String,
    },

    /// The message includes the I/O error itself, so it is not repeated as a source.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl ModelError {
    pub(crate) fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        ModelError::File {
            path: path.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            cause: source,
        }
    }
}
