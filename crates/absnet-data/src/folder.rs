//! A generic folder: `images/`, `maps/` (ground-truth densities) and optionally `fixations/`
//! (binary fixation maps), matched by file stem. Every image needs a map or a fixation map.

use std::path::Path;

use crate::files::images_by_stem;
use crate::{DataError, Sample};

pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let images = images_by_stem(&root.join("images"))?;
    let maps = images_by_stem(&root.join("maps"))?;
    let fixations = match root.join("fixations") {
        dir if dir.is_dir() => images_by_stem(&dir)?,
        _ => Default::default(),
    };
    for (stem, path) in maps.iter().chain(&fixations) {
        if !images.contains_key(stem) {
            return Err(DataError::invalid(
                path,
                format!("label for `{stem}`, but images/ has no such image"),
            ));
        }
    }
    images
        .into_iter()
        .map(|(id, image)| {
            let density = maps.get(&id).cloned();
            let fixation_map = fixations.get(&id).cloned();
            if density.is_none() && fixation_map.is_none() {
                return Err(DataError::invalid(
                    &image,
                    "no map in maps/ and no fixation map in fixations/",
                ));
            }
            Ok(Sample {
                density,
                fixation_map,
                ..Sample::new(id, image)
            })
        })
        .collect()
}
