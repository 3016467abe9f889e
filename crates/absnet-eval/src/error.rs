use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The message includes the I/O error itself, so it is not repeated as a source.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: {cause}")]
    Image {
        path: PathBuf,
        cause: image::ImageError,
    },
    #[error("{path}: expected a 2-D float64 or float32 array: {cause}")]
    NotAMap { path: PathBuf, cause: String },
    #[error(
        "{path}: the map is {rows}×{columns} (rows × columns), the image {image_rows}×{image_columns}: a .npy map must have its image's size"
    )]
    MapSize {
        path: PathBuf,
        rows: usize,
        columns: usize,
        image_rows: usize,
        image_columns: usize,
    },
    #[error("{folder}: {first} and {second} are both maps of `{stem}`; keep one")]
    TwoMaps {
        folder: PathBuf,
        first: PathBuf,
        second: PathBuf,
        stem: String,
    },
    #[error("{path}: {at}: {found} values, expected {expected}")]
    BinCount {
        path: PathBuf,
        at: String,
        found: usize,
        expected: usize,
    },
    #[error("{path}: {at}: image id `{id}` appears twice")]
    DuplicateId {
        path: PathBuf,
        at: String,
        id: String,
    },
    #[error("{path}: {at}: `{field}` is not a number")]
    NotANumber {
        path: PathBuf,
        at: String,
        field: String,
    },
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

    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        EvalError::Io {
            path: path.into(),
            cause,
        }
    }

    pub(crate) fn image(path: impl Into<PathBuf>, cause: image::ImageError) -> Self {
        EvalError::Image {
            path: path.into(),
            cause,
        }
    }
}
