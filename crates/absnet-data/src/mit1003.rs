//! MIT1003 (Judd et al. 2009): `ALLSTIMULI/<name>.jpeg`, `ALLFIXATIONMAPS/<name>_fixMap.jpg`
//! (density) and `ALLFIXATIONMAPS/<name>_fixPts.jpg` (binary fixation points).

use std::path::Path;

use crate::files::images_by_stem;
use crate::{DataError, Sample};

pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let stimuli = images_by_stem(&root.join("ALLSTIMULI"))?;
    let maps = images_by_stem(&root.join("ALLFIXATIONMAPS"))?;
    for (stem, path) in &maps {
        let name = stem
            .strip_suffix("_fixMap")
            .or_else(|| stem.strip_suffix("_fixPts"));
        match name {
            Some(name) if stimuli.contains_key(name) => {}
            Some(name) => {
                return Err(DataError::invalid(
                    path,
                    format!("map for `{name}`, but ALLSTIMULI/ has no such image"),
                ));
            }
            None => {
                return Err(DataError::invalid(
                    path,
                    "expected <name>_fixMap or <name>_fixPts",
                ));
            }
        }
    }
    stimuli
        .into_iter()
        .map(|(id, image)| {
            let density = maps.get(&format!("{id}_fixMap")).cloned();
            let fixation_map = maps.get(&format!("{id}_fixPts")).cloned();
            if fixation_map.is_none() {
                return Err(DataError::invalid(
                    &image,
                    format!("no ALLFIXATIONMAPS/{id}_fixPts.jpg"),
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
