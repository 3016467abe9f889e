use std::path::PathBuf;

/// Everything that can go wrong building, importing, loading or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown architecture `{name}`; known: {known}")]
    UnknownArch { name: String, known: String },

    #[error("invalid model config: {0}")]
    Config(String),

    #[error("{path}: empty file (0 bytes)")]
    EmptyFile { path: PathBuf },

    #[error("{path}: holds no float tensors")]
    NoFloatTensors { path: PathBuf },

    /// The message includes the reader's error, so it is not repeated as a source.
    #[error("{path}: not a readable PyTorch checkpoint: {cause}")]
    NotPytorch { path: PathBuf, cause: String },

    #[error("{path}: not a valid safetensors file: {cause}")]
    NotSafetensors {
        path: PathBuf,
        cause: safetensors::SafeTensorError,
    },

    #[error("{path}: tensor `{name}`: {cause}")]
    UnreadableTensor {
        path: PathBuf,
        name: String,
        cause: String,
    },

    #[error("{path}: tensor `{name}` has dtype {dtype}; expected a float type")]
    NotFloat {
        path: PathBuf,
        name: String,
        dtype: String,
    },

    #[error(
        "{path}: tensor `{name}` holds {value}: weights must be finite (a corrupted or diverged model)"
    )]
    NonFinite {
        path: PathBuf,
        name: String,
        value: f32,
    },

    #[error("{path}: cannot encode safetensors: {cause}")]
    Encode {
        path: PathBuf,
        cause: safetensors::SafeTensorError,
    },

    #[error("{path}: no model card (`{key}` metadata): not an absnet model file")]
    NoCard { path: PathBuf, key: &'static str },

    #[error("{path}: unreadable model card: {cause}")]
    BadCard {
        path: PathBuf,
        cause: serde_json::Error,
    },

    #[error("{path}: model format `{found}`; this absnet reads `{expected}`")]
    Format {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },

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
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            cause: source,
        }
    }
}
