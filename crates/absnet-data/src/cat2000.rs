//! CAT2000 (Borji & Itti 2015): `trainSet/Stimuli/<Category>/NNN.jpg`,
//! `trainSet/FIXATIONMAPS/<Category>/NNN.jpg` (density) and
//! `trainSet/FIXATIONLOCS/<Category>/NNN.mat` (binary map variable `fixLocs`). Sample ids are
//! `<Category>/NNN`.

use std::path::Path;

use crate::files::{images_by_stem, subdirectories};
use crate::{DataError, Sample};

pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let train = root.join("trainSet");
    let mut samples = Vec::new();
    for category_dir in subdirectories(&train.join("Stimuli"))? {
        let category = category_dir
            .file_name()
            .expect("a directory has a name")
            .to_string_lossy()
            .into_owned();
        let maps_dir = train.join("FIXATIONMAPS").join(&category);
        let maps = if maps_dir.is_dir() {
            images_by_stem(&maps_dir)?
        } else {
            Default::default()
        };
        for (stem, image) in images_by_stem(&category_dir)? {
            let locations = train
                .join("FIXATIONLOCS")
                .join(&category)
                .join(format!("{stem}.mat"));
            if !locations.is_file() {
                return Err(DataError::invalid(
                    &image,
                    format!("no fixation locations {}", locations.display()),
                ));
            }
            samples.push(Sample {
                density: maps.get(&stem).cloned(),
                fixation_map: Some(locations),
                ..Sample::new(format!("{category}/{stem}"), image)
            });
        }
    }
    if samples.is_empty() {
        return Err(DataError::invalid(train.join("Stimuli"), "no stimuli"));
    }
    Ok(samples)
}
