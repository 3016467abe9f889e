//! Reproducible train/validation/test splits for datasets that ship without one: drawn once
//! from a seed and ratios, written to a small JSON file, and read back from it afterwards, so
//! every later run sees exactly the same images in each part.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::{DataError, Sample};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// How the split was drawn (for the record).
    pub seed: u64,
    /// The train, validation and test ratios it was drawn with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratios: Option<[f64; 3]>,
    /// How a split not drawn by [`Split::draw`] was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub train: Vec<String>,
    pub val: Vec<String>,
    pub test: Vec<String>,
}

impl Split {
    /// Shuffles `ids` with `seed` and cuts it by `ratios` = [train, val, test] (normalised; the
    /// test part takes the rounding remainder). Each part is sorted for readable files.
    pub fn draw(ids: &[String], seed: u64, ratios: [f64; 3]) -> Result<Self, DataError> {
        let total: f64 = ratios.iter().sum();
        if ratios.iter().any(|r| !r.is_finite() || *r < 0.0) || total <= 0.0 {
            return Err(DataError::invalid(
                "split ratios",
                format!("{ratios:?}: expected three non-negative numbers, not all 0"),
            ));
        }
        let mut shuffled = ids.to_vec();
        shuffled.sort();
        shuffled.shuffle(&mut StdRng::seed_from_u64(seed));
        let n = shuffled.len();
        let n_train = (n as f64 * ratios[0] / total).round() as usize;
        let n_val = ((n as f64 * ratios[1] / total).round() as usize).min(n - n_train);
        let part = |range: std::ops::Range<usize>| {
            let mut v = shuffled[range].to_vec();
            v.sort();
            v
        };
        Ok(Self {
            seed,
            ratios: Some(ratios),
            origin: None,
            train: part(0..n_train),
            val: part(n_train..n_train + n_val),
            test: part(n_train + n_val..n),
        })
    }

    pub fn read(path: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            cause: source,
        })?;
        let split: Self = serde_json::from_str(&text)
            .map_err(|e| DataError::invalid(path, format!("not a split file: {e}")))?;
        let mut seen = HashSet::new();
        for id in split.train.iter().chain(&split.val).chain(&split.test) {
            if !seen.insert(id) {
                return Err(DataError::invalid(
                    path,
                    format!("image `{id}` is in more than one part (or twice in one)"),
                ));
            }
        }
        Ok(split)
    }

    /// Writes the split atomically.
    pub fn write(&self, path: &Path) -> Result<(), DataError> {
        let text = serde_json::to_string_pretty(self).expect("a split always serialises");
        absnet_fs::write_atomically(path, text.as_bytes()).map_err(|cause| DataError::Io {
            path: path.to_path_buf(),
            cause,
        })
    }

    /// The split in `path` if it exists, else a new one drawn from `samples` and written there
    /// (ratios checked before anything is written). An existing file recorded as drawn with
    /// another seed or other ratios is refused by path: reusing it would silently mean other
    /// parts.
    pub fn read_or_draw(
        path: &Path,
        samples: &[Sample],
        seed: u64,
        ratios: [f64; 3],
    ) -> Result<Self, DataError> {
        if path.exists() {
            let split = Self::read(path)?;
            split.check_drawn_with(path, seed, ratios)?;
            return Ok(split);
        }
        let ids: Vec<String> = samples.iter().map(|s| s.id.clone()).collect();
        let split = Self::draw(&ids, seed, ratios)?;
        split.write(path)?;
        Ok(split)
    }

    fn check_drawn_with(&self, path: &Path, seed: u64, ratios: [f64; 3]) -> Result<(), DataError> {
        if self.seed != seed {
            return Err(DataError::invalid(
                path,
                format!(
                    "drawn with seed {}, but the config's split_seed is {seed}",
                    self.seed
                ),
            ));
        }
        match self.ratios {
            Some(drawn) if drawn != ratios => Err(DataError::invalid(
                path,
                format!(
                    "drawn with ratios {drawn:?}, but the config's split_ratios are {ratios:?}; move the file away to draw a new split"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The split file of the dataset `name` in a folder of per-dataset split files.
    pub fn dataset_file(folder: &Path, name: &str) -> std::path::PathBuf {
        folder.join(format!("{name}.json"))
    }

    /// The samples of `part` that `samples` holds (a split over several datasets, applied to
    /// one of them), in the part's order.
    pub fn select_present(&self, samples: &[Sample], part: &[String]) -> Vec<Sample> {
        let wanted: HashSet<&str> = part.iter().map(String::as_str).collect();
        samples
            .iter()
            .filter(|s| wanted.contains(s.id.as_str()))
            .cloned()
            .collect()
    }

    /// The samples of one part, in the part's order. An id the dataset lacks is an error naming
    /// the split file.
    pub fn select(
        &self,
        samples: &[Sample],
        part: &[String],
        path: &Path,
    ) -> Result<Vec<Sample>, DataError> {
        let by_id: HashMap<&str, &Sample> = samples.iter().map(|s| (s.id.as_str(), s)).collect();
        part.iter()
            .map(|id| {
                by_id.get(id.as_str()).map(|s| (*s).clone()).ok_or_else(|| {
                    DataError::invalid(path, format!("image `{id}` is not in the dataset"))
                })
            })
            .collect()
    }
}
