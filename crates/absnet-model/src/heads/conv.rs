//! The saliency head of ABSNet: 7×7 convolutions 32 → 8 → 1 with ReLU between, a sigmoid, and
//! bilinear upsampling ([`crate::resample::bilinear`]) back to the exact input size, whatever it
//! is. Optionally, a learned centre-bias prior: a coarse grid of logits,
//! stretched over the feature map and added before the sigmoid, which learns where people look
//! whatever the image shows (as the learned priors of ML-Net and SAM, Cornia et al. 2016, 2018).

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::HeadInput;
use crate::ModelError;
use crate::channels_last::{self, Engine, Features};
use crate::layers::{Activation, Conv, ConvNorm, ConvSpec};
use crate::profile::{OpKind, record};
use crate::resample::bilinear;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvHeadConfig {
    /// Encoder output the head reads.
    #[serde(default)]
    pub input: HeadInput,
    /// Channels of the hidden convolutions; a last one maps to a single channel.
    #[serde(default = "default_widths")]
    pub widths: Vec<usize>,
    /// Kernel size of every convolution.
    #[serde(default = "default_kernel")]
    pub kernel: usize,
    /// A learned centre-bias prior of `[columns, rows]` cells (e.g. `[8, 6]`), none without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<[usize; 2]>,
}

fn default_widths() -> Vec<usize> {
    vec![32, 8]
}
fn default_kernel() -> usize {
    7
}

impl Default for ConvHeadConfig {
    fn default() -> Self {
        Self {
            input: HeadInput::Neck,
            widths: default_widths(),
            kernel: default_kernel(),
            prior: None,
        }
    }
}

impl ConvHeadConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.kernel.is_multiple_of(2) || self.widths.contains(&0) {
            return Err(ModelError::Config(format!(
                "heads.saliency: kernel = {}, widths = {:?}: expected an odd kernel and widths > 0",
                self.kernel, self.widths
            )));
        }
        if self.prior.is_some_and(|grid| grid.contains(&0)) {
            return Err(ModelError::Config(format!(
                "heads.saliency.prior = {:?}: expected [columns, rows] > 0",
                self.prior
            )));
        }
        Ok(())
    }
}

#[derive(Module, Debug)]
pub struct ConvHead {
    pub convs: Vec<ConvNorm>,
    /// Centre-bias logits `[1, 1, rows, columns]`, starting at 0 (no preference).
    pub prior: Option<Param<Tensor<4>>>,
    /// `convs` on absnet-engine, for inference on Flex ([`Engine::ChannelsLast`]; made from
    /// the weights by [`ConvHead::with_engine`]).
    #[module(skip)]
    pub(crate) channels_last: Option<Arc<Vec<channels_last::Conv>>>,
}

impl ConvHead {
    pub fn new(config: &ConvHeadConfig, in_channels: usize, device: &Device) -> Self {
        let mut input = in_channels;
        let mut convs = Vec::new();
        for (i, &output) in config.widths.iter().chain([&1]).enumerate() {
            let activation = if i == config.widths.len() {
                Activation::Identity
            } else {
                Activation::Relu
            };
            let spec = ConvSpec::new(input, output, config.kernel).bias(true);
            convs.push(ConvNorm {
                conv: Conv::new(spec, device),
                norm: None,
                activation,
            });
            input = output;
        }
        let prior = config.prior.map(|[columns, rows]| {
            Param::from_tensor(Tensor::zeros([1, 1, rows, columns], device))
        });
        Self {
            convs,
            prior,
            channels_last: None,
        }
    }

    /// The convolutions an inference forward on Flex runs.
    pub fn with_engine(self, engine: Engine) -> Self {
        let channels_last = match engine {
            Engine::ChannelsLast => channels_last::convs(&self.convs).map(Arc::new),
            Engine::Flex => None,
        };
        Self {
            channels_last,
            ..self
        }
    }

    /// Saliency logits at feature resolution, `[batch, 1, h, w]`, the prior added.
    pub fn logits(&self, features: &Features) -> Tensor<4> {
        let plan_and_map = self
            .channels_last
            .as_ref()
            .and_then(|plan| Some((plan, features.map()?)));
        let logits = match plan_and_map {
            Some((plan, x)) => {
                let (first, rest) = plan.split_first().expect("the head has convolutions");
                let x = rest
                    .iter()
                    .fold(first.forward(&x, None), |x, conv| conv.forward(&x, None));
                channels_last::to_tensor(&x, &features.device())
            }
            None => self
                .convs
                .iter()
                .fold(features.tensor(), |x, conv| conv.forward(x)),
        };
        match &self.prior {
            Some(prior) => {
                let [_, _, h, w] = logits.dims();
                let prior = record(OpKind::Upsampling, 0, || bilinear(prior.val(), [h, w]));
                record(OpKind::Elementwise, 0, || logits + prior)
            }
            None => logits,
        }
    }

    /// Saliency map in (0, 1) at `output_size = [height, width]`.
    pub fn forward(&self, features: &Features, output_size: [usize; 2]) -> Tensor<4> {
        let logits = self.logits(features);
        let probabilities = record(OpKind::Elementwise, 0, || sigmoid(logits));
        record(OpKind::Upsampling, 0, || {
            bilinear(probabilities, output_size)
        })
    }
}
