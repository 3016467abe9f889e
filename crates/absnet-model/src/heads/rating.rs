//! The image-rating head, one module for every image-level rating task (aesthetics on AVA,
//! quality on LIVE-C): the ABSNet paper's aesthetics head (the released code wires it to the
//! wrong tensor) — spatial pyramid pooling over levels [1, 2, 4] → L2 normalisation → FC 128 +
//! ReLU → FC 10 + softmax, a distribution over 10 score bins, trained with EMD (r = 2). It can
//! read several encoder depths: each is pooled and L2-normalised on its own, then concatenated.

use absnet_engine::FeatureMap;
use burn::module::Module;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{Head, HeadInput};
use crate::ModelError;
use crate::backbone::Tap;
use crate::channels_last::{self, Features};
use crate::layers::Linear;
use crate::profile::{OpKind, record};

/// Pooling inside each pyramid bin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PyramidPooling {
    /// Max over the bin, as He et al.'s SPP-net.
    Max,
    Avg,
    /// Mean and standard deviation over the bin (the statistics quality models pool: blur
    /// and noise change a feature's spread more than its peak).
    AvgStd,
}

impl PyramidPooling {
    /// Values pooled per channel and bin.
    fn values(self) -> usize {
        match self {
            PyramidPooling::AvgStd => 2,
            _ => 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingHeadConfig {
    /// The encoder output it reads (one depth).
    #[serde(default)]
    pub input: HeadInput,
    /// Several backbone depths instead of `input` (`["c2", "c3", "c4", "c5"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taps: Vec<Tap>,
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

impl Default for RatingHeadConfig {
    fn default() -> Self {
        Self {
            input: HeadInput::Neck,
            taps: Vec::new(),
            levels: default_levels(),
            pooling: default_pooling(),
            hidden: default_hidden(),
            bins: default_bins(),
        }
    }
}

impl RatingHeadConfig {
    /// The encoder outputs it reads, in order.
    pub fn inputs(&self) -> Vec<HeadInput> {
        if self.taps.is_empty() {
            vec![self.input]
        } else {
            self.taps.iter().map(|&t| t.into()).collect()
        }
    }

    /// `head` names the section in messages (`heads.quality`).
    pub fn validate(&self, head: Head) -> Result<(), ModelError> {
        if self.levels.is_empty() || self.levels.contains(&0) || self.hidden == 0 || self.bins < 2 {
            return Err(ModelError::Config(format!(
                "heads.{head}: levels = {:?}, hidden = {}, bins = {}: expected non-empty \
                 levels > 0, hidden > 0 and at least 2 bins",
                self.levels, self.hidden, self.bins
            )));
        }
        let mut taps = self.taps.clone();
        taps.sort();
        taps.dedup();
        if taps.len() != self.taps.len() {
            return Err(ModelError::Config(format!(
                "heads.{head}.taps = {:?}: a depth is named twice",
                self.taps
            )));
        }
        Ok(())
    }
}

#[derive(Module, Debug)]
pub struct RatingHead {
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

impl RatingHead {
    /// `in_channels`: the channels of each input, in [`RatingHeadConfig::inputs`]' order.
    pub fn new(config: &RatingHeadConfig, in_channels: &[usize], device: &Device) -> Self {
        let cells: usize = config.levels.iter().map(|n| n * n).sum();
        let features = in_channels.iter().sum::<usize>() * cells * config.pooling.values();
        Self {
            fc1: Linear::new(features, config.hidden, device),
            fc2: Linear::new(config.hidden, config.bins, device),
            levels: config.levels.clone(),
            pooling: config.pooling,
        }
    }

    /// `[batch, values · Σ n²]`: level after level, each flattened as `[values, n, n]`
    /// (PyTorch's `pooled.view(batch, -1)`); values are the channels, or their means then
    /// their standard deviations for `avg_std`.
    pub fn pyramid(&self, x: Tensor<4>) -> Tensor<2> {
        let [batch, channels, h, w] = x.dims();
        let levels = self
            .levels
            .iter()
            .map(|&n| {
                let pooled = match self.pooling {
                    PyramidPooling::Avg => adaptive_avg_pool2d(x.clone(), [n, n]),
                    PyramidPooling::AvgStd => {
                        let mean = adaptive_avg_pool2d(x.clone(), [n, n]);
                        let square = adaptive_avg_pool2d(x.clone().powi_scalar(2), [n, n]);
                        let std = (square - mean.clone().powi_scalar(2))
                            .clamp_min(0.0)
                            .add_scalar(1e-6)
                            .sqrt();
                        Tensor::cat(vec![mean, std], 1)
                    }
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
                let values = pooled.dims()[1];
                pooled.reshape([batch, values * n * n])
            })
            .collect();
        Tensor::cat(levels, 1)
    }

    /// Score distribution `[batch, bins]`, rows summing to 1, from the inputs in
    /// [`RatingHeadConfig::inputs`]' order.
    pub fn forward(&self, inputs: Vec<Tensor<4>>) -> Tensor<2> {
        let pooled = record(OpKind::PoolingAndLinear, 0, || {
            let parts = inputs
                .into_iter()
                .map(|x| {
                    let pooled = self.pyramid(x);
                    let norm = pooled
                        .clone()
                        .powi_scalar(2)
                        .sum_dim(1)
                        .sqrt()
                        .clamp_min(1e-12);
                    pooled / norm
                })
                .collect();
            Tensor::cat(parts, 1)
        });
        self.classify(pooled)
    }

    /// [`Self::forward`] on encoder features: when every input is a channels-last map (an
    /// inference forward on the channels-last engine) the pyramid is pooled straight from the
    /// maps, one pass per level, instead of converting them to tensors and pooling bin by bin.
    pub fn forward_features(&self, inputs: &[Features]) -> Tensor<2> {
        let maps: Option<Vec<&FeatureMap>> =
            inputs.iter().map(Features::channels_last_map).collect();
        let Some(maps) = maps else {
            return self.forward(channels_last::tensors(inputs));
        };
        let pooled = record(OpKind::PoolingAndLinear, 0, || {
            let batch = maps.first().map_or(0, |m| m.batch);
            let parts: Vec<Vec<f32>> = maps
                .iter()
                .map(|map| pyramid_of_map(map, &self.levels, self.pooling))
                .collect();
            let per_image: usize = parts.iter().map(|p| p.len() / batch.max(1)).sum();
            let mut values = Vec::with_capacity(batch * per_image);
            for n in 0..batch {
                for part in &parts {
                    let len = part.len() / batch;
                    let start = values.len();
                    values.extend_from_slice(&part[n * len..(n + 1) * len]);
                    // Each input's values of each image L2-normalised on their own, as in
                    // `forward`.
                    let image = &mut values[start..];
                    let norm = image.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                    image.iter_mut().for_each(|v| *v /= norm);
                }
            }
            let device = inputs[0].device();
            Tensor::from_data(TensorData::new(values, [batch, per_image]), &device)
        });
        self.classify(pooled)
    }

    /// FC + ReLU, FC, softmax over the bins.
    fn classify(&self, pooled: Tensor<2>) -> Tensor<2> {
        let x = relu(self.fc1.forward(pooled));
        softmax(self.fc2.forward(x), 1)
    }
}

/// [`RatingHead::pyramid`] of a channels-last map, image after image: every level's values in
/// the tensor path's order (`[values, n, n]` flattened, level after level; for `avg_std` the
/// means of every channel, then their standard deviations), sums in f64.
fn pyramid_of_map(map: &FeatureMap, levels: &[usize], pooling: PyramidPooling) -> Vec<f32> {
    let (c, h, w) = (map.channels, map.height, map.width);
    let per_image: usize = levels.iter().map(|n| pooling.values() * c * n * n).sum();
    let mut out = Vec::with_capacity(map.batch * per_image);
    let (mut sum, mut square, mut max) = (vec![0f64; c], vec![0f64; c], vec![0f32; c]);
    for image in 0..map.batch {
        for &n in levels {
            let mut level = vec![0f32; pooling.values() * c * n * n];
            for i in 0..n {
                for j in 0..n {
                    let (rows, columns) = (bin(i, n, h), bin(j, n, w));
                    let count = (rows.len() * columns.len()) as f64;
                    sum.fill(0.0);
                    square.fill(0.0);
                    max.fill(f32::NEG_INFINITY);
                    for y in rows {
                        let row = map.row(image, y);
                        let pixels = row[columns.start * c..columns.end * c].chunks_exact(c);
                        // Only what the pooling needs, each a plain loop over the channels.
                        for pixel in pixels {
                            match pooling {
                                PyramidPooling::Max => {
                                    max.iter_mut().zip(pixel).for_each(|(m, &v)| *m = m.max(v))
                                }
                                PyramidPooling::Avg => {
                                    sum.iter_mut().zip(pixel).for_each(|(s, &v)| *s += v as f64)
                                }
                                PyramidPooling::AvgStd => {
                                    for ((s, q), &v) in sum.iter_mut().zip(&mut square).zip(pixel) {
                                        *s += v as f64;
                                        *q += v as f64 * v as f64;
                                    }
                                }
                            }
                        }
                    }
                    let cell = i * n + j;
                    for k in 0..c {
                        let mean = sum[k] / count;
                        level[k * n * n + cell] = match pooling {
                            PyramidPooling::Max => max[k],
                            PyramidPooling::Avg | PyramidPooling::AvgStd => mean as f32,
                        };
                        if pooling == PyramidPooling::AvgStd {
                            let variance = (square[k] / count - mean * mean).max(0.0);
                            level[(c + k) * n * n + cell] = (variance + 1e-6).sqrt() as f32;
                        }
                    }
                }
            }
            out.extend(level);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use burn::tensor::Distribution;

    use super::*;
    use crate::channels_last::to_feature_map;

    #[test]
    fn pooling_channels_last_maps_gives_the_tensor_path_s_distribution() {
        let device = Device::flex();
        // Two inputs of odd sizes, so the pyramid's bins overlap and differ in size.
        let inputs: Vec<Tensor<4>> = [[2, 5, 7, 9], [2, 3, 5, 6]]
            .into_iter()
            .map(|shape| Tensor::random(shape, Distribution::Normal(0.0, 1.0), &device))
            .collect();
        for pooling in [
            PyramidPooling::Max,
            PyramidPooling::Avg,
            PyramidPooling::AvgStd,
        ] {
            let config = RatingHeadConfig {
                levels: vec![1, 2, 4],
                pooling,
                ..RatingHeadConfig::default()
            };
            let head = RatingHead::new(&config, &[5, 3], &device);
            let expected = head.forward(inputs.clone());
            let features: Vec<Features> = inputs
                .iter()
                .map(|x| Features::channels_last(Arc::new(to_feature_map(x.clone())), &device))
                .collect();
            let got = head.forward_features(&features);
            let diff = (got - expected).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-6, "{pooling:?}: max |Δ| = {diff}");
        }
    }
}
