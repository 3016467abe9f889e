//! Listing image files by stem, shared by the folder-based readers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::DataError;

pub(crate) const IMAGE_EXTENSIONS: [&str; 8] =
    ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "gif"];

/// Image files directly in `dir`, by stem (sorted). Two files with one stem are an error.
pub(crate) fn images_by_stem(dir: &Path) -> Result<BTreeMap<String, PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        cause: source,
    })?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry
            .map_err(|source| DataError::Io {
                path: dir.to_path_buf(),
                cause: source,
            })?
            .path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if !is_image {
            continue;
        }
        let stem = path
            .file_stem()
            .expect("a file with an extension has a stem")
            .to_string_lossy()
            .into_owned();
        if let Some(previous) = out.insert(stem.clone(), path.clone()) {
            return Err(DataError::invalid(
                dir,
                format!(
                    "two images share the stem `{stem}`: {} and {}",
                    previous.display(),
                    path.display()
                ),
            ));
        }
    }
    Ok(out)
}

/// Sub-directories of `dir`, sorted.
pub(crate) fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        cause: source,
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}
