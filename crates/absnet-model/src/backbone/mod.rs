//! ImageNet backbones with named feature taps and a configurable output stride.
//!
//! Every backbone exposes taps at four depths, named as in FPN: `c2` (nominal stride 4), `c3`
//! (8), `c4` (16) and `c5` (32, the last feature map). With an output stride below 32 the deep
//! stages trade their stride for dilation (torchvision's `replace_stride_with_dilation`), so the
//! deeper taps keep the spatial size of the last undilated stage. A head picks the depth that suits
//! its task: low-level saliency may read `c3`, semantic aesthetics `c5`.

mod efficientnet_lite;
mod mobile;
mod mobilenet_v2;
mod resnet;
mod vgg;

pub use efficientnet_lite::EFFICIENTNET_LITE0;
pub use mobile::{MobileNet, MobileSpec, Stage};
pub use mobilenet_v2::MOBILENET_V2;
pub use resnet::{Bottleneck, ResNet};
pub use vgg::{Vgg, VggBlock};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::preprocess::Normalization;
use crate::{ModelError, NameTable};

/// A feature tap: the output of the last layer at a nominal stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tap {
    C2,
    C3,
    C4,
    C5,
}

impl Tap {
    pub const ALL: [Tap; 4] = [Tap::C2, Tap::C3, Tap::C4, Tap::C5];

