//! Aesthetics evaluation: predicted score distributions against AVA vote counts.

use std::collections::HashMap;
use std::path::Path;

use absnet_metrics::rating;
use serde::Serialize;

use crate::EvalError;

/// Image id → 10 values (votes or probabilities for the scores 1..10).
pub type Distributions = HashMap<String, Vec<f64>>;

/// Reads distributions from JSON — a list of `{"image_id": "…", "label": [10 numbers]}` (the
/// AVA label form of ../shared/data/ava-labels; `"distribution"` is accepted for `"label"`) — or
/// CSV with rows `image_id,v1,…,v10` (a header row is skipped).
pub fn read_distributions(path: &Path) -> Result<Distributions, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    let is_json =
        path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('[');
    let mut out = Distributions::new();
    let mut insert = |id: String, values: Vec<f64>, at: String| -> Result<(), EvalError> {
        if values.len() != rating::BINS {
            return Err(EvalError::BinCount {
                path: path.into(),
                at,
                found: values.len(),
                expected: rating::BINS,
            });
        }
        if out.insert(id.clone(), values).is_some() {
            return Err(EvalError::DuplicateId {
                path: path.into(),
                at,
                id,
            });
        }
        Ok(())
    };
    if is_json {
        for (i, (id, values)) in absnet_data::ava::read_json_distributions(path)?
            .into_iter()
            .enumerate()
        {
            insert(id, values, format!("entry {i}"))?;
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if line.trim().is_empty()
                || (i == 0 && fields.get(1).is_some_and(|f| f.parse::<f64>().is_err()))
            {
                continue;
            }
            let at = format!("line {}", i + 1);
            let values = fields[1..]
                .iter()
                .map(|f| {
                    f.parse::<f64>().map_err(|_| EvalError::NotANumber {
                        path: path.into(),
                        at: at.clone(),
                        field: f.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            insert(fields[0].to_string(), values, at)?;
        }
    }
    Ok(out)
}

/// The aesthetics metrics of predictions against labels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AestheticsScores {
    /// Earth mover's distance of the distributions, r = 1 and r = 2, averaged over images.
    pub emd1: f64,
    pub emd2: f64,
    /// Rank and linear correlation of the mean scores; `None` where undefined (all predicted
    /// means equal, as from an untrained head).
    pub srcc: Option<f64>,
    pub plcc: Option<f64>,
    /// Agreement on mean score ≥ 5 (good) or < 5.
    pub accuracy: f64,
    pub mse: f64,
}

/// Scores predicted distributions against labelled ones, pair by pair (`id` names a pair in
/// errors): EMD averaged over pairs; SRCC, PLCC, accuracy at 5 and MSE over mean scores.
pub fn scores<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a [f64], &'a [f64])>,
) -> Result<AestheticsScores, EvalError> {
    let metric = |id: &str, r: Result<f64, absnet_metrics::MetricError>| {
        r.map_err(|cause| EvalError::metric(id, cause))
    };
    let (mut emd1, mut emd2) = (0.0, 0.0);
    let (mut mean_pred, mut mean_true) = (Vec::new(), Vec::new());
    for (id, p, t) in pairs {
        emd1 += metric(id, rating::emd(p, t, 1))?;
        emd2 += metric(id, rating::emd(p, t, 2))?;
        mean_pred.push(metric(id, rating::mean_score(p))?);
        mean_true.push(metric(id, rating::mean_score(t))?);
    }
    let n = mean_pred.len();
    if n == 0 {
        return Err(EvalError::Empty(
            "no image has both a label and a prediction".into(),
        ));
    }
    let all = |r| metric("all images", r);
    let correlation = |r: Result<f64, absnet_metrics::MetricError>| match r {
        Err(absnet_metrics::MetricError::ConstantValues { .. }) => Ok(None),
        other => all(other).map(Some),
    };
    Ok(AestheticsScores {
        emd1: emd1 / n as f64,
        emd2: emd2 / n as f64,
        srcc: correlation(rating::srcc(&mean_pred, &mean_true))?,
        plcc: correlation(rating::plcc(&mean_pred, &mean_true))?,
        accuracy: all(rating::binary_accuracy(&mean_pred, &mean_true, 5.0))?,
        mse: all(rating::mse(&mean_pred, &mean_true))?,
    })
}

#[derive(Debug, Serialize)]
pub struct AestheticsReport {
    pub images: usize,
    /// Labelled images without a prediction.
    pub missing_predictions: usize,
    /// Predictions without a label.
    pub unlabelled_predictions: usize,
    #[serde(flatten)]
    pub scores: AestheticsScores,
}

impl std::fmt::Display for AestheticsReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} images scored ({} labelled without prediction, {} predictions without label)",
            self.images, self.missing_predictions, self.unlabelled_predictions
        )?;
        let s = &self.scores;
        for (name, value) in [
            ("EMD r=1", Some(s.emd1)),
            ("EMD r=2", Some(s.emd2)),
            ("SRCC", s.srcc),
            ("PLCC", s.plcc),
            ("accuracy", Some(s.accuracy)),
            ("MSE", Some(s.mse)),
        ] {
            match value {
                Some(value) => writeln!(f, "{name:<10} {value:>9.4}")?,
                None => writeln!(f, "{name:<10} undefined (every predicted mean is the same)")?,
            }
        }
        Ok(())
    }
}

/// Scores predictions against labels on the images both have.
pub fn evaluate(
    labels: &Distributions,
    predictions: &Distributions,
) -> Result<AestheticsReport, EvalError> {
    let mut ids: Vec<&String> = labels
        .keys()
        .filter(|id| predictions.contains_key(*id))
        .collect();
    ids.sort();
    let scores = scores(ids.iter().map(|id| {
        (
            id.as_str(),
            predictions[*id].as_slice(),
            labels[*id].as_slice(),
        )
    }))?;
    Ok(AestheticsReport {
        images: ids.len(),
        missing_predictions: labels.len() - ids.len(),
        unlabelled_predictions: predictions.len() - ids.len(),
        scores,
    })
}
