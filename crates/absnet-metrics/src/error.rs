/// Why a metric cannot be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("no fixations: the metric needs at least one")]
    NoFixations,
    #[error("fixation {index} at (x = {x}, y = {y}) lies outside the {width}×{height} map")]
    FixationOutside {
        index: usize,
        x: f64,
        y: f64,
        width: usize,
        height: usize,
    },
    #[error("{map} map holds a non-finite value ({value}) at row {row}, column {column}")]
    NonFinite {
        map: &'static str,
        row: usize,
        column: usize,
        value: f64,
    },
    #[error("{map} map is empty (0 pixels)")]
    EmptyMap { map: &'static str },
    #[error("maps differ in shape: {first:?} vs {second:?}")]
    ShapeMismatch {
        first: [usize; 2],
        second: [usize; 2],
    },
    #[error("{map} map is constant, so {metric} is undefined")]
    ConstantMap {
        map: &'static str,
        metric: &'static str,
    },
    #[error(
        "log-density does not sum to 1 (Σ exp = {sum}): expected log-probabilities of the pixels"
    )]
    NotNormalised { sum: f64 },
    #[error("no negative samples for the ROC")]
    NoNegatives,
    #[error("score distribution has {found} bins; expected {expected}")]
    BinCount { found: usize, expected: usize },
    #[error("score distribution sums to zero")]
    ZeroDistribution,
    #[error(
        "score distribution has an invalid value ({value}) in bin {bin}: expected finite and ≥ 0"
    )]
    InvalidBin { bin: usize, value: f64 },
    #[error("needs at least {needed} pairs of values, got {found}")]
    TooFewValues { needed: usize, found: usize },
    #[error("{what} are all equal, so the correlation is undefined")]
    ConstantValues { what: &'static str },
}
