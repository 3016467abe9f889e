//! The saliency head of ABSNet: 7×7 convolutions 32 → 8 → 1 with ReLU between, a sigmoid, and
//! bilinear upsampling (half-pixel centres, PyTorch's `align_corners=False`) back to the exact
//! input size, whatever it is — written as two matrix products, so that it has a backward pass
//! on every backend (burn's GPU backends have no bilinear interpolation backward). Optionally, a learned centre-bias prior: a coarse grid of logits,
//! stretched over the feature map and added before the sigmoid, which learns where people look
//! whatever the image shows (as the learned priors of ML-Net and SAM, Cornia et al. 2016, 2018).

use burn::module::{Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::HeadInput;
use crate::ModelError;
use crate::layers::{Activation, Conv, ConvNorm, ConvSpec};
use crate::profile::{OpKind, record};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaliencyHeadConfig {
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

impl Default for SaliencyHeadConfig {
    fn default() -> Self {
        Self {
            input: HeadInput::Neck,
            widths: default_widths(),
            kernel: default_kernel(),
            prior: None,
        }
    }
}

impl SaliencyHeadConfig {
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
pub struct SaliencyHead {
    pub convs: Vec<ConvNorm>,
    /// Centre-bias logits `[1, 1, rows, columns]`, starting at 0 (no preference).
    pub prior: Option<Param<Tensor<4>>>,
}

impl SaliencyHead {
    pub fn new(config: &SaliencyHeadConfig, in_channels: usize, device: &Device) -> Self {
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
        Self { convs, prior }
    }

    /// Saliency logits at feature resolution, `[batch, 1, h, w]`, the prior added.
    pub fn logits(&self, features: Tensor<4>) -> Tensor<4> {
        let logits = self.convs.iter().fold(features, |x, conv| conv.forward(x));
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
    pub fn forward(&self, features: Tensor<4>, output_size: [usize; 2]) -> Tensor<4> {
        let logits = self.logits(features);
        let probabilities = record(OpKind::Elementwise, 0, || sigmoid(logits));
        record(OpKind::Upsampling, 0, || {
            bilinear(probabilities, output_size)
        })
    }
}

/// `x` resized to `[height, width]` by bilinear interpolation with half-pixel centres
/// (`align_corners=False`, no antialiasing): `A_h · x · A_wᵀ` for every channel.
fn bilinear(x: Tensor<4>, [height, width]: [usize; 2]) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let device = x.device();
    let n = batch * channels;
    // Columns: [n·h, w] · [w, width].
    let x = x
        .reshape([n * h, w])
        .matmul(weights(w, width, &device).transpose());
    // Rows: [n·width, h] · [h, height].
    let x = x
        .reshape([n, h, width])
        .swap_dims(1, 2)
        .reshape([n * width, h])
        .matmul(weights(h, height, &device).transpose());
    x.reshape([n, width, height])
        .swap_dims(1, 2)
        .reshape([batch, channels, height, width])
}

/// The `[output, input]` matrix of 1-D linear interpolation from `input` to `output` samples
/// with half-pixel centres: output `i` reads the source position `(i + ½)·input/output − ½`,
/// clamped at 0, from its two neighbours.
fn weights(input: usize, output: usize, device: &Device) -> Tensor<2> {
    let mut matrix = vec![0.0f32; output * input];
    let scale = input as f64 / output as f64;
    for (i, row) in matrix.chunks_exact_mut(input).enumerate() {
        let source = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
        let left = (source.floor() as usize).min(input - 1);
        let right = (left + 1).min(input - 1);
        let fraction = (source - left as f64) as f32;
        row[left] += 1.0 - fraction;
        row[right] += fraction;
    }
    Tensor::from_data(TensorData::new(matrix, [output, input]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn::tensor::module::interpolate;
    use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

    #[test]
    fn matrix_bilinear_is_burns_bilinear_interpolation() {
        let device = Device::flex();
        for ([h, w], size) in [
            ([5, 7], [40, 56]),
            ([6, 8], [13, 9]),
            ([3, 4], [3, 4]),
            ([1, 1], [4, 2]),
        ] {
            let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
            let want = interpolate(
                x.clone(),
                InterpolateOptions {
                    mode: InterpolateMode::Bilinear,
                    align_corners: false,
                    output_size: Some(size),
                    scale_factor: None,
                },
            );
            let got = bilinear(x, size);
            let diff = (got - want).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-5, "{h}×{w} → {size:?}: max |Δ| = {diff}");
        }
    }
}
