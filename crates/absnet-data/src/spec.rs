//! Dataset specs: `FORMAT:PATH[?OPTION=VALUE&…]`, e.g. `osie:../shared/data/osie` or
//! `fixatons:../shared/data/mit1003?sigma=35&first_fixation=drop`.
//!
//! Options: `sigma=PIXELS` (any format: the σ of the ground-truth density in pixels of the
//! stimuli, where the dataset's authors state one), `first_fixation=keep|drop` (`fixatons`) and
//! `list=FILE` (`ava`: only the images of a split list such as `test.jpgl`).

use std::path::{Path, PathBuf};

use crate::fixatons::{self, FirstFixation};
use crate::{
    DataError, Sample, ava, cat2000, folder, livec, mit1003, osie, salicon2015, salicon2017, scene,
};

/// A dataset format, where it is, and the format's reading options.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSpec {
    pub format: Format,
    pub path: PathBuf,
    /// `fixatons` only: whether each scanpath's first (central start) fixation is read.
    pub first_fixation: FirstFixation,
    /// σ of the ground-truth density in pixels, given in the spec.
    pub sigma: Option<f64>,
    /// `ava` only: a split list (`*.jpgl`, relative to the dataset folder) whose images alone
    /// are read, e.g. AVA's own `test.jpgl`.
    pub list: Option<PathBuf>,
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
    /// FixaTons: STIMULI/ and SCANPATHS/NAME/OBSERVER text files (MIT1003 and other sets).
    Fixatons,
    /// CAT2000 training set: Stimuli/, FIXATIONMAPS/ and FIXATIONLOCS/ per category.
    Cat2000,
    /// images/, maps/ and optional fixations/, matched by stem.
    Folder,
    /// AVA.txt with images/.
    Ava,
    /// AVA labels as JSON (`[{"image_id", "label"}]`); PATH is the file.
    AvaJson,
    /// LIVE-C picture quality: its release layout, or `images/` with `labels.csv`.
    Livec,
}

impl Format {
    const ALL: [(&'static str, Format); 11] = [
        ("osie", Format::Osie),
        ("scene", Format::Scene),
        ("salicon2015", Format::Salicon2015),
        ("salicon2017", Format::Salicon2017),
        ("mit1003", Format::Mit1003),
        ("fixatons", Format::Fixatons),
        ("cat2000", Format::Cat2000),
        ("folder", Format::Folder),
        ("ava", Format::Ava),
        ("ava-json", Format::AvaJson),
        ("livec", Format::Livec),
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
        let (path, options) = match path.split_once('?') {
            Some((path, options)) => (path, Some(options)),
            None => (path, None),
        };
        let mut parsed = Self {
            format,
            path: PathBuf::from(path),
            first_fixation: FirstFixation::default(),
            sigma: None,
            list: None,
        };
        for option in options.into_iter().flat_map(|o| o.split('&')) {
            let invalid = |message: String| DataError::invalid(spec, message);
            match (format, option.split_once('=')) {
                (Format::Ava, Some(("list", value))) if !value.is_empty() => {
                    parsed.list = Some(PathBuf::from(value))
                }
                (Format::Fixatons, Some(("first_fixation", value))) => {
                    parsed.first_fixation = value.parse().map_err(invalid)?
                }
                (_, Some(("sigma", value))) => {
                    let sigma = value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0);
                    parsed.sigma = Some(sigma.ok_or_else(|| {
                        invalid(format!(
                            "sigma = `{value}`: expected a positive number of pixels"
                        ))
                    })?);
                }
                _ => {
                    return Err(invalid(format!(
                        "`{option}` is not an option of `{name}` (options: sigma=PIXELS; fixatons also first_fixation=keep|drop; ava also list=FILE)"
                    )));
                }
            }
        }
        Ok(parsed)
    }
}

impl std::fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.format_name(), self.path.display())?;
        let mut options = Vec::new();
        if let Some(sigma) = self.sigma {
            options.push(format!("sigma={sigma}"));
        }
        if self.first_fixation == FirstFixation::Drop {
            options.push("first_fixation=drop".into());
        }
        if let Some(list) = &self.list {
            options.push(format!("list={}", list.display()));
        }
        if !options.is_empty() {
            write!(f, "?{}", options.join("&"))?;
        }
        Ok(())
    }
}

impl serde::Serialize for DatasetSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DatasetSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl DatasetSpec {
    /// The dataset's samples, each carrying the dataset's σ ([`DatasetSpec::default_sigma`]).
    pub fn load(&self) -> Result<Vec<Sample>, DataError> {
        let mut samples = self.read()?;
        let sigma = self.default_sigma();
        samples.iter_mut().for_each(|s| s.sigma = sigma);
        Ok(samples)
    }

    fn read(&self) -> Result<Vec<Sample>, DataError> {
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
            Format::Fixatons => fixatons::load_dataset(&self.path, self.first_fixation),
            Format::Cat2000 => cat2000::load_dataset(&self.path),
            Format::Folder => folder::load_dataset(&self.path),
            Format::Ava => match &self.list {
                Some(list) => {
                    ava::select_split(&ava::load_dataset(&self.path)?, &self.path.join(list))
                }
                None => ava::load_dataset(&self.path),
            },
            Format::Livec => livec::load_dataset(&self.path),

            Format::AvaJson => unreachable!("handled above"),
        }
    }

    /// The ground-truth σ (pixels): the spec's `sigma=`, else the one the format's authors used,
    /// if known.
    pub fn default_sigma(&self) -> Option<f64> {
        self.sigma.or(match self.format {
            Format::Osie => Some(osie::AUTHORS_SIGMA),
            // No σ is documented: callers use ~3 % of the image diagonal.
            _ => None,
        })
    }

    /// The dataset's name: its folder's (or file's) name, e.g. `mit1003` for
    /// `fixatons:../shared/data/mit1003`; the format's name when the path has none. LIVE-C is
    /// always `livec`: its release folder (`ChallengeDB_release`) and the shared part of it hold
    /// one study, so their split files name the same images alike.
    pub fn name(&self) -> String {
        if self.format == Format::Livec {
            return self.format_name().to_string();
        }
        let canonical = self.path.canonicalize().ok();
        let path = canonical.as_deref().unwrap_or(&self.path);
        path.file_stem().map_or_else(
            || self.format_name().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// [`DatasetSpec::load`] with every id prefixed by the dataset's name (`osie/1001`), so ids
    /// stay unique when datasets are pooled; split files hold these ids.
    pub fn load_named(&self) -> Result<Vec<Sample>, DataError> {
        let name = self.name();
        let mut samples = self.load()?;
        for sample in &mut samples {
            sample.id = format!("{name}/{}", sample.id);
        }
        Ok(samples)
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
