//! Picture-quality evaluation: predicted score distributions against a quality study's
//! opinion scores (LIVE-C's MOS and SD on 0–100), with the metrics the IQA literature reports.

use absnet_data::Opinion;
use absnet_metrics::{MetricError, rating};
use serde::Serialize;

use crate::EvalError;

/// The quality metrics of predictions against opinion scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QualityScores {
    pub images: usize,
    /// Rank correlations of the predicted score (0–100) with the MOS; `None` where undefined
    /// (every prediction the same, as from an untrained head).
    pub srcc: Option<f64>,
    pub krcc: Option<f64>,
    /// Linear correlation, raw and after the 4-parameter logistic fit.
    pub plcc: Option<f64>,
    pub plcc_logistic: Option<f64>,
    /// Root mean squared error of the predicted score against the MOS, on 0–100.
    pub rmse: f64,
    /// EMD (r = 1 and 2) against the opinion distributions (normal of MOS and SD over the ten
    /// bins), averaged over images.
    pub emd1: f64,
    pub emd2: f64,
    /// Agreement on score > 50.
    pub accuracy: f64,
    /// Each image's predicted score next to its opinion, in the order scored.
    pub per_image: Vec<ImageQuality>,
}

/// One image's predicted score (0–100, the distribution's mean) and what its raters said.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageQuality {
    pub image: String,
    pub score: f64,
    pub mos: f64,
    pub sd: f64,
}

/// Scores each image's predicted distribution against its opinion (`id` names it in errors).
pub fn scores<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a [f64], Opinion)>,
) -> Result<QualityScores, EvalError> {
    let metric = |id: &str, r: Result<f64, MetricError>| r.map_err(|c| EvalError::metric(id, c));
    let (mut emd1, mut emd2) = (0.0, 0.0);
    let mut per_image = Vec::new();
    for (id, p, opinion) in pairs {
        let target = rating::opinion_distribution(opinion.mos, opinion.sd);
        emd1 += metric(id, rating::emd(p, &target, 1))?;
        emd2 += metric(id, rating::emd(p, &target, 2))?;
        per_image.push(ImageQuality {
            image: id.to_string(),
            score: metric(id, rating::opinion_score(p))?,
            mos: opinion.mos,
            sd: opinion.sd,
        });
    }
    let predicted: Vec<f64> = per_image.iter().map(|image| image.score).collect();
    let mos: Vec<f64> = per_image.iter().map(|image| image.mos).collect();
    let n = per_image.len();
    if n == 0 {
        return Err(EvalError::Empty(
            "no image has both an opinion score and a prediction".into(),
        ));
    }
    let all = |r| metric("all images", r);
    let defined = |r: Result<f64, MetricError>| match r {
        Err(MetricError::ConstantValues { .. } | MetricError::TooFewValues { .. }) => Ok(None),
        other => all(other).map(Some),
    };
    Ok(QualityScores {
        images: n,
        srcc: defined(rating::srcc(&predicted, &mos))?,
        krcc: defined(rating::krcc(&predicted, &mos))?,
        plcc: defined(rating::plcc(&predicted, &mos))?,
        plcc_logistic: defined(rating::plcc_logistic(&predicted, &mos))?,
        rmse: all(rating::rmse(&predicted, &mos))?,
        emd1: emd1 / n as f64,
        emd2: emd2 / n as f64,
        accuracy: all(rating::binary_accuracy(&predicted, &mos, 50.0))?,
        per_image,
    })
}

impl std::fmt::Display for QualityScores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} images scored against their opinion scores",
            self.images
        )?;
        for (name, value) in [
            ("SRCC", self.srcc),
            ("KRCC", self.krcc),
            ("PLCC", self.plcc),
            ("PLCC (logistic)", self.plcc_logistic),
            ("RMSE", Some(self.rmse)),
            ("EMD r=1", Some(self.emd1)),
            ("EMD r=2", Some(self.emd2)),
            ("accuracy @50", Some(self.accuracy)),
        ] {
            match value {
                Some(value) => writeln!(f, "{name:<16} {value:>9.4}")?,
                None => writeln!(
                    f,
                    "{name:<16} undefined (every predicted score is the same)"
                )?,
            }
        }
        Ok(())
    }
}
