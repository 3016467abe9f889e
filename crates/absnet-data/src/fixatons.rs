//! FixaTons layout (Zanca, Melacci, Gori: "FixaTons: a collection of human fixations datasets
//! and metrics for scanpath similarity", 2018), which holds MIT1003 and other sets alike:
//! `STIMULI/NAME.EXT` and `SCANPATHS/NAME/OBSERVER`, a text file per observer with one fixation
//! a row, `x y t_start t_end` (pixels of the stimulus, seconds), whitespace-separated.
//!
//! Coordinates are whole pixel indices from 0: a fixation counts for pixel `(x, y)`; rows at
//! `x = width` or `y = height` (MIT1003 has a few) fall outside the image.
//!
//! The first row of a scanpath is usually the fixation on the central cross shown before the
//! stimulus (MIT1003: 14,865 of 15,045 scanpaths start within 10 % of the centre). It says where
//! the experiment put the eyes, not where the image drew them; pysaliency's
//! `get_mit1003` drops it and DeepGaze is trained and scored without it. The reader keeps it by
//! default (the dataset as released) and drops it with `fixatons:PATH?first_fixation=drop`.

use std::path::Path;

use crate::files::{images_by_stem, subdirectories};
use crate::{DataError, GazePoint, Observer, Sample};

/// Whether the first fixation of each scanpath is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FirstFixation {
    /// Every row, as released.
    #[default]
    Keep,
    /// Without each scanpath's first row (the central start fixation).
    Drop,
}

impl std::str::FromStr for FirstFixation {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "keep" => Ok(Self::Keep),
            "drop" => Ok(Self::Drop),
            other => Err(format!(
                "first_fixation = `{other}`: expected `keep` or `drop`"
            )),
        }
    }
}

/// Reads every stimulus with its observers' scanpaths. A stimulus without a scanpath folder
/// has no observers; a scanpath folder without a stimulus is an error.
pub fn load_dataset(root: &Path, first: FirstFixation) -> Result<Vec<Sample>, DataError> {
    let stimuli = images_by_stem(&root.join("STIMULI"))?;
    let scanpaths = root.join("SCANPATHS");
    for dir in subdirectories(&scanpaths)? {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !stimuli.contains_key(&name) {
            return Err(DataError::invalid(
                &dir,
                format!("scanpaths for `{name}`, but STIMULI/ has no such image"),
            ));
        }
    }
    stimuli
        .into_iter()
        .map(|(id, image)| {
            let dir = scanpaths.join(&id);
            let observers = if dir.is_dir() {
                read_observers(&dir, first)?
            } else {
                Vec::new()
            };
            Ok(Sample {
                observers,
                ..Sample::new(id, image)
            })
        })
        .collect()
}

/// Every observer file in `dir`, by file name.
fn read_observers(dir: &Path, first: FirstFixation) -> Result<Vec<Observer>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|cause| DataError::Io {
        path: dir.to_path_buf(),
        cause,
    })?;
    let mut files: Vec<_> = entries
        .map(|e| {
            e.map(|e| e.path()).map_err(|cause| DataError::Io {
                path: dir.to_path_buf(),
                cause,
            })
        })
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.is_file());
    files.sort();
    files
        .iter()
        .map(|path| read_scanpath(path, first))
        .collect()
}

/// One observer's scanpath: `x y t_start t_end` a row.
fn read_scanpath(path: &Path, first: FirstFixation) -> Result<Observer, DataError> {
    let text = std::fs::read_to_string(path).map_err(|cause| DataError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let mut fixations = Vec::new();
    for (row, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let values: Vec<f64> = fields.iter().filter_map(|f| f.parse().ok()).collect();
        let [x, y, start, end] = values[..] else {
            return Err(DataError::invalid(
                path,
                format!(
                    "row {}: `{}`: expected four numbers `x y t_start t_end`",
                    row + 1,
                    line.trim()
                ),
            ));
        };
        if values.iter().any(|v| !v.is_finite()) || end < start {
            return Err(DataError::invalid(
                path,
                format!(
                    "row {}: `{}`: expected finite numbers with t_end ≥ t_start",
                    row + 1,
                    line.trim()
                ),
            ));
        }
        fixations.push(GazePoint {
            x,
            y,
            duration_ms: Some((end - start) * 1000.0),
        });
    }
    if first == FirstFixation::Drop && !fixations.is_empty() {
        fixations.remove(0);
    }
    Ok(Observer { fixations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(name: &str, rows: &str) -> absnet_testkit::TempFolder {
        let root = absnet_testkit::temp_folder(&format!("fixatons-{name}"));
        std::fs::create_dir_all(root.join("STIMULI")).unwrap();
        std::fs::create_dir_all(root.join("SCANPATHS/street")).unwrap();
        image::RgbImage::new(40, 30)
            .save(root.join("STIMULI/street.jpeg"))
            .unwrap();
        std::fs::write(root.join("SCANPATHS/street/ab"), rows).unwrap();
        std::fs::write(root.join("SCANPATHS/street/cd"), "").unwrap();
        root
    }

    #[test]
    fn reads_rows_and_drops_the_start_fixation_only_when_asked() {
        let root = dataset(
            "rows",
            "20 15 0.000 0.300 \n 3 4 0.35 0.5\n\n39 29 0.6 0.9\n",
        );
        let kept = load_dataset(&root, FirstFixation::Keep).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].observers.len(), 2);
        assert!(
            kept[0].observers[1].fixations.is_empty(),
            "an empty file is an observer without fixations"
        );
        let xy: Vec<_> = kept[0].fixations().map(|f| (f.x, f.y)).collect();
        assert_eq!(xy, [(20.0, 15.0), (3.0, 4.0), (39.0, 29.0)]);
        assert!((kept[0].observers[0].fixations[0].duration_ms.unwrap() - 300.0).abs() < 1e-9);
        let dropped = load_dataset(&root, FirstFixation::Drop).unwrap();
        let xy: Vec<_> = dropped[0].fixations().map(|f| (f.x, f.y)).collect();
        assert_eq!(xy, [(3.0, 4.0), (39.0, 29.0)]);
    }

    #[test]
    fn a_bad_row_names_the_file_and_row() {
        let root = dataset("bad", "20 15 0 0.3\n12 x 0.3 0.4\n");
        let err = load_dataset(&root, FirstFixation::Keep)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SCANPATHS/street/ab") && err.contains("row 2"),
            "{err}"
        );
        let root = dataset("stray", "1 2 0 0.1\n");
        std::fs::create_dir_all(root.join("SCANPATHS/ghost")).unwrap();
        let err = load_dataset(&root, FirstFixation::Keep)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ghost") && err.contains("STIMULI"), "{err}");
    }
}
