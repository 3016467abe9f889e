//! AVA (Murray et al. 2012): `AVA.txt` rows of 15 whitespace-separated integers — index, image
//! id, vote counts for the scores 1..10, two semantic tag ids, challenge id — images as
//! `images/<id>.jpg`, official splits as `*.jpgl` lists (one id per line). Also the JSON label
//! form `[{"image_id": "…", "label": [10 counts]}]` (../shared/data/ava-labels).

use std::collections::HashSet;
use std::path::Path;

use crate::{DataError, Sample};

fn read(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        cause: source,
    })
}

fn sample(root: &Path, id: &str, votes: [u32; 10]) -> Sample {
    Sample {
        votes: Some(votes),
        ..Sample::new(id, root.join("images").join(format!("{id}.jpg")))
    }
}

fn checked_votes(values: &[u64], path: &Path, at: &str) -> Result<[u32; 10], DataError> {
    let mut votes = [0u32; 10];
    for (v, &x) in votes.iter_mut().zip(values) {
        *v = u32::try_from(x)
            .map_err(|_| DataError::invalid(path, format!("{at}: vote count {x} is too large")))?;
    }
    if votes.iter().all(|&v| v == 0) {
        return Err(DataError::invalid(
            path,
            format!("{at}: no votes (all ten counts are 0)"),
        ));
    }
    Ok(votes)
}

/// Every row of `<root>/AVA.txt`.
pub fn load_dataset(root: &Path) -> Result<Vec<Sample>, DataError> {
    let path = root.join("AVA.txt");
    let text = read(&path)?;
    let mut seen = HashSet::new();
    let mut samples = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", line_index + 1);
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 15 {
            return Err(DataError::invalid(
                &path,
                format!(
                    "{at}: {} columns; expected 15 (index, image id, 10 vote counts, 2 tags, challenge)",
                    fields.len()
                ),
            ));
        }
        let numbers = fields
            .iter()
            .map(|f| {
                f.parse::<u64>().map_err(|_| {
                    DataError::invalid(&path, format!("{at}: `{f}` is not a non-negative integer"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id = fields[1];
        if !seen.insert(id.to_string()) {
            return Err(DataError::invalid(
                &path,
                format!("{at}: image id {id} appears twice"),
            ));
        }
        samples.push(sample(
            root,
            id,
            checked_votes(&numbers[2..12], &path, &at)?,
        ));
    }
    Ok(samples)
}

/// The samples named in a split list (`*.jpgl`), in its order; an id the labels lack is an error.
pub(crate) fn select_split(samples: &[Sample], list: &Path) -> Result<Vec<Sample>, DataError> {
    let text = read(list)?;
    let by_id: std::collections::HashMap<&str, &Sample> =
        samples.iter().map(|s| (s.id.as_str(), s)).collect();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let id = l.trim();
            by_id.get(id).map(|s| (*s).clone()).ok_or_else(|| {
                DataError::invalid(list, format!("line {}: image id {id} has no labels", i + 1))
            })
        })
        .collect()
}

/// One entry of the AVA JSON form: `{"image_id": "…", "label": [10 numbers]}` (numbers of votes
/// for labels, probabilities for predictions; `"distribution"` is accepted for `"label"`).
#[derive(serde::Deserialize)]
struct JsonEntry {
    image_id: JsonId,
    #[serde(alias = "distribution")]
    label: Vec<f64>,
}

/// An id written as a string or a number.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum JsonId {
    Text(String),
    Number(u64),
}

/// Every `(image id, 10 values)` of a file in the AVA JSON form, ids unique; the one reader of
/// that form (labels here, predictions in the evaluation).
pub fn read_json_distributions(path: &Path) -> Result<Vec<(String, Vec<f64>)>, DataError> {
    let entries: Vec<JsonEntry> = serde_json::from_str(&read(path)?).map_err(|e| {
        DataError::invalid(
            path,
            format!("not AVA JSON (a list of {{\"image_id\", \"label\"}}): {e}"),
        )
    })?;
    let mut seen = HashSet::new();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let id = match entry.image_id {
                JsonId::Text(id) => id,
                JsonId::Number(id) => id.to_string(),
            };
            let at = format!("entry {i} ({id})");
            if entry.label.len() != 10 {
                return Err(DataError::invalid(
                    path,
                    format!("{at}: {} values; expected 10", entry.label.len()),
                ));
            }
            if !seen.insert(id.clone()) {
                return Err(DataError::invalid(
                    path,
                    format!("{at}: image id appears twice"),
                ));
            }
            Ok((id, entry.label))
        })
        .collect()
}

/// The JSON label form; images are looked for in `images/` beside the file.
pub fn load_json(path: &Path) -> Result<Vec<Sample>, DataError> {
    let root = path.parent().unwrap_or(Path::new("."));
    read_json_distributions(path)?
        .into_iter()
        .enumerate()
        .map(|(i, (id, values))| {
            let at = format!("entry {i} ({id})");
            let counts = values
                .iter()
                .map(|&v| {
                    (v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX))
                        .then_some(v as u64)
                        .ok_or_else(|| {
                            DataError::invalid(path, format!("{at}: `{v}` is not a vote count"))
                        })
                })
                .collect::<Result<Vec<u64>, _>>()?;
            Ok(sample(root, &id, checked_votes(&counts, path, &at)?))
        })
        .collect()
}
