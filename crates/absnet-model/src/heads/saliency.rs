//! The saliency head, of one of two kinds (`kind` in its config): `conv`, ABSNet's 7×7
//! convolutions on one encoder output ([`super::conv`], the default and the paper's), or
//! `readout`, a DeepGaze-style probabilistic readout of several backbone depths
//! ([`super::readout`]).

use burn::module::Module;
use burn::tensor::Device;
use burn::tensor::Tensor;
use serde::{Deserialize, Deserializer, Serialize};

use super::HeadInput;
use super::conv::{ConvHead, ConvHeadConfig};
use super::readout::{ReadoutHead, ReadoutHeadConfig};
use crate::ModelError;
use crate::channels_last::{self, Engine, Features};
use crate::profile::{OpKind, record};
use crate::resample::bilinear;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Tagged {
    Conv(ConvHeadConfig),
    Readout(ReadoutHeadConfig),
}

/// The saliency head's configuration; `kind = "conv"` when not given (model files and configs
/// written before the readout existed).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(into = "Tagged")]
pub enum SaliencyHeadConfig {
    Conv(ConvHeadConfig),
    Readout(ReadoutHeadConfig),
}

impl From<SaliencyHeadConfig> for Tagged {
    fn from(config: SaliencyHeadConfig) -> Self {
        match config {
            SaliencyHeadConfig::Conv(c) => Tagged::Conv(c),
            SaliencyHeadConfig::Readout(c) => Tagged::Readout(c),
        }
    }
}

impl<'de> Deserialize<'de> for SaliencyHeadConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(deserializer)?;
        if let Some(table) = value.as_object_mut() {
            table.entry("kind").or_insert_with(|| "conv".into());
        }
        match Tagged::deserialize(value).map_err(serde::de::Error::custom)? {
            Tagged::Conv(c) => Ok(SaliencyHeadConfig::Conv(c)),
            Tagged::Readout(c) => Ok(SaliencyHeadConfig::Readout(c)),
        }
    }
}

impl Default for SaliencyHeadConfig {
    fn default() -> Self {
        SaliencyHeadConfig::Conv(ConvHeadConfig::default())
    }
}

impl SaliencyHeadConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            SaliencyHeadConfig::Conv(c) => c.validate(),
            SaliencyHeadConfig::Readout(c) => c.validate(),
        }
    }

    /// The encoder outputs the head reads, in the order its forward pass takes them.
    pub fn inputs(&self) -> Vec<HeadInput> {
        match self {
            SaliencyHeadConfig::Conv(c) => vec![c.input],
            SaliencyHeadConfig::Readout(c) => c.taps.iter().map(|&t| HeadInput::from(t)).collect(),
        }
    }
}

/// What the saliency head predicts for a batch.
#[derive(Debug)]
pub struct SaliencyOutput {
    /// `[batch, 1, height, width]` at the input size: a map in (0, 1] (the conv head's sigmoid;
    /// the readout's density scaled to a maximum of 1).
    pub map: Tensor<4>,
    /// The model's own log-density over its grid, `[batch, 1, h, w]` (each image's cells sum
    /// to 1 in probability); `None` for a head that predicts a map, not a density.
    pub log_density: Option<Tensor<4>>,
}

#[derive(Module, Debug)]
pub enum SaliencyHead {
    Conv(ConvHead),
    Readout(ReadoutHead),
}

impl SaliencyHead {
    /// `channels`: of each of the config's [`SaliencyHeadConfig::inputs`].
    pub fn new(config: &SaliencyHeadConfig, channels: &[usize], device: &Device) -> Self {
        match config {
            SaliencyHeadConfig::Conv(c) => {
                SaliencyHead::Conv(ConvHead::new(c, channels[0], device))
            }
            SaliencyHeadConfig::Readout(c) => {
                SaliencyHead::Readout(ReadoutHead::new(c, channels, device))
            }
        }
    }

    /// The convolutions an inference forward on Flex runs (the conv head's; the readout's
    /// 1×1 layers on small maps stay on Flex).
    pub fn with_engine(self, engine: Engine) -> Self {
        match self {
            SaliencyHead::Conv(head) => SaliencyHead::Conv(head.with_engine(engine)),
            readout => readout,
        }
    }

    /// `inputs`: the encoder outputs of [`SaliencyHeadConfig::inputs`], in that order.
    pub fn forward(&self, inputs: Vec<Features>, output_size: [usize; 2]) -> SaliencyOutput {
        match self {
            SaliencyHead::Conv(head) => SaliencyOutput {
                map: head.forward(inputs.first().expect("one input"), output_size),
                log_density: None,
            },
            SaliencyHead::Readout(head) => {
                let log_density = head.forward(channels_last::tensors(&inputs));
                let map = record(OpKind::Upsampling, 0, || {
                    let [batch, _, _, _] = log_density.dims();
                    let density = bilinear(log_density.clone().exp(), output_size);
                    let peak = density
                        .clone()
                        .reshape([batch, output_size[0] * output_size[1]]);
                    density / peak.max_dim(1).reshape([batch, 1, 1, 1])
                });
                SaliencyOutput {
                    map,
                    log_density: Some(log_density),
                }
            }
        }
    }
}
