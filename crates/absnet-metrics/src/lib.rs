//! Saliency and image-rating metrics as the benchmarks compute them, over plain arrays: no tensor
//! framework, no I/O. Each function's documentation gives its exact definition, normalisation,
//! epsilon and the reference it matches (MIT saliency benchmark MATLAB file, cvzoya/saliency
//! `code_forMetrics/*.m`, or pysaliency 0.2.22 function), and where the two differ, the variant
//! is an explicit option.
//!
//! Conventions shared by the saliency metrics:
//! - a map is an [`ndarray::ArrayView2<f64>`] indexed `[row, column]`;
//! - a [`Fixation`] is `(x, y)` = (column, row) in pixels of that map, 0-based and continuous;
//!   it counts for the pixel `(floor x, floor y)` (pysaliency's `x_int`, `y_int`). Readers of
//!   1-based formats subtract one before building fixations;
//! - maps must hold finite values and fixations must lie inside the map, otherwise the metric
//!   returns an error naming the problem (never NaN);
//! - the map is compared at the fixation map's size: resize predictions before calling (the
//!   evaluation command does it bilinearly, as MATLAB's `imresize` in the MIT code).

mod error;
pub mod rating;
pub mod saliency;

pub use error::MetricError;
pub use saliency::{Duplicates, Fixation};
