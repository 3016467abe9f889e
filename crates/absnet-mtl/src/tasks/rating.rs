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

/// One example's rating target.
struct Target {
    distribution: [f64; RATING_BINS],
    mean: f64,
    sd: f64,
}

/// A batch's rating targets.
struct Targets {
    distribution: Tensor<2>,
    mean: Tensor<1>,
    sd: Tensor<1>,
}

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

    /// The target distribution of an example, and its mean score and the raters' standard
    /// deviation on the bins' position scale [0, 1] (an opinion's MOS and SD themselves, not the
    /// discretised distribution's).
    fn target(&self, example: &Example) -> Option<Target> {
        match self.head {
            Head::Quality => {
                let opinion = example.opinion?;
                // The bins' centres 5, 15, …, 95 on 0–100 are positions 0, 1/9, …, 1.
                Some(Target {
                    distribution: opinion_distribution(opinion.mos, opinion.sd),
                    mean: (opinion.mos - 5.0) / 90.0,
                    sd: opinion.sd / 90.0,
                })
            }
            _ => {
                let votes = example.votes?.map(f64::from);
                let distribution = rating::normalised(&votes).ok()?;
                let scale = (RATING_BINS - 1) as f64;
                Some(Target {
                    distribution,
                    mean: (rating::mean_score(&distribution).ok()? - 1.0) / scale,
                    sd: rating::score_std(&distribution).ok()? / scale,
                })
            }
        }
    }

    /// Target distributions `[batch, bins]`, mean positions and deviations `[batch]`.
    fn targets(&self, examples: &[Example], device: &Device) -> Targets {
        let (mut distributions, mut means, mut sds) = (Vec::new(), Vec::new(), Vec::new());
        for example in examples {
            let target = self
                .target(example)
                .expect("checked when the data was loaded: every example is rated");
            distributions.extend(target.distribution.map(|v| v as f32));
            means.push(target.mean as f32);
            sds.push(target.sd as f32);
        }
        let n = examples.len();
        Targets {
            distribution: Tensor::from_data(
                TensorData::new(distributions, [n, RATING_BINS]),
                device,
            ),
            mean: Tensor::from_data(TensorData::new(means, [n]), device),
            sd: Tensor::from_data(TensorData::new(sds, [n]), device),
        }
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
        let Targets {
            distribution,
            mean,
            sd,
        } = self.targets(examples, device);
        let positions: Vec<f32> = (0..RATING_BINS)
            .map(|i| i as f32 / (RATING_BINS - 1) as f32)
            .collect();
        let positions = Tensor::<1>::from_data(TensorData::new(positions, [RATING_BINS]), device)
            .unsqueeze_dim::<2>(0);
        let predicted_mean = (predicted.clone() * positions.clone())
            .sum_dim(1)
            .squeeze_dim(1);
        let mut total = losses::emd2(predicted.clone(), distribution) * self.loss.emd;
        if self.loss.plcc > 0.0 {
            total = total + losses::plcc(predicted_mean.clone(), mean.clone()) * self.loss.plcc;
        }
        if self.loss.fidelity > 0.0 {
            let second_moment = (predicted.clone() * positions.powi_scalar(2))
                .sum_dim(1)
                .squeeze_dim::<1>(1);
            let predicted_sd = (second_moment - predicted_mean.clone().powi_scalar(2))
                .clamp_min(0.0)
                .add_scalar(1e-7)
                .sqrt();
            let ranking = losses::fidelity(predicted_mean.clone(), predicted_sd, mean.clone(), sd);
            total = total + ranking * self.loss.fidelity;
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
