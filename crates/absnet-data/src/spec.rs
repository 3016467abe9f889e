//! Dataset specs: `FORMAT:PATH`, e.g. `osie:../shared/data/osie`.

use std::path::{Path, PathBuf};

use crate::{DataError, Sample, osie};

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
}

impl Format {
    const ALL: [(&'static str, Format); 1] = [("osie", Format::Osie)];
}

impl std::str::FromStr for DatasetSpec {
    type Err = DataError;
    fn from_str(spec: &str) -> Result<Self, DataError> {
        let known = || Format::ALL.map(|(n, _)| n).join(", ");
        let (name, path) = spec.split_once(':').ok_or_else(|| {
            DataError::invalid(spec, format!("expected FORMAT:PATH with FORMAT one of {}", known()))
        })?;
        let format = Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| DataError::invalid(spec, format!("unknown dataset format `{name}`; known: {}", known())))?;
        Ok(Self {
            format,
            path: PathBuf::from(path),
        })
    }
}

impl DatasetSpec {
    pub fn load(&self) -> Result<Vec<Sample>, DataError> {
        if !self.path.is_dir() {
            return Err(DataError::invalid(&self.path, "not a directory"));
        }
        match self.format {
            Format::Osie => osie::load(&self.path),
        }
    }

    /// The ground-truth σ (pixels) the dataset's authors used, if known.
    pub fn default_sigma(&self) -> Option<f64> {
        match self.format {
            Format::Osie => Some(24.0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
