//! The image-rating tasks — aesthetics from AVA vote counts, quality from a quality study's
//! opinion scores — on one head type: the score distribution trained with EMD (r = 2) and/or
//! L1/L2 on its mean; validation scores it with the evaluation's own metrics.

use absnet_data::Sample;
use absnet_data::loader::Example;
use absnet_metrics::rating::{self, BINS as RATING_BINS, opinion_distribution};
use absnet_model::{AbsNet, Head};
use burn::tensor::{Device, Tensor, TensorData};

use super::{Features, Objective, Scores, values};
use crate::config::{RatingLoss, TrainConfig};
use crate::error::TrainError;
use crate::losses;

pub struct Rating {
    head: Head,
    loss: RatingLoss,
    /// The training crop `[width, height]`, if any.
    crop: Option<[u32; 2]>,
    config: TrainConfig,
}

impl Rating {
    /// The task of `head` (aesthetics or quality) as `config` sets it up.
    pub fn new(head: Head, config: &TrainConfig) -> Self {
        let task = config.ratings().find(|(h, _)| *h == head).map(|(_, t)| t);
        Self {
            head,
            loss: task.map(|t| t.loss.clone()).unwrap_or_default(),
            crop: task.and_then(|t| t.crop),
            config: config.clone(),
        }
    }

    /// The target distribution of an example and its mean score as a bin position in [0, 1]
    /// (the MOS itself for an opinion, not the discretised distribution's mean).
    fn target(&self, example: &Example) -> Option<([f64; RATING_BINS], f64)> {
        match self.head {
            Head::Quality => {
                let opinion = example.opinion?;
                Some((
                    opinion_distribution(opinion.mos, opinion.sd),
                    (opinion.mos - 5.0) / 90.0,
                ))
            }
            _ => {
                let votes = example.votes?.map(f64::from);
                let distribution = rating::normalised(&votes).ok()?;
                let mean = rating::mean_score(&distribution).ok()?;
                Some((distribution, (mean - 1.0) / (RATING_BINS - 1) as f64))
            }
        }
    }

    /// Target distributions `[batch, bins]` and mean positions `[batch]`.
    fn targets(&self, examples: &[Example], device: &Device) -> (Tensor<2>, Tensor<1>) {
        let (mut distributions, mut means) = (Vec::new(), Vec::new());
        for example in examples {
            let (d, m) = self
                .target(example)
                .expect("checked when the data was loaded: every example is rated");
            distributions.extend(d.map(|v| v as f32));
            means.push(m as f32);
        }
        let n = examples.len();
        (
            Tensor::from_data(TensorData::new(distributions, [n, RATING_BINS]), device),
            Tensor::from_data(TensorData::new(means, [n]), device),
        )
    }
}

impl Objective for Rating {
    fn loss(
        &self,
        model: &AbsNet,
        examples: &[Example],
        features: Features,
        device: &Device,
    ) -> Result<Tensor<1>, TrainError> {
        let out = features.forward(
            model,
            examples,
            &self.config,
            &[self.head],
            self.crop,
            device,
        )?;
        let predicted = out
            .rating(self.head)
            .expect("checked: the model has the task's head");
        let (distribution, mean) = self.targets(examples, device);
        let positions: Vec<f32> = (0..RATING_BINS)
            .map(|i| i as f32 / (RATING_BINS - 1) as f32)
            .collect();
        let positions = Tensor::<1>::from_data(TensorData::new(positions, [RATING_BINS]), device);
        let predicted_mean = (predicted.clone() * positions.unsqueeze_dim(0))
            .sum_dim(1)
            .squeeze_dim(1);
        let mut total = losses::emd2(predicted, distribution) * self.loss.emd;
        if self.loss.plcc > 0.0 {
            total = total + losses::plcc(predicted_mean.clone(), mean.clone()) * self.loss.plcc;
        }
        let error = predicted_mean - mean;
        if self.loss.l1 > 0.0 {
            total = total + error.clone().abs().mean().reshape([1]) * self.loss.l1;
        }
        if self.loss.l2 > 0.0 {
            total = total + error.powi_scalar(2).mean().reshape([1]) * self.loss.l2;
        }
        Ok(total)
    }

    /// Aesthetics: mean EMD (r = 2), and SRCC, PLCC and accuracy of the mean scores. Quality:
    /// SRCC, KRCC, PLCC (raw and logistic), RMSE, EMD and accuracy against the opinion scores.
    /// Correlations are left out while every predicted mean is the same (an untrained head).
    fn validate(
        &self,
        model: &AbsNet,
        examples: &[Example],
        features: Features,
        device: &Device,
    ) -> Result<Scores, TrainError> {
        let mut rows: Vec<f64> = Vec::new();
        for chunk in examples.chunks(self.config.batch) {
            let out = features.forward(model, chunk, &self.config, &[self.head], None, device)?;
            rows.extend(
                out.rating(self.head)
                    .map(values)
                    .expect("a model with the task's head"),
            );
        }
        // Every example is rated: checked when the data was loaded.
        let rated = examples.iter().zip(rows.chunks(RATING_BINS));
        let mut out = Scores::new();
        let mut put = |name: &str, value: Option<f64>| {
            if let Some(v) = value {
                out.insert(name.to_string(), v);
            }
        };
        if self.head == Head::Quality {
            let pairs = rated.map(|(e, p)| (e.id.as_str(), p, e.opinion.expect("an opinion")));
            let Ok(s) = absnet_eval::quality::scores(pairs) else {
                return Ok(Scores::new());
            };
            put("srcc", s.srcc);
            put("krcc", s.krcc);
            put("plcc", s.plcc);
            put("plcc_logistic", s.plcc_logistic);
            put("rmse", Some(s.rmse));
            put("emd", Some(s.emd2));
            put("accuracy", Some(s.accuracy));
        } else {
            let votes: Vec<[f64; RATING_BINS]> = examples
                .iter()
                .map(|e| e.votes.expect("vote counts").map(f64::from))
                .collect();
            let pairs = rated
                .zip(&votes)
                .map(|((e, p), t)| (e.id.as_str(), p, t.as_slice()));
            let Ok(s) = absnet_eval::aesthetics::scores(pairs) else {
                return Ok(Scores::new());
            };
            put("emd", Some(s.emd2));
            put("accuracy", Some(s.accuracy));
            put("srcc", s.srcc);
            put("plcc", s.plcc);
        }
        Ok(out)
    }

    fn selection(&self) -> &'static str {
        "srcc"
    }

    fn unusable(&self, sample: &Sample) -> Option<String> {
        match self.head {
            Head::Quality => sample
                .opinion
                .is_none()
                .then(|| "has no opinion scores: use a `livec:` dataset".into()),
            _ => sample
                .votes
                .is_none()
                .then(|| "has no vote counts: use an `ava:` or `ava-json:` dataset".into()),
        }
    }
}
