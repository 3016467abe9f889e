//! The saliency head of ABSNet: 7×7 convolutions 32 → 8 → 1 with ReLU between, a sigmoid, and
//! bilinear upsampling (half-pixel centres, PyTorch's `align_corners=False`) back to the exact
//! input size, whatever it is.

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::HeadInput;
use crate::ModelError;
use crate::layers::{Activation, Conv, ConvNorm, ConvSpec};

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
        Ok(())
    }
}

#[derive(Module, Debug)]
pub struct SaliencyHead {
    pub convs: Vec<ConvNorm>,
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
        Self { convs }
    }

    /// Saliency logits at feature resolution, `[batch, 1, h, w]`.
    pub fn logits(&self, features: Tensor<4>) -> Tensor<4> {
        self.convs.iter().fold(features, |x, conv| conv.forward(x))
    }

    /// Saliency map in (0, 1) at `output_size = [height, width]`.
    pub fn forward(&self, features: Tensor<4>, output_size: [usize; 2]) -> Tensor<4> {
        let map = sigmoid(self.logits(features));
        let options = InterpolateOptions {
            mode: InterpolateMode::Bilinear,
            align_corners: false,
            output_size: Some(output_size),
            scale_factor: None,
        };
        interpolate(map, options)
    }
}
