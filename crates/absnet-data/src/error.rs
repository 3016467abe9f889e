use std::path::PathBuf;

/// A dataset that cannot be read, with the file and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// The message includes the I/O error itself, so it is not repeated as a source.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl DataError {
    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        DataError::Invalid {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
