//! SALICON 2017 (LSUN challenge release): `images/{train,val,test}/*.jpg`,
//! `maps/{train,val}/*.png` (densities) and `fixations/{train,val}/*.mat` with a `gaze` struct
//! array, one entry per observer, whose `fixations` are N×2 1-based `[x, y]`. The test split has
//! images only.

use std::path::Path;

use crate::files::images_by_stem;
use crate::mat::{field, load, numbers, variable};
use crate::{DataError, GazePoint, Observer, Sample};

/// The samples of one split (`train`, `val` or `test`).
pub fn load_split(root: &Path, split: &str) -> Result<Vec<Sample>, DataError> {
    let images = images_by_stem(&root.join("images").join(split))?;
    let labelled = split != "test";
    let maps = if labelled {
        images_by_stem(&root.join("maps").join(split))?
    } else {
        Default::default()
    };
    images
        .into_iter()
        .map(|(id, image)| {
            if !labelled {
                return Ok(Sample::new(id, image));
            }
            let gaze = root.join("fixations").join(split).join(format!("{id}.mat"));
            if !gaze.is_file() {
                return Err(DataError::invalid(
                    &image,
                    format!("no fixations file {}", gaze.display()),
                ));
            }
            Ok(Sample {
                observers: read_gaze(&gaze)?,
                density: maps.get(&id).cloned(),
                ..Sample::new(id, image)
            })
        })
        .collect()
}

/// Train and validation splits together.
pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let mut samples = load_split(root, "train")?;
    samples.extend(load_split(root, "val")?);
    Ok(samples)
}

fn read_gaze(path: &Path) -> Result<Vec<Observer>, DataError> {
    let mat = load(path)?;
    let gaze = variable(&mat, "gaze", path)?;
    let count: usize = gaze.dim().iter().product();
    (0..count)
        .map(|j| {
            let what = format!("gaze({})", j + 1);
            let values = numbers(field(&gaze[j], "fixations", path, &what)?, path, &what)?;
            if values.len() % 2 != 0 {
                return Err(DataError::invalid(
                    path,
                    format!(
                        "{what}.fixations: {} values; expected N × 2 [x, y]",
                        values.len()
                    ),
                ));
            }
            let n = values.len() / 2;
            let fixations = (0..n)
                .map(|k| GazePoint {
                    x: values[k] - 1.0,
                    y: values[n + k] - 1.0,
                    duration_ms: None,
                })
                .collect();
            Ok(Observer { fixations })
        })
        .collect()
}
