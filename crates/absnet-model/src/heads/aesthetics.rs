//! The aesthetics head as the ABSNet paper describes it (the released code wires it to the
//! wrong tensor): spatial pyramid pooling over levels [1, 2, 4] → L2 normalisation → FC 128 +
//! ReLU → FC 10 + softmax, a distribution over the scores 1..10 (AVA, trained with EMD r = 2).

use burn::module::Module;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::HeadInput;
use crate::ModelError;
use crate::layers::Linear;
use crate::profile::{OpKind, record};

/// Pooling inside each pyramid bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PyramidPooling {
    /// Max over the bin, as He et al.'s SPP-net.
    Max,
    Avg,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AestheticsHeadConfig {
    #[serde(default)]
    pub input: HeadInput,
    /// Pyramid levels: level n pools an n×n grid of bins.
    #[serde(default = "default_levels")]
    pub levels: Vec<usize>,
    #[serde(default = "default_pooling")]
    pub pooling: PyramidPooling,
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Number of score bins.
    #[serde(default = "default_bins")]
    pub bins: usize,
}

fn default_levels() -> Vec<usize> {
    vec![1, 2, 4]
}
fn default_pooling() -> PyramidPooling {
    PyramidPooling::Max
}
fn default_hidden() -> usize {
    128
}
fn default_bins() -> usize {
    10
}

impl Default for AestheticsHeadConfig {
    fn default() -> Self {
        Self {
            input: HeadInput::Neck,
            levels: default_levels(),
            pooling: default_pooling(),
            hidden: default_hidden(),
            bins: default_bins(),
        }
    }
}

impl AestheticsHeadConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.levels.is_empty() || self.levels.contains(&0) || self.hidden == 0 || self.bins < 2 {
            return Err(ModelError::Config(format!(
                "heads.aesthetics: levels = {:?}, hidden = {}, bins = {}: expected non-empty \
                 levels > 0, hidden > 0 and at least 2 bins",
                self.levels, self.hidden, self.bins
            )));
        }
        Ok(())
    }
}

#[derive(Module, Debug)]
pub struct AestheticsHead {
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    pub levels: Vec<usize>,
    #[module(skip)]
    pub pooling: PyramidPooling,
}

/// Bin `i` of `n` over a length `len`: PyTorch's adaptive pooling bounds
/// `[floor(i·len/n), ceil((i+1)·len/n))`.
fn bin(i: usize, n: usize, len: usize) -> std::ops::Range<usize> {
    (i * len / n)..((i + 1) * len).div_ceil(n)
}

impl AestheticsHead {
    pub fn new(config: &AestheticsHeadConfig, in_channels: usize, device: &Device) -> Self {
        let cells: usize = config.levels.iter().map(|n| n * n).sum();
        Self {
            fc1: Linear::new(in_channels * cells, config.hidden, device),
            fc2: Linear::new(config.hidden, config.bins, device),
            levels: config.levels.clone(),
            pooling: config.pooling,
        }
    }

    /// `[batch, channels · Σ n²]`: level after level, each flattened as `[channels, n, n]`
    /// (PyTorch's `pooled.view(batch, -1)`).
    pub fn pyramid(&self, x: Tensor<4>) -> Tensor<2> {
        let [batch, channels, h, w] = x.dims();
        let levels = self
            .levels
            .iter()
            .map(|&n| {
                let pooled = match self.pooling {
                    PyramidPooling::Avg => adaptive_avg_pool2d(x.clone(), [n, n]),
                    PyramidPooling::Max => {
                        let rows = (0..n)
                            .map(|i| {
                                let cols = (0..n)
                                    .map(|j| {
                                        x.clone()
                                            .slice([
                                                0..batch,
                                                0..channels,
                                                bin(i, n, h),
                                                bin(j, n, w),
                                            ])
                                            .max_dim(2)
                                            .max_dim(3)
                                    })
                                    .collect();
                                Tensor::cat(cols, 3)
                            })
                            .collect();
                        Tensor::cat(rows, 2)
                    }
                };
                pooled.reshape([batch, channels * n * n])
            })
            .collect();
        Tensor::cat(levels, 1)
    }

    /// Score distribution `[batch, bins]`, rows summing to 1.
    pub fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        let pooled = record(OpKind::PoolingAndLinear, 0, || self.pyramid(features));
        let norm = pooled
            .clone()
            .powi_scalar(2)
            .sum_dim(1)
            .sqrt()
            .clamp_min(1e-12);
        let x = relu(self.fc1.forward(pooled / norm));
        softmax(self.fc2.forward(x), 1)
    }
}
