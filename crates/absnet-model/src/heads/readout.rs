//! A probabilistic saliency readout in the manner of DeepGaze II (Kümmerer, Wallis, Gatys &
//! Bethge, ICCV 2017): the encoder's features from several depths, each standardised with fixed
//! per-channel statistics, go through 1×1 convolutions with softplus between (16 → 32 → 2 → 1);
//! the first layer runs on each depth at its own resolution and its outputs are upsampled to the
//! grid of the shallowest depth and summed (the same as concatenating upsampled features, since
//! a 1×1 convolution and bilinear upsampling commute, for a fraction of the work). A Gaussian
//! blur with a learned σ smooths the result, a learned centre-bias log-density is added, and a
//! softmax over every cell makes it a probability distribution over the image: the model's own
//! density of where people fixate, trained by the log-likelihood of real fixations.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::activation::{log_softmax, softplus};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::backbone::Tap;
use crate::layers::{Conv, ConvSpec};
use crate::profile::{OpKind, record};
use crate::resample::{bilinear, gaussian_blur};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadoutHeadConfig {
    /// Backbone taps read, at least one; the readout's grid is the shallowest one's.
    #[serde(default = "default_taps")]
    pub taps: Vec<Tap>,
    /// Channels of the hidden 1×1 layers; a last one maps to a single channel.
    #[serde(default = "default_widths")]
    pub widths: Vec<usize>,
    /// The learned centre-bias log-density: `[columns, rows]` cells stretched over the grid.
    #[serde(default = "default_centre_bias")]
    pub centre_bias: [usize; 2],
    /// Initial σ of the learned blur, in grid cells; 0: no blur.
    #[serde(default = "default_blur")]
    pub blur: f64,
}

fn default_taps() -> Vec<Tap> {
    vec![Tap::C3, Tap::C4, Tap::C5]
}
fn default_widths() -> Vec<usize> {
    vec![16, 32, 2]
}
fn default_centre_bias() -> [usize; 2] {
    [12, 12]
}
fn default_blur() -> f64 {
    1.0
}

impl Default for ReadoutHeadConfig {
    fn default() -> Self {
        Self {
            taps: default_taps(),
            widths: default_widths(),
            centre_bias: default_centre_bias(),
            blur: default_blur(),
        }
    }
}

impl ReadoutHeadConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        let mut sorted = self.taps.clone();
        sorted.sort();
        sorted.dedup();
        if self.taps.is_empty() || sorted != self.taps {
            return Err(ModelError::Config(format!(
                "heads.saliency.taps = {:?}: expected one or more taps, shallowest first, each once",
                self.taps
            )));
        }
        if self.widths.is_empty() || self.widths.contains(&0) {
            return Err(ModelError::Config(format!(
                "heads.saliency.widths = {:?}: expected at least one width, each > 0",
                self.widths
            )));
        }
        if self.centre_bias.contains(&0) {
            return Err(ModelError::Config(format!(
                "heads.saliency.centre_bias = {:?}: expected [columns, rows] > 0",
                self.centre_bias
            )));
        }
        if !(self.blur.is_finite() && self.blur >= 0.0) {
            return Err(ModelError::Config(format!(
                "heads.saliency.blur = {}: expected σ ≥ 0 grid cells",
                self.blur
            )));
        }
        Ok(())
    }
}

/// Fixed per-channel standardisation `(x − mean) / std`, set from training features before
/// training starts ([`ReadoutHead::set_statistics`]) and never trained.
#[derive(Module, Debug)]
pub struct Standardise {
    pub mean: Param<Tensor<1>>,
    pub std: Param<Tensor<1>>,
}

