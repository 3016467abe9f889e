//! Dataset specs: `FORMAT:PATH`, e.g. `osie:../shared/data/osie`.

use std::path::{Path, PathBuf};

use crate::{
    DataError, Sample, ava, cat2000, folder, mit1003, osie, salicon2015, salicon2017, scene,
};

/// A dataset format and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    pub format: Format,
    pub path: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OSIE / EyeCrowd `fixations.mat` layout.
    Osie,
    /// Scene-style cell array of `[y, x, onset, duration]` plus `imgInfo.mat`.
    Scene,
    /// SALICON 2015 COCO-style JSON annotations.
    Salicon2015,
    /// SALICON 2017: images/, maps/ and fixations/ (`gaze` .mat files) per split.
    Salicon2017,
    /// MIT1003: ALLSTIMULI/ and ALLFIXATIONMAPS/.
    Mit1003,
    /// CAT2000 training set: Stimuli/, FIXATIONMAPS/ and FIXATIONLOCS/ per category.
    Cat2000,
    /// images/, maps/ and optional fixations/, matched by stem.
    Folder,
    /// AVA.txt with images/.
    Ava,
    /// AVA labels as JSON (`[{"image_id", "label"}]`); PATH is the file.
    AvaJson,
}

impl Format {
    const ALL: [(&'static str, Format); 9] = [
        ("osie", Format::Osie),
        ("scene", Format::Scene),
        ("salicon2015", Format::Salicon2015),
        ("salicon2017", Format::Salicon2017),
        ("mit1003", Format::Mit1003),
        ("cat2000", Format::Cat2000),
        ("folder", Format::Folder),
        ("ava", Format::Ava),
        ("ava-json", Format::AvaJson),
    ];
}

impl std::str::FromStr for DatasetSpec {
    type Err = DataError;
    fn from_str(spec: &str) -> Result<Self, DataError> {
        let known = || Format::ALL.map(|(n, _)| n).join(", ");
        let (name, path) = spec.split_once(':').ok_or_else(|| {
            DataError::invalid(
                spec,
                format!("expected FORMAT:PATH with FORMAT one of {}", known()),
            )
        })?;
        let format = Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                DataError::invalid(
                    spec,
                    format!("unknown dataset format `{name}`; known: {}", known()),
                )
            })?;
        Ok(Self {
            format,
            path: PathBuf::from(path),
        })
    }
}

impl DatasetSpec {
    pub fn load(&self) -> Result<Vec<Sample>, DataError> {
        if self.format == Format::AvaJson {
            return ava::load_json(&self.path);
        }
        if !self.path.is_dir() {
            return Err(DataError::invalid(&self.path, "not a directory"));
        }
        match self.format {
            Format::Osie => osie::load_dataset(&self.path),
            Format::Scene => scene::load_dataset(&self.path),
            Format::Salicon2015 => salicon2015::load_dataset(&self.path),
            Format::Salicon2017 => salicon2017::load_dataset(&self.path),
            Format::Mit1003 => mit1003::load_dataset(&self.path),
            Format::Cat2000 => cat2000::load_dataset(&self.path),
            Format::Folder => folder::load_dataset(&self.path),
            Format::Ava => ava::load_dataset(&self.path),
            Format::AvaJson => unreachable!("handled above"),
        }
    }

    /// The ground-truth σ (pixels) the dataset's authors used, if known.
    pub fn default_sigma(&self) -> Option<f64> {
        match self.format {
            // The authors' own maps: σ = 24 px at 800 × 600.
            Format::Osie => Some(24.0),
            // No σ is documented: callers use ~3 % of the image diagonal.
            _ => None,
        }
    }

    /// The format's name as written in specs (`osie`, `scene`, …).
    pub fn format_name(&self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(_, f)| *f == self.format)
            .map(|(n, _)| *n)
            .expect("every format is listed")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
