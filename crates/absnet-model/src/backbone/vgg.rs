//! VGG16 (Simonyan & Zisserman 2015, configuration D, no BatchNorm) in torchvision's layout:
//! `features.{0,2,5,7,10,12,14,17,19,21,24,26,28}` 3×3 convs with bias, max-pools at
//! `features.{4,9,16,23,30}`, `classifier.{0,3,6}` after a 7×7 adaptive average pool.
//! Below output stride 32 a pool that would pass the target keeps its window but not its
//! stride (3×3, stride 1, padding 1, as DeepLab-LargeFOV) and later convs are dilated.

use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::module::{adaptive_avg_pool2d, max_pool2d};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

use super::{BackboneConfig, Network, StrideSchedule, Tap};
use crate::NameTable;
use crate::channels_last::Features;
use crate::layers::{Activation, ConvNorm, ConvSpec, Linear};
use crate::profile::{OpKind, record};

/// Output channels of the convolutions in each of the five pooled blocks.
const BLOCKS: [&[usize]; 5] = [
    &[64, 64],
    &[128, 128],
    &[256, 256, 256],
    &[512, 512, 512],
    &[512, 512, 512],
];

/// A run of 3×3 convs followed by a max-pool.
#[derive(Module, Debug)]
pub struct VggBlock {
    pub convs: Vec<ConvNorm>,
    /// Pool stride: 2, or 1 once the output stride is reached.
    #[module(skip)]
    pub pool_stride: usize,
}

impl VggBlock {
    fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for conv in &self.convs {
            x = conv.forward(x);
        }
        let options = if self.pool_stride == 2 {
            MaxPoolOptions::new([2, 2])
        } else {
            MaxPoolOptions::new([3, 3])
                .with_stride([1, 1])
                .with_padding([1, 1])
        };
        record(OpKind::PoolingAndLinear, 0, || max_pool2d(x, options))
    }
}

#[derive(Module, Debug)]
pub struct Vgg {
    pub blocks: Vec<VggBlock>,
    /// torchvision's `classifier.0`, `.3`, `.6` (dropout is inference-time identity).
    pub classifier: Option<Vec<Linear>>,
}

impl Vgg {
    pub fn vgg16(config: &BackboneConfig, device: &Device) -> Self {
        let mut schedule = StrideSchedule::new(config.output_stride);
        let mut dilation = 1;
        let mut input = 3;
        let mut blocks = Vec::new();
        for widths in BLOCKS {
            let convs = widths
                .iter()
                .map(|&output| {
                    let conv = ConvNorm {
                        conv: crate::layers::Conv::new(
                            ConvSpec::new(input, output, 3)
                                .dilation(dilation)
                                .bias(true),
                            device,
                        ),
                        norm: None,
                        activation: Activation::Relu,
                    };
                    input = output;
                    conv
                })
                .collect();
            let strides = schedule.stage(2);
            dilation = strides.dilation;
            blocks.push(VggBlock {
                convs,
                pool_stride: strides.stride,
            });
        }
        let classifier = config.classifier.then(|| {
            vec![
                Linear::new(512 * 7 * 7, 4096, device),
                Linear::new(4096, 4096, device),
                Linear::new(4096, 1000, device),
            ]
        });
        Self { blocks, classifier }
    }
}

impl Network for Vgg {
    fn tap_channels(&self) -> [usize; 4] {
        [128, 256, 512, 512]
    }

    /// Taps are taken after the pools of blocks 2–5 (nominal strides 4, 8, 16, 32).
    fn forward_taps(
        &self,
        mut x: Tensor<4>,
        after: Option<Tap>,
        deepest: Tap,
        keep: &mut dyn FnMut(Tap, Features),
    ) {
        if after.is_none() {
            x = self.blocks[0].forward(x);
        }
        let blocks = Tap::ALL.into_iter().zip(&self.blocks[1..]);
        for (tap, block) in blocks.filter(|(tap, _)| after.is_none_or(|a| *tap > a)) {
            x = block.forward(x);
            keep(tap, Features::from(x.clone()));
            if tap == deepest {
                return;
            }
        }
    }

    /// ImageNet logits from the `c5` features: 7×7 adaptive average pool, then three linears.
    fn classify(&self, c5: Tensor<4>) -> Option<Tensor<2>> {
        let classifier = self.classifier.as_ref()?;
        let mut x = adaptive_avg_pool2d(c5, [7, 7]).flatten(1, 3);
        for (i, linear) in classifier.iter().enumerate() {
            x = linear.forward(x);
            if i + 1 < classifier.len() {
                x = relu(x);
            }
        }
        Some(x)
    }

    fn name_table(&self, table: &mut NameTable) {
        // torchvision numbers every conv, ReLU and pool in one `features` Sequential.
        let mut index = 0;
        for (b, block) in self.blocks.iter().enumerate() {
            for (c, conv) in block.convs.iter().enumerate() {
                table.conv_norm(
                    &format!("features.{index}"),
                    "",
                    &format!("blocks.{b}.convs.{c}"),
                    conv,
                );
                index += 2;
            }
            index += 1;
        }
        for (i, torch) in ["classifier.0", "classifier.3", "classifier.6"]
            .into_iter()
            .enumerate()
        {
            table.linear(torch, &format!("classifier.{i}"));
        }
    }

    /// VGG16 has no BatchNorm to fold.
    fn fold_norms(self) -> Self {
        self
    }
}
