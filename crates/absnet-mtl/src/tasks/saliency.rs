//! The saliency task: fixation densities and fixations of eye-tracking datasets train the
//! saliency head with a weighted sum of saliency losses; validation scores the maps with the
//! evaluation's own metrics (MIT benchmark conventions) at input resolution.

use absnet_data::Sample;
use absnet_data::loader::{Example, LoaderConfig};
use absnet_eval::saliency::{SaliencyEvalOptions, map_scores};
use absnet_metrics::Fixation;
use absnet_model::{AbsNet, Head};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::ArrayView2;

use super::{Objective, Scores, images, values};
use crate::config::TrainConfig;
use crate::losses::SaliencyLoss;

pub struct Saliency {
    loss: SaliencyLoss,
    sigma_fraction: f64,
    config: TrainConfig,
}

impl Saliency {
    pub fn new(config: &TrainConfig) -> Self {
        let task = config.saliency.as_ref();
        Self {
            loss: task.map(|t| t.loss.clone()).unwrap_or_default(),
            sigma_fraction: task.map_or(0.03, |t| t.sigma_fraction),
            config: config.clone(),
        }
    }
}

/// Images, densities and fixation masks of a saliency batch.
pub fn saliency_batch(
    examples: &[Example],
    config: &TrainConfig,
    device: &Device,
) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
    let [w, h] = config.input;
    let (w, h) = (w as usize, h as usize);
    let mut density = Vec::with_capacity(examples.len() * h * w);
    let mut mask = vec![0f32; examples.len() * h * w];
    for (i, e) in examples.iter().enumerate() {
        match &e.density {
            Some(d) => density.extend_from_slice(d),
            None => density.extend(std::iter::repeat_n(1.0 / (h * w) as f32, h * w)),
        }
        for f in &e.fixations {
            mask[i * h * w + f.y as usize * w + f.x as usize] = 1.0;
        }
    }
    let shape = [examples.len(), 1, h, w];
    (
        images(examples, config, device),
        Tensor::from_data(TensorData::new(density, shape), device),
        Tensor::from_data(TensorData::new(mask, shape), device),
    )
}

impl Objective for Saliency {
    fn loss(&self, model: &AbsNet, examples: &[Example], device: &Device) -> Tensor<1> {
        let (x, density, fixations) = saliency_batch(examples, &self.config, device);
        let out = model.forward_heads(x, &[Head::Saliency]);
        self.loss.forward(
            out.saliency
                .expect("checked: the model has a saliency head"),
            density,
            fixations,
        )
    }

    /// Mean NSS, CC, KLD and AUC-Judd over the images with fixations.
    fn validate(&self, model: &AbsNet, examples: &[Example], device: &Device) -> Scores {
        let [w, h] = self.config.input;
        let (w, h) = (w as usize, h as usize);
        let options = SaliencyEvalOptions::mit(0.0);
        let (mut sums, mut count) = ([0.0; 4], 0.0);
        for chunk in examples.chunks(self.config.batch) {
            let (x, _, _) = saliency_batch(chunk, &self.config, device);
            let maps = values(
                model
                    .forward_heads(x, &[Head::Saliency])
                    .saliency
                    .expect("a saliency model"),
            );
            for (i, example) in chunk.iter().enumerate() {
                let (Some(density), false) = (&example.density, example.fixations.is_empty())
                else {
                    continue;
                };
                let map = ArrayView2::from_shape((h, w), &maps[i * h * w..(i + 1) * h * w])
                    .expect("h × w");
                let truth: Vec<f64> = density.iter().map(|&v| f64::from(v)).collect();
                let truth = ArrayView2::from_shape((h, w), &truth).expect("h × w");
                let fixations: Vec<Fixation> = example
                    .fixations
                    .iter()
                    .map(|f| Fixation::new(f.x, f.y))
                    .collect();
                let Ok(s) = map_scores(map, &fixations, truth, &options) else {
                    continue;
                };
                for (sum, value) in sums.iter_mut().zip([s.nss, s.cc, s.kld, s.auc_judd]) {
                    *sum += value;
                }
                count += 1.0;
            }
        }
        let count = f64::max(count, 1.0);
        ["nss", "cc", "kld", "auc_judd"]
            .iter()
            .zip(sums)
            .map(|(name, sum)| (name.to_string(), sum / count))
            .collect()
    }

    fn selection(&self) -> &'static str {
        "cc"
    }

    fn unusable(&self, sample: &Sample) -> Option<String> {
        let labels = !sample.observers.is_empty()
            || sample.fixation_map.is_some()
            || sample.density.is_some();
        (sample.votes.is_some() && !labels)
            .then(|| "has vote counts but no fixations: an aesthetics dataset?".into())
    }

    fn loader(&self, defaults: LoaderConfig) -> LoaderConfig {
        LoaderConfig {
            sigma_fraction: self.sigma_fraction,
            ..defaults
        }
    }
}