impl Standardise {
    fn new(channels: usize, device: &Device) -> Self {
        let frozen = |init: Initializer| init.init([channels], device).set_require_grad(false);
        Self {
            mean: frozen(Initializer::Zeros),
            std: frozen(Initializer::Ones),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.mean.dims()[0];
        (x - self.mean.val().reshape([1, c, 1, 1])) / self.std.val().reshape([1, c, 1, 1])
    }
}

#[derive(Module, Debug)]
pub struct ReadoutHead {
    /// One per tap.
    pub standardise: Vec<Standardise>,
    /// The first 1×1 layer, one part per tap (only the first has a bias).
    pub first: Vec<Conv>,
    /// The other 1×1 layers, each after a softplus; the last has one output channel.
    pub layers: Vec<Conv>,
    /// ln σ of the blur in grid cells; `None` without blur.
    pub log_sigma: Option<Param<Tensor<1>>>,
    /// Centre-bias log-density `[1, 1, rows, columns]`, starting flat.
    pub centre_bias: Param<Tensor<4>>,
}

impl ReadoutHead {
    /// `channels`: of each tap in `config.taps`.
    pub fn new(config: &ReadoutHeadConfig, channels: &[usize], device: &Device) -> Self {
        let hidden = config.widths[0];
        let total: usize = channels.iter().sum();
        let first = channels
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                // Initialised as one convolution over all the taps' channels.
                let mut conv = Conv::new(ConvSpec::new(total, hidden, 1).bias(i == 0), device);
                let weight = conv
                    .weight
                    .val()
                    .slice([0..hidden, 0..c, 0..1, 0..1])
                    .detach();
                conv.weight = Param::from_tensor(weight);
                conv.spec.in_channels = c;
                conv
            })
            .collect();
        let layers = config
            .widths
            .iter()
            .zip(config.widths.iter().skip(1).chain([&1]))
            .map(|(&i, &o)| Conv::new(ConvSpec::new(i, o, 1).bias(true), device))
            .collect();
        let [columns, rows] = config.centre_bias;
        Self {
            standardise: channels
                .iter()
                .map(|&c| Standardise::new(c, device))
                .collect(),
            first,
            layers,
            log_sigma: (config.blur > 0.0).then(|| {
                Param::from_tensor(Tensor::from_floats([config.blur.ln() as f32], device))
            }),
            centre_bias: Param::from_tensor(Tensor::zeros([1, 1, rows, columns], device)),
        }
    }

    /// Sets the standardisation of tap `i`'s features: per-channel mean and standard deviation.
    pub fn set_statistics(mut self, i: usize, mean: &[f32], std: &[f32]) -> Self {
        let device = self.centre_bias.val().device();
        let frozen = |v: &[f32]| {
            Param::from_data(TensorData::new(v.to_vec(), [v.len()]), &device)
                .set_require_grad(false)
        };
        self.standardise[i] = Standardise {
            mean: frozen(mean),
            std: frozen(std),
        };
        self
    }

    /// The log-density `[batch, 1, h, w]` over the grid of the first tap (each image's cells
    /// sum to 1 in probability). `features`: the taps in the config's order.
    pub fn forward(&self, features: Vec<Tensor<4>>) -> Tensor<4> {
        let [batch, _, h, w] = features[0].dims();
        let mut x: Option<Tensor<4>> = None;
        for ((f, standardise), conv) in features.into_iter().zip(&self.standardise).zip(&self.first)
        {
            let y = conv.forward(record(OpKind::Elementwise, 0, || standardise.forward(f)));
            let y = record(OpKind::Upsampling, 0, || bilinear(y, [h, w]));
            x = Some(match x {
                Some(x) => x + y,
                None => y,
            });
        }
        let mut x = x.expect("at least one tap");
        for conv in &self.layers {
            x = conv.forward(record(OpKind::Elementwise, 0, || softplus(x, 1.0)));
        }
        if let Some(log_sigma) = &self.log_sigma {
            x = record(OpKind::Upsampling, 0, || {
                gaussian_blur(x, log_sigma.val().exp())
            });
        }
        let prior = record(OpKind::Upsampling, 0, || {
            bilinear(self.centre_bias.val(), [h, w])
        });
        let logits = (x + prior).reshape([batch, h * w]);
        log_softmax(logits, 1).reshape([batch, 1, h, w])
    }
}
