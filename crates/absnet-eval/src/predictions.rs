//! The prediction files of a folder, matched to stimuli by file stem: saliency maps as images
//! (`NAME.png`, `NAME.saliency.png`, …), float maps (`NAME.saliency.npy`) and log-densities
//! (`NAME.log_density.npy`, the natural logarithm of each pixel's probability, summing to 1 —
//! what `absnet predict --format npy` writes next to its PNG, and pysaliency's probabilistic
//! models produce). When a stem has several, the most precise is scored: a log-density, then a
//! float map, then an image; two of the same kind for one stem are an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use ndarray::Array2;
use ndarray_npy::ReadNpyExt;

use crate::EvalError;

const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"];

/// What a prediction file holds, in order of precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Image,
    FloatMap,
    LogDensity,
}

/// One stimulus's prediction file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredictionFile {
    pub path: PathBuf,
    kind: Kind,
}

/// Where the predictions scored come from: a folder of files, or a model predicting on the
/// fly (the command line's `eval saliency --model`).
pub trait PredictionSource: Sync {
    /// What reports call it (a folder's path, a model's name).
    fn name(&self) -> String;
    /// Whether there is a prediction for the stimulus `id`.
    fn covers(&self, id: &str) -> bool;
    /// The prediction for `sample`, at its stimulus's `size = [width, height]`.
    fn prediction(
        &self,
        sample: &absnet_data::Sample,
        size: [u32; 2],
    ) -> Result<Prediction, String>;
}

/// The prediction files of a folder ([`prediction_files`]).
pub struct PredictionFolder {
    dir: PathBuf,
    files: HashMap<String, PredictionFile>,
}

impl PredictionFolder {
    pub fn open(dir: &Path) -> Result<Self, EvalError> {
        Ok(Self {
            dir: dir.to_path_buf(),
            files: prediction_files(dir)?,
        })
    }
}

impl PredictionSource for PredictionFolder {
    fn name(&self) -> String {
        self.dir.display().to_string()
    }

    fn covers(&self, id: &str) -> bool {
        self.files.contains_key(id)
    }

    fn prediction(
        &self,
        sample: &absnet_data::Sample,
        size: [u32; 2],
    ) -> Result<Prediction, String> {
        let file = self.files.get(&sample.id).ok_or("no prediction")?;
        load_prediction(file, size).map_err(|e| e.to_string())
    }
}

/// A loaded prediction at its stimulus's size.
pub struct Prediction {
    /// The saliency map (for a log-density: the density itself, `exp(log_density)`).
    pub map: Array2<f64>,
    /// Natural-log probabilities of the pixels, when the file held them.
    pub log_density: Option<Array2<f64>>,
}

/// The stem and kind of a prediction file name, or `None` for any other file.
fn classify(path: &Path) -> Option<(String, Kind)> {
    let name = path.file_name()?.to_str()?;
    if let Some(stem) = name.strip_suffix(".log_density.npy") {
        return Some((stem.to_string(), Kind::LogDensity));
    }
    if let Some(stem) = name.strip_suffix(".npy") {
        let stem = stem.strip_suffix(".saliency").unwrap_or(stem);
        return Some((stem.to_string(), Kind::FloatMap));
    }
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    if !IMAGE_EXTENSIONS.contains(&extension.as_str()) {
        return None;
    }
    let stem = path.file_stem()?.to_string_lossy();
    // `absnet predict` names its maps `<stem>.saliency.png`.
    let stem = stem.strip_suffix(".saliency").unwrap_or(&stem);
    Some((stem.to_string(), Kind::Image))
}

/// Prediction files in `dir` by stem, the most precise kind of each.
pub fn prediction_files(dir: &Path) -> Result<HashMap<String, PredictionFile>, EvalError> {
    let entries = std::fs::read_dir(dir).map_err(|e| EvalError::io(dir, e))?;
    let mut files: HashMap<String, PredictionFile> = HashMap::new();
    for entry in entries {
        let path = entry.map_err(|e| EvalError::io(dir, e))?.path();
        let Some((stem, kind)) = classify(&path) else {
            continue;
        };
        match files.get(&stem) {
            Some(kept) if kept.kind == kind => {
                return Err(EvalError::TwoMaps {
                    folder: dir.into(),
                    first: kept.path.clone(),
                    second: path,
                    stem,
                });
            }
            Some(kept) if kept.kind > kind => {}
            _ => {
                files.insert(stem, PredictionFile { path, kind });
            }
        }
    }
    Ok(files)
}

