//! Dataset readers and the image pipeline. Each format lives in its own module and yields
//! [`Sample`]s: an image path with, depending on the format, per-observer fixations (0-based
//! pixel coordinates), a density map or aesthetic vote counts.

pub mod ava;
pub mod cat2000;
pub mod check;
pub mod density;
mod error;
mod files;
pub mod fixatons;
pub mod folder;
pub mod livec;
pub mod loader;
mod mat;
pub mod mit1003;
pub mod osie;
pub mod pipeline;
pub mod salicon2015;
pub mod salicon2017;
pub mod scene;
pub mod spec;
pub mod split;

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

/// One stimulus and its labels. Point annotations are read when the dataset is listed; maps
/// (density, binary fixation map) stay on disk until [`Sample::load_fixation_map`] or the
/// pipeline reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// Identifier within the dataset (file stem).
    pub id: String,
    pub image: PathBuf,
    /// `[width, height]` when the labels state it; checked against the image file by
    /// [`Sample::image_size`].
    pub labelled_size: Option<[u32; 2]>,
    /// σ in pixels of this image of the ground-truth density, when the dataset states one
    /// (its authors' maps, or the spec's `sigma=` option).
    pub sigma: Option<f64>,
    pub observers: Vec<Observer>,
    /// Binary map of fixated pixels (an image, or a `.mat` holding `fixLocs`).
    pub fixation_map: Option<PathBuf>,
    /// Ground-truth fixation density image.
    pub density: Option<PathBuf>,
    /// AVA vote counts for the scores 1..10.
    pub votes: Option<[u32; 10]>,
    /// Opinion scores of a quality study (LIVE-C).
    pub opinion: Option<Opinion>,
}

/// What a panel of raters said of an image: their mean opinion score on 0–100 and its standard
/// deviation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Opinion {
    pub mos: f64,
    pub sd: f64,
}

impl Sample {
    /// A sample of `image` with nothing else known yet.
    pub fn new(id: impl Into<String>, image: PathBuf) -> Self {
        Self {
            id: id.into(),
            image,
            ..Self::default()
        }
    }

    /// The fixated pixels of [`Sample::fixation_map`] as one pooled observer (pixel centres;
    /// an image counts pixels brighter than mid-grey, a `.mat` its non-zero `fixLocs`).
    pub fn load_fixation_map(&self) -> Result<Option<Observer>, DataError> {
        let Some(path) = &self.fixation_map else {
            return Ok(None);
        };
        let (width, values) = if path.extension().is_some_and(|e| e == "mat") {
            mat::binary_map(path, "fixLocs")?
        } else {
            let map = image::open(path)
                .map_err(|e| DataError::invalid(path, e))?
                .into_luma8();
            let width = map.width() as usize;
            (width, map.into_raw().into_iter().map(|v| v > 127).collect())
        };
        let fixations = values
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(|(i, _)| GazePoint {
                x: (i % width) as f64 + 0.5,
                y: (i / width) as f64 + 0.5,
                duration_ms: None,
            })
            .collect();
        Ok(Some(Observer { fixations }))
    }

    /// `[width, height]` of the image, read from its file's header (no pixels are decoded). A
    /// size the labels state must agree: labels made for another size would put every fixation
    /// in the wrong place. Without a readable image, the labelled size is used when there is
    /// one.
    pub fn image_size(&self) -> Result<[u32; 2], DataError> {
        match (image::image_dimensions(&self.image), self.labelled_size) {
            (Ok((w, h)), Some([lw, lh])) if [w, h] != [lw, lh] => Err(DataError::invalid(
                &self.image,
                format!("the image is {w}×{h} but its labels say {lw}×{lh}"),
            )),
            (Ok((w, h)), _) => Ok([w, h]),
            (Err(_), Some(size)) => Ok(size),
            (Err(e), None) => Err(DataError::invalid(&self.image, e)),
        }
    }

    /// Every observer's fixations, pooled.
    pub fn fixations(&self) -> impl Iterator<Item = &GazePoint> {
        self.observers.iter().flat_map(|o| &o.fixations)
    }
}
