use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] absnet_data::DataError),
    /// The message includes the metric's error, so it is not repeated as a source.
    #[error("{image}: {cause}")]
    Metric {
        image: String,
        cause: absnet_metrics::MetricError,
    },
    #[error("{image}: {cause}")]
    Density {
        image: String,
        cause: absnet_data::density::DensityError,
    },
    #[error("nothing to evaluate: {0}")]
    Empty(String),
}

impl EvalError {
    /// A metric that failed on `image` (or "all images" for a dataset-wide one).
    pub(crate) fn metric(image: &str, cause: absnet_metrics::MetricError) -> Self {
        EvalError::Metric {
            image: image.to_string(),
            cause,
        }
    }

    pub(crate) fn density(image: &str, cause: absnet_data::density::DensityError) -> Self {
        EvalError::Density {
            image: image.to_string(),
            cause,
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        EvalError::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