/// `file`'s prediction for a stimulus of `size = [width, height]`: an image is resized
/// (bilinearly) and read as grayscale in [0, 1]; a `.npy` must have the stimulus's size.
pub fn load_prediction(file: &PredictionFile, size: [u32; 2]) -> Result<Prediction, EvalError> {
    let path = &file.path;
    match file.kind {
        Kind::Image => {
            let image = image::open(path).map_err(|e| EvalError::image(path, e))?;
            let mut map = image.to_luma32f();
            if map.dimensions() != (size[0], size[1]) {
                map = imageops::resize(&map, size[0], size[1], FilterType::Triangle);
            }
            let values = map.into_raw().into_iter().map(f64::from).collect();
            let shape = (size[1] as usize, size[0] as usize);
            let map = Array2::from_shape_vec(shape, values).expect("w × h values");
            Ok(Prediction {
                map,
                log_density: None,
            })
        }
        Kind::FloatMap => Ok(Prediction {
            map: read_npy(path, size)?,
            log_density: None,
        }),
        Kind::LogDensity => {
            let log_density = read_npy(path, size)?;
            Ok(Prediction {
                map: log_density.mapv(f64::exp),
                log_density: Some(log_density),
            })
        }
    }
}

/// A 2-D float64 or float32 `.npy` of `size = [width, height]`.
fn read_npy(path: &Path, size: [u32; 2]) -> Result<Array2<f64>, EvalError> {
    let open = || std::fs::File::open(path).map_err(|e| EvalError::io(path, e));
    let array = match Array2::<f64>::read_npy(open()?) {
        Ok(array) => array,
        Err(wide) => Array2::<f32>::read_npy(open()?)
            .map(|a| a.mapv(f64::from))
            .map_err(|_| EvalError::NotAMap {
                path: path.into(),
                cause: wide.to_string(),
            })?,
    };
    let want = (size[1] as usize, size[0] as usize);
    if array.dim() != want {
        return Err(EvalError::MapSize {
            path: path.into(),
            rows: array.nrows(),
            columns: array.ncols(),
            image_rows: want.0,
            image_columns: want.1,
        });
    }
    Ok(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), b"").unwrap();
    }

    #[test]
    fn the_most_precise_kind_of_each_stem_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a.saliency.png",
            "a.saliency.npy",
            "a.log_density.npy",
            "b.png",
            "b.saliency.npy",
            "c.jpg",
            "notes.txt",
        ] {
            write(dir.path(), name);
        }
        let files = prediction_files(dir.path()).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(files["a"].kind, Kind::LogDensity);
        assert_eq!(files["b"].kind, Kind::FloatMap);
        assert_eq!(files["c"].kind, Kind::Image);
    }

    #[test]
    fn two_maps_of_one_kind_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.png");
        write(dir.path(), "a.saliency.jpg");
        let err = prediction_files(dir.path()).unwrap_err().to_string();
        assert!(err.contains("are both maps of `a`"), "{err}");
    }

    #[test]
    fn a_npy_of_the_wrong_size_is_refused_with_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log_density.npy");
        let array = Array2::<f64>::from_elem((4, 6), -(24f64).ln());
        ndarray_npy::write_npy(&path, &array).unwrap();
        let file = &prediction_files(dir.path()).unwrap()["a"];
        let loaded = load_prediction(file, [6, 4]).unwrap();
        assert!((loaded.map.sum() - 1.0).abs() < 1e-12);
        assert!(loaded.log_density.is_some());
        let err = load_prediction(file, [8, 4]).err().unwrap().to_string();
        assert!(
            err.contains("the map is 4×6") && err.contains("image 4×8"),
            "{err}"
        );
    }
}
