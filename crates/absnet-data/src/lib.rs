//! Dataset readers and the image pipeline. Each format lives in its own module and yields
//! [`Sample`]s: an image path with, depending on the format, per-observer fixations (0-based
//! pixel coordinates), a density map or aesthetic vote counts.

mod error;
mod mat;
pub mod check;
pub mod osie;
pub mod pipeline;
pub mod salicon2015;
pub mod scene;
pub mod spec;

pub use spec::DatasetSpec;

pub use error::DataError;

use std::path::PathBuf;

/// One fixation of one observer, in pixels of the stimulus, 0-based: the centre of the top-left
/// pixel is (0.5, 0.5) and the pixel a fixation falls in is `(floor x, floor y)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GazePoint {
    pub x: f64,
    pub y: f64,
    /// Fixation duration in milliseconds, where the format records it.
    pub duration_ms: Option<f64>,
}

/// One observer's fixations on one image, in viewing order (possibly none).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observer {
    pub fixations: Vec<GazePoint>,
}

/// One stimulus and its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Identifier within the dataset (file stem).
    pub id: String,
    pub image: PathBuf,
    /// `[width, height]` when the labels state it.
    pub size: Option<[u32; 2]>,
    pub observers: Vec<Observer>,
}

impl Sample {
    /// Every observer's fixations, pooled.
    pub fn fixations(&self) -> impl Iterator<Item = &GazePoint> {
        self.observers.iter().flat_map(|o| &o.fixations)
    }
}
