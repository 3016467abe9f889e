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

use super::{Features, Objective, Scores, values};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::losses::{self, SaliencyLoss, SaliencyTargets};

pub struct Saliency {
    loss: SaliencyLoss,
    sigma_fraction: f64,
    selection: &'static str,
    config: TrainConfig,
}

impl Saliency {
    pub fn new(config: &TrainConfig) -> Self {
        let task = config.saliency.as_ref();
        Self {
            loss: task.map(|t| t.loss.clone()).unwrap_or_default(),
            sigma_fraction: task.map_or(0.03, |t| t.sigma_fraction),
            selection: task.map_or("cc", |t| t.selection.name()),
            config: config.clone(),
        }
    }
}

/// A batch's targets at the input size `[width, height]`; with `grid = Some([h, w])` also the
/// fixation counts on that grid (a readout head's density).
pub fn saliency_targets(
    examples: &[Example],
    [w, h]: [usize; 2],
    grid: Option<[usize; 2]>,
    device: &Device,
) -> SaliencyTargets {
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
    let grid_fixations = grid.map(|[gh, gw]| {
        let mut counts = vec![0f32; examples.len() * gh * gw];
        for (i, e) in examples.iter().enumerate() {
            for f in &e.fixations {
                let x = ((f.x * gw as f64 / w as f64) as usize).min(gw - 1);
                let y = ((f.y * gh as f64 / h as f64) as usize).min(gh - 1);
                counts[i * gh * gw + y * gw + x] += 1.0;
            }
        }
        Tensor::from_data(TensorData::new(counts, [examples.len(), 1, gh, gw]), device)
    });
    SaliencyTargets {
        density: Tensor::from_data(TensorData::new(density, shape), device),
        fixations: Tensor::from_data(TensorData::new(mask, shape), device),
        grid_fixations,
    }
}

impl Objective for Saliency {
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
            &[Head::Saliency],
            None,
            device,
        )?;
        let [w, h] = self.config.input.map(|v| v as usize);
        let grid = out.log_density.as_ref().map(|d| {
            let [_, _, gh, gw] = d.dims();
            [gh, gw]
        });
        let targets = saliency_targets(examples, [w, h], grid, device);
        let map = out
            .saliency
            .expect("checked: the model has a saliency head");
        Ok(self.loss.forward(map, out.log_density, targets))
    }

    /// Mean NSS, CC, KLD and AUC-Judd of the maps over the images with fixations, and the
    /// fixations' log-likelihood gain over a uniform density in bits (`ll_bits`; under the
    /// model's own density where it has one).
    fn validate(
        &self,
        model: &AbsNet,
        examples: &[Example],
        features: Features,
        device: &Device,
    ) -> Result<Scores, TrainError> {
        let [w, h] = self.config.input;
        let (w, h) = (w as usize, h as usize);
        let options = SaliencyEvalOptions::mit(0.0);
        let (mut sums, mut count, mut ll, mut ll_count) = ([0.0; 4], 0.0, 0.0, 0.0);
        for chunk in examples.chunks(self.config.batch) {
            let out =
                features.forward(model, chunk, &self.config, &[Head::Saliency], None, device)?;
            let map = out.saliency.expect("a saliency model");
            let grid = out.log_density.as_ref().map(|d| {
                let [_, _, gh, gw] = d.dims();
                [gh, gw]
            });
            // Per image, so that images without fixations are left out of the mean.
            let targets = saliency_targets(chunk, [w, h], grid, device);
            let gains = match (out.log_density, targets.grid_fixations) {
                (Some(d), Some(c)) => losses::log_likelihoods(d, c),
                _ => losses::log_likelihoods(
                    losses::log_of_distribution(map.clone()),
                    targets.fixations,
                ),
            };
            for (example, gain) in chunk.iter().zip(values(gains)) {
                if !example.fixations.is_empty() {
                    ll += gain / std::f64::consts::LN_2;
                    ll_count += 1.0;
                }
            }
            let maps = values(map);
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
        let mut scores: Scores = ["nss", "cc", "kld", "auc_judd"]
            .iter()
            .zip(sums)
            .map(|(name, sum)| (name.to_string(), sum / count))
            .collect();
        if ll_count > 0.0 {
            scores.insert("ll_bits".into(), ll / ll_count);
        }
        Ok(scores)
    }

    fn selection(&self) -> &'static str {
        self.selection
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
