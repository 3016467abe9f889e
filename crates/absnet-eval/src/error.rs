use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Data(#[from] absnet_data::DataError),
    #[error("{image}: {source}")]
    Metric {
        image: String,
        #[source]
        source: absnet_metrics::MetricError,
    },
    #[error("nothing to evaluate: {0}")]
    Empty(String),
}

impl EvalError {
    pub(crate) fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        EvalError::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
