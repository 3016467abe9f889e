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

pub use efficientnet_lite::{EFFICIENTNET_LITE0, EFFICIENTNET_LITE1, EFFICIENTNET_LITE2};
pub use mobile::{MobileNet, MobileSpec, Stage};
pub use mobilenet_v2::MOBILENET_V2;
pub use resnet::{Bottleneck, ResNet};
pub use vgg::{Vgg, VggBlock};

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::channels_last::{self, Engine, Features};
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

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What every backbone provides, implemented in each backbone's own file.
pub trait Network {
    /// Channels of each tap, `[c2, c3, c4, c5]`.
    fn tap_channels(&self) -> [usize; 4];
    /// Runs up to the tap `deepest`, handing every tap's features to `keep` on the way. `x` is
    /// the input image, or with `after = Some(tap)` that tap's features: the layers up to it are
    /// skipped and only deeper taps are handed on.
    fn forward_taps(
        &self,
        x: Tensor<4>,
        after: Option<Tap>,
        deepest: Tap,
        keep: &mut dyn FnMut(Tap, Features),
    );
    /// ImageNet logits `[batch, 1000]` from the `c5` features; `None` without a classifier.
    fn classify(&self, c5: Tensor<4>) -> Option<Tensor<2>>;
    /// Upstream (PyTorch) tensor names → this backbone's parameter paths.
    fn name_table(&self, table: &mut NameTable);
    /// Every BatchNorm folded into its convolution, for inference (on the default [`Engine`]).
    fn fold_norms(self) -> Self
    where
        Self: Sized;
    /// The convolutions an inference forward on Flex runs; backbones without channels-last
    /// layers always run Flex's.
    fn with_engine(self, _engine: Engine) -> Self
    where
        Self: Sized,
    {
        self
    }
}

/// The backbones, one line each: the config's `arch` (and its name), the module, the input
/// normalisation its upstream weights were trained with, and how it is built. Adding a backbone
/// is its file and one line here.
macro_rules! backbones {
    ($($arch:ident $name:literal: $module:ident, $normalization:expr, $build:expr;)+) => {
        /// Supported backbone architectures.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Arch {
            $(#[serde(rename = $name)] $arch,)+
        }

        impl Arch {
            pub const ALL: &[Arch] = &[$(Arch::$arch),+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Arch::$arch => $name,)+
                }
            }

            /// Input normalisation the upstream weights were trained with.
            pub fn normalization(self) -> Normalization {
                match self {
                    $(Arch::$arch => $normalization,)+
                }
            }
        }

        /// One of the supported backbones.
        #[derive(Module, Debug)]
        pub enum Backbone {
            $($arch($module),)+
        }

        impl Backbone {
            pub fn new(config: &BackboneConfig, device: &Device) -> Result<Self, ModelError> {
                config.validate()?;
                let build: fn(&BackboneConfig, &Device) -> Backbone = match config.arch {
                    $(Arch::$arch => |config, device| Backbone::$arch($build(config, device)),)+
                };
                Ok(build(config, device))
            }

            pub fn arch(&self) -> Arch {
                match self {
                    $(Backbone::$arch(_) => Arch::$arch,)+
                }
            }

            fn network(&self) -> &dyn Network {
                match self {
                    $(Backbone::$arch(network) => network,)+
                }
            }

            /// Folds every BatchNorm into its convolution for inference.
            pub fn fold_norms(self) -> Self {
                match self {
                    $(Backbone::$arch(network) => Backbone::$arch(network.fold_norms()),)+
                }
            }

            /// The convolutions an inference forward on Flex runs ([`Network::with_engine`]).
            pub fn with_engine(self, engine: Engine) -> Self {
                match self {
                    $(Backbone::$arch(network) => Backbone::$arch(network.with_engine(engine)),)+
                }
            }
        }
    };
}

backbones! {
    MobilenetV2 "mobilenet_v2": MobileNet, Normalization::ImageNet, |c, d| MobileNet::new(&MOBILENET_V2, c, d);
    EfficientnetLite0 "efficientnet_lite0": MobileNet, Normalization::EfficientNetLite, |c, d| MobileNet::new(&EFFICIENTNET_LITE0, c, d);
    EfficientnetLite1 "efficientnet_lite1": MobileNet, Normalization::EfficientNetLite, |c, d| MobileNet::new(&EFFICIENTNET_LITE1, c, d);
    EfficientnetLite2 "efficientnet_lite2": MobileNet, Normalization::EfficientNetLite, |c, d| MobileNet::new(&EFFICIENTNET_LITE2, c, d);
    Resnet50 "resnet50": ResNet, Normalization::ImageNet, ResNet::resnet50;
    Vgg16 "vgg16": Vgg, Normalization::ImageNet, Vgg::vgg16;
}

impl std::str::FromStr for Arch {
    type Err = ModelError;
    fn from_str(name: &str) -> Result<Self, ModelError> {
        Arch::ALL
            .iter()
            .copied()
            .find(|arch| arch.name() == name)
            .ok_or_else(|| ModelError::UnknownArch {
                name: name.to_string(),
                known: Arch::ALL
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", "),
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
    /// Architecture: `mobilenet_v2`, `efficientnet_lite0`, `efficientnet_lite1`,
    /// `efficientnet_lite2`, `resnet50` or `vgg16`.
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

impl Backbone {
    /// Channels of each tap, `[c2, c3, c4, c5]`.
    pub fn tap_channels(&self) -> [usize; 4] {
        self.network().tap_channels()
    }

    /// Runs the backbone up to the deepest requested tap and returns the requested taps in the
    /// order asked.
    pub fn forward_taps(&self, x: Tensor<4>, taps: &[Tap]) -> Vec<Tensor<4>> {
        self.forward_taps_after(x, None, taps)
    }

    /// Like [`Backbone::forward_taps`], from the features of tap `after` (with `Some`) instead
    /// of the image: only the layers past it run. `taps` may hold `after` itself (handed back
    /// as it came) and deeper taps.
    pub fn forward_taps_after(
        &self,
        x: Tensor<4>,
        after: Option<Tap>,
        taps: &[Tap],
    ) -> Vec<Tensor<4>> {
        channels_last::tensors(&self.features_after(x.into(), after, taps))
    }

    /// [`Backbone::forward_taps_after`] as [`Features`]: on the channels-last path, the taps
    /// stay channels-last until something asks for their tensors.
    pub fn features_after(&self, x: Features, after: Option<Tap>, taps: &[Tap]) -> Vec<Features> {
        let deepest = taps.iter().copied().max().unwrap_or(Tap::C5);
        let mut all: [Option<Features>; 4] = Default::default();
        if let Some(after) = after {
            assert!(
                taps.iter().all(|&t| t >= after),
                "taps {taps:?} lie before {after:?}"
            );
            all[after.index()] = Some(x.clone());
        }
        if after.is_none_or(|a| a < deepest) {
            self.network()
                .forward_taps(x.tensor(), after, deepest, &mut |tap, features| {
                    if taps.contains(&tap) {
                        all[tap.index()] = Some(features);
                    }
                });
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
        self.network().classify(c5)
    }

    /// Upstream (PyTorch) tensor name → this backbone's parameter path, prefixed by `prefix`.
    pub fn name_table(&self, prefix: &str) -> NameTable {
        let mut table = NameTable::new(prefix);
        self.network().name_table(&mut table);
        table
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
