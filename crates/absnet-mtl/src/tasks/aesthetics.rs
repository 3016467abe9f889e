//! The aesthetics task: AVA vote counts train the aesthetics head with EMD (r = 2); validation
//! scores the distributions with the evaluation's own metrics.

use absnet_data::Sample;
use absnet_data::loader::Example;
use absnet_model::{AbsNet, Head};
use burn::tensor::{Device, Tensor, TensorData};

use super::{Features, Objective, Scores, values};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::losses;

pub struct Aesthetics {
    config: TrainConfig,
}

impl Aesthetics {
    pub fn new(config: &TrainConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }
}

/// Vote counts of a batch, `[batch, 10]`.
fn votes(examples: &[Example], device: &Device) -> Tensor<2> {
    let counts: Vec<f32> = examples
        .iter()
        .flat_map(|e| e.votes.unwrap_or([1; 10]).map(|v| v as f32))
        .collect();
    Tensor::from_data(TensorData::new(counts, [examples.len(), 10]), device)
}

impl Objective for Aesthetics {
    fn loss(
        &self,
        model: &AbsNet,
        examples: &[Example],
        features: Features,
        device: &Device,
    ) -> Result<Tensor<1>, TrainError> {
        let out = features.forward(model, examples, &self.config, &[Head::Aesthetics], device)?;
        Ok(losses::emd2(
            out.aesthetics
                .expect("checked: the model has an aesthetics head"),
            votes(examples, device),
        ))
    }

    /// Mean EMD (r = 2), and SRCC, PLCC and accuracy of the mean scores (SRCC and PLCC are
    /// left out while every predicted mean is the same, as from an untrained head).
    fn validate(
        &self,
        model: &AbsNet,
        examples: &[Example],
        features: Features,
        device: &Device,
    ) -> Result<Scores, TrainError> {
        let mut pairs: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
        for chunk in examples.chunks(self.config.batch) {
            let out = features.forward(model, chunk, &self.config, &[Head::Aesthetics], device)?;
            let rows = values(out.aesthetics.expect("an aesthetics model"));
            for (example, predicted) in chunk.iter().zip(rows.chunks(10)) {
                if let Some(votes) = example.votes {
                    pairs.push((
                        example.id.clone(),
                        predicted.to_vec(),
                        votes.iter().map(|&v| f64::from(v)).collect(),
                    ));
                }
            }
        }
        let scores = absnet_eval::aesthetics::scores(
            pairs
                .iter()
                .map(|(id, p, t)| (id.as_str(), p.as_slice(), t.as_slice())),
        );
        let Ok(s) = scores else {
            return Ok(Scores::new());
        };
        let mut out = Scores::from([
            ("emd".to_string(), s.emd2),
            ("accuracy".to_string(), s.accuracy),
        ]);
        out.extend(s.srcc.map(|v| ("srcc".to_string(), v)));
        out.extend(s.plcc.map(|v| ("plcc".to_string(), v)));
        Ok(out)
    }

    fn selection(&self) -> &'static str {
        "srcc"
    }

    fn unusable(&self, sample: &Sample) -> Option<String> {
        sample
            .votes
            .is_none()
            .then(|| "has no vote counts: use an `ava:` or `ava-json:` dataset".into())
    }
}
