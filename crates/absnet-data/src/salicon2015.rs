//! SALICON 2015 (COCO-style JSON): `annotations/fixations_<split>.json` holding `images`
//! (`id`, `file_name`, `width`, `height`) and `annotations` (`image_id`, `worker_id`,
//! `fixations` as 1-based `[row, col]`), images in `images/<split>/`. Each annotation is one
//! mouse-tracking worker: an observer.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::{DataError, GazePoint, Observer, Sample};

#[derive(Deserialize)]
struct Annotations {
    images: Vec<Image>,
    annotations: Vec<Annotation>,
}

#[derive(Deserialize)]
struct Image {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

#[derive(Deserialize)]
struct Annotation {
    image_id: u64,
    fixations: Vec<[f64; 2]>,
}

/// Reads every `annotations/fixations_*.json` under `root`.
pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let dir = root.join("annotations");
    let entries = std::fs::read_dir(&dir).map_err(|source| DataError::Io {
        path: dir.clone(),
        cause: source,
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("fixations_"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::invalid(&dir, "no fixations_<split>.json files"));
    }
    let mut samples = Vec::new();
    for file in files {
        let split = file
            .file_stem()
            .expect("a .json file has a stem")
            .to_string_lossy()["fixations_".len()..]
            .to_string();
        samples.extend(load_file(&file, &root.join("images").join(split))?);
    }
    Ok(samples)
}

fn load_file(path: &Path, images: &Path) -> Result<Vec<Sample>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        cause: source,
    })?;
    let parsed: Annotations = serde_json::from_str(&text)
        .map_err(|e| DataError::invalid(path, format!("not SALICON annotations: {e}")))?;
    let mut index = HashMap::new();
    let mut samples = Vec::with_capacity(parsed.images.len());
    for image in &parsed.images {
        if index.insert(image.id, samples.len()).is_some() {
            return Err(DataError::invalid(
                path,
                format!("image id {} is listed twice", image.id),
            ));
        }
        let id = Path::new(&image.file_name).file_stem().map_or_else(
            || image.file_name.clone(),
            |s| s.to_string_lossy().into_owned(),
        );
        samples.push(Sample {
            id,
            image: images.join(&image.file_name),
            labelled_size: Some([image.width, image.height]),
            ..Sample::default()
        });
    }
    for (k, annotation) in parsed.annotations.iter().enumerate() {
        let &i = index.get(&annotation.image_id).ok_or_else(|| {
            DataError::invalid(
                path,
                format!(
                    "annotation {k} refers to image id {}, which `images` lacks",
                    annotation.image_id
                ),
            )
        })?;
        let fixations = annotation
            .fixations
            .iter()
            .map(|&[row, col]| GazePoint {
                x: col - 1.0,
                y: row - 1.0,
                duration_ms: None,
            })
            .collect();
        samples[i].observers.push(Observer { fixations });
    }
    Ok(samples)
}
