//! Scene style (Scene saliency on 500 SUN2012 images): `data/stimuli/NNN.jpg`,
//! `data/tidy/fixations.mat` — a cell array images × subjects of N×4 `[y, x, onset_s,
//! duration_s]` (empty cells for subjects without data) — and `data/tidy/imgInfo.mat` with
//! `imgInfo.size`, images × 2 `[height, width]`.
//!
//! Coordinates are continuous pixel positions and read as 0-based: values below 1 occur
//! (down to 0.07), which a 1-based reading would put outside the image.

use std::path::Path;

use crate::mat::{field, load, numbers, variable};
use crate::{DataError, GazePoint, Observer, Sample};

pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let fixations_path = root.join("data/tidy/fixations.mat");
    let info_path = root.join("data/tidy/imgInfo.mat");
    let fixations_mat = load(&fixations_path)?;
    let info_mat = load(&info_path)?;
    let cells = variable(&fixations_mat, "fixations", &fixations_path)?;
    let [images, subjects] = match cells.dim()[..] {
        [a, b] => [a, b],
        _ => {
            return Err(DataError::invalid(
                &fixations_path,
                format!(
                    "`fixations` has shape {:?}; expected images × subjects",
                    cells.dim()
                ),
            ));
        }
    };
    let info = variable(&info_mat, "imgInfo", &info_path)?;
    let sizes = numbers(
        field(info, "size", &info_path, "imgInfo")?,
        &info_path,
        "imgInfo.size",
    )?;
    if sizes.len() != 2 * images {
        return Err(DataError::invalid(
            &info_path,
            format!(
                "imgInfo.size has {} values; expected {images} × 2 for {images} images",
                sizes.len()
            ),
        ));
    }
    (0..images)
        .map(|i| {
            let (height, width) = (sizes[i], sizes[images + i]);
            if !(height >= 1.0 && width >= 1.0 && height.fract() == 0.0 && width.fract() == 0.0) {
                return Err(DataError::invalid(
                    &info_path,
                    format!(
                        "imgInfo.size({}, :) = [{height}, {width}]: expected positive integers",
                        i + 1
                    ),
                ));
            }
            let observers = (0..subjects)
                // Cells are stored column-major.
                .map(|j| observer(&cells[i + images * j], &fixations_path, (i, j)))
                .collect::<Result<Vec<_>, DataError>>()?;
            let id = format!("{:03}", i + 1);
            Ok(Sample {
                image: root.join("data/stimuli").join(format!("{id}.jpg")),
                id,
                labelled_size: Some([width as u32, height as u32]),
                observers,
                ..Sample::default()
            })
        })
        .collect()
}

/// One cell of `fixations`: an N × 4 matrix `[y, x, onset s, duration s]` of one observer on one
/// image (`at` = (image, subject), from 0).
fn observer(
    cell: &matrw::MatVariable,
    path: &Path,
    at: (usize, usize),
) -> Result<Observer, DataError> {
    let what = format!("fixations{{{}, {}}}", at.0 + 1, at.1 + 1);
    let values = numbers(cell, path, &what)?;
    if values.len() % 4 != 0 {
        return Err(DataError::invalid(
            path,
            format!(
                "{what}: {} values; expected N × 4 [y, x, onset, duration]",
                values.len()
            ),
        ));
    }
    let n = values.len() / 4;
    let fixations = (0..n)
        .map(|k| GazePoint {
            x: values[n + k],
            y: values[k],
            duration_ms: Some(values[3 * n + k] * 1000.0),
        })
        .collect();
    Ok(Observer { fixations })
}