    /// Nominal stride (before any dilation) of this depth.
    pub fn nominal_stride(self) -> usize {
        match self {
            Tap::C2 => 4,
            Tap::C3 => 8,
            Tap::C4 => 16,
            Tap::C5 => 32,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Supported backbone architectures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    MobilenetV2,
    EfficientnetLite0,
    Resnet50,
    Vgg16,
}

impl Arch {
    pub const ALL: [Arch; 4] = [
        Arch::MobilenetV2,
        Arch::EfficientnetLite0,
        Arch::Resnet50,
        Arch::Vgg16,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Arch::MobilenetV2 => "mobilenet_v2",
            Arch::EfficientnetLite0 => "efficientnet_lite0",
            Arch::Resnet50 => "resnet50",
            Arch::Vgg16 => "vgg16",
        }
    }

    /// Input normalisation the upstream weights were trained with.
    pub fn normalization(self) -> Normalization {
        match self {
            Arch::EfficientnetLite0 => Normalization::EfficientNetLite,
            _ => Normalization::ImageNet,
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = ModelError;
    fn from_str(name: &str) -> Result<Self, ModelError> {
        Arch::ALL
            .into_iter()
            .find(|arch| arch.name() == name)
            .ok_or_else(|| ModelError::UnknownArch {
                name: name.to_string(),
                known: Arch::ALL.map(Arch::name).join(", "),
            })
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Backbone configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneConfig {
    /// Architecture: `mobilenet_v2`, `efficientnet_lite0`, `resnet50` or `vgg16`.
    pub arch: Arch,
    /// Output stride of the last feature map: 8, 16 or 32.
    #[serde(default = "default_output_stride")]
    pub output_stride: usize,
    /// Keep the ImageNet classifier (only needed to check imported weights).
    #[serde(default)]
    pub classifier: bool,
}

fn default_output_stride() -> usize {
    8
}

impl BackboneConfig {
    pub fn new(arch: Arch) -> Self {
        Self {
            arch,
            output_stride: default_output_stride(),
            classifier: false,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        if ![8, 16, 32].contains(&self.output_stride) {
            return Err(ModelError::Config(format!(
                "backbone.output_stride = {}: expected 8, 16 or 32",
                self.output_stride
            )));
        }
        Ok(())
    }
}

/// Turns stride-2 stages into dilated stride-1 stages once the output stride is reached, as
/// torchvision's ResNet `_make_layer(dilate=True)`: the first block of a dilated stage keeps the
/// previous dilation, the following blocks use the new one.
pub(crate) struct StrideSchedule {
    output_stride: usize,
    stride: usize,
    dilation: usize,
}

/// Stride and dilations of one stage.
pub(crate) struct StageStride {
    pub stride: usize,
    pub first_dilation: usize,
    pub dilation: usize,
}

impl StrideSchedule {
    pub fn new(output_stride: usize) -> Self {
        Self {
            output_stride,
            stride: 1,
            dilation: 1,
        }
    }

    pub fn stage(&mut self, stride: usize) -> StageStride {
        let first_dilation = self.dilation;
        if self.stride * stride > self.output_stride {
            self.dilation *= stride;
            StageStride {
                stride: 1,
                first_dilation,
                dilation: self.dilation,
            }
        } else {
            self.stride *= stride;
            StageStride {
                stride,
                first_dilation,
                dilation: self.dilation,
            }
        }
    }
}

/// One of the supported backbones.
#[derive(Module, Debug)]
pub enum Backbone {
    MobilenetV2(MobileNet),
    EfficientnetLite0(MobileNet),
    Resnet50(ResNet),
    Vgg16(Vgg),
}

impl Backbone {
    pub fn new(config: &BackboneConfig, device: &Device) -> Result<Self, ModelError> {
        config.validate()?;
        Ok(match config.arch {
            Arch::MobilenetV2 => {
                Backbone::MobilenetV2(MobileNet::new(&MOBILENET_V2, config, device))
            }
            Arch::EfficientnetLite0 => {
                Backbone::EfficientnetLite0(MobileNet::new(&EFFICIENTNET_LITE0, config, device))
            }
            Arch::Resnet50 => Backbone::Resnet50(ResNet::resnet50(config, device)),
            Arch::Vgg16 => Backbone::Vgg16(Vgg::vgg16(config, device)),
        })
    }

    pub fn arch(&self) -> Arch {
        match self {
            Backbone::MobilenetV2(_) => Arch::MobilenetV2,
            Backbone::EfficientnetLite0(_) => Arch::EfficientnetLite0,
            Backbone::Resnet50(_) => Arch::Resnet50,
            Backbone::Vgg16(_) => Arch::Vgg16,
        }
    }

    /// Channels of each tap, `[c2, c3, c4, c5]`.
    pub fn tap_channels(&self) -> [usize; 4] {
        match self {
            Backbone::MobilenetV2(m) | Backbone::EfficientnetLite0(m) => m.tap_channels(),
            Backbone::Resnet50(m) => m.tap_channels(),
            Backbone::Vgg16(m) => m.tap_channels(),
        }
    }

    /// Runs the backbone up to the deepest requested tap and returns the requested taps in the
    /// order asked.
    pub fn forward_taps(&self, x: Tensor<4>, taps: &[Tap]) -> Vec<Tensor<4>> {
        let deepest = taps.iter().copied().max().unwrap_or(Tap::C5);
        let mut all: [Option<Tensor<4>>; 4] = Default::default();
        let mut keep = |tap: Tap, t: &Tensor<4>| {
            if taps.contains(&tap) {
                all[tap.index()] = Some(t.clone());
            }
        };
        match self {
            Backbone::MobilenetV2(m) | Backbone::EfficientnetLite0(m) => {
                m.forward_taps(x, deepest, &mut keep)
            }
            Backbone::Resnet50(m) => m.forward_taps(x, deepest, &mut keep),
            Backbone::Vgg16(m) => m.forward_taps(x, deepest, &mut keep),
        }
        taps.iter()
            .map(|tap| {
                all[tap.index()]
                    .clone()
                    .expect("every requested tap is recorded")
            })
            .collect()
    }

    /// ImageNet logits `[batch, 1000]`; `None` without a classifier.
    pub fn classify(&self, x: Tensor<4>) -> Option<Tensor<2>> {
        let c5 = self.forward_taps(x, &[Tap::C5]).pop()?;
        match self {
            Backbone::MobilenetV2(m) | Backbone::EfficientnetLite0(m) => m.classify(c5),
            Backbone::Resnet50(m) => m.classify(c5),
            Backbone::Vgg16(m) => m.classify(c5),
        }
    }

    /// Upstream (PyTorch) tensor name → this backbone's parameter path, prefixed by `prefix`.
    pub fn name_table(&self, prefix: &str) -> NameTable {
        let mut table = NameTable::new(prefix);
        match self {
            Backbone::MobilenetV2(m) | Backbone::EfficientnetLite0(m) => m.name_table(&mut table),
            Backbone::Resnet50(m) => m.name_table(&mut table),
            Backbone::Vgg16(m) => m.name_table(&mut table),
        }
        table
    }

    /// Folds every BatchNorm into its convolution for inference.
    pub fn fold_norms(self) -> Self {
        match self {
            Backbone::MobilenetV2(m) => Backbone::MobilenetV2(m.fold_norms()),
            Backbone::EfficientnetLite0(m) => Backbone::EfficientnetLite0(m.fold_norms()),
            Backbone::Resnet50(m) => Backbone::Resnet50(m.fold_norms()),
            Backbone::Vgg16(m) => Backbone::Vgg16(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stride_schedule_matches_torchvision_dilation() {
        // ResNet at output stride 8: stem+pool = 4, layer2 stride 2, layer3/4 dilated 2 and 4.
        let mut s = StrideSchedule::new(8);
        s.stage(4);
        let l1 = s.stage(1);
        let l2 = s.stage(2);
        let l3 = s.stage(2);
        let l4 = s.stage(2);
        assert_eq!((l1.stride, l1.dilation), (1, 1));
        assert_eq!((l2.stride, l2.dilation), (2, 1));
        assert_eq!((l3.stride, l3.first_dilation, l3.dilation), (1, 1, 2));
        assert_eq!((l4.stride, l4.first_dilation, l4.dilation), (1, 2, 4));
    }

    #[test]
    fn unknown_arch_lists_the_known_ones() {
        let err = "resnet18".parse::<Arch>().unwrap_err().to_string();
        assert!(
            err.contains("resnet18") && err.contains("mobilenet_v2"),
            "{err}"
        );
    }
}
