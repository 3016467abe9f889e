//! ResNet-50 (He et al. 2016) in torchvision's layout (`torchvision.models.resnet50`, v1.5:
//! stride on the 3×3 conv): `conv1`, `bn1`, `layer{1..4}.N.{conv1,bn1,conv2,bn2,conv3,bn3}`,
//! `layerK.0.downsample.{0,1}`, `fc`. With output stride 8 this is the reference ABSNet encoder
//! (layer3 dilation 2, layer4 dilation 4, as `replace_stride_with_dilation=[False, True, True]`).

use burn::module::Module;
use burn::tensor::module::{adaptive_avg_pool2d, max_pool2d};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

use super::{BackboneConfig, Network, StrideSchedule, Tap};
use crate::channels_last::Features;
use crate::layers::{Activation, ConvNorm, ConvSpec, Linear};
use crate::profile::{OpKind, record};
use crate::{NameTable, elementwise};

const BN_EPS: f64 = 1e-5;
const EXPANSION: usize = 4;

/// 1×1 reduce → 3×3 (strided, dilated) → 1×1 expand, plus the (projected) input.
#[derive(Module, Debug)]
pub struct Bottleneck {
    pub conv1: ConvNorm,
    pub conv2: ConvNorm,
    pub conv3: ConvNorm,
    pub downsample: Option<ConvNorm>,
}

impl Bottleneck {
    fn new(input: usize, planes: usize, stride: usize, dilation: usize, device: &Device) -> Self {
        let output = planes * EXPANSION;
        let downsample = (stride != 1 || input != output).then(|| {
            ConvNorm::new(
                ConvSpec::new(input, output, 1).stride(stride),
                BN_EPS,
                Activation::Identity,
                device,
            )
        });
        Self {
            conv1: ConvNorm::new(
                ConvSpec::new(input, planes, 1),
                BN_EPS,
                Activation::Relu,
                device,
            ),
            conv2: ConvNorm::new(
                ConvSpec::new(planes, planes, 3)
                    .stride(stride)
                    .dilation(dilation),
                BN_EPS,
                Activation::Relu,
                device,
            ),
            conv3: ConvNorm::new(
                ConvSpec::new(planes, output, 1),
                BN_EPS,
                Activation::Identity,
                device,
            ),
            downsample,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(downsample) => downsample.forward(x.clone()),
            None => x.clone(),
        };
        let y = self
            .conv3
            .forward(self.conv2.forward(self.conv1.forward(x)));
        record(OpKind::Elementwise, 0, || {
            elementwise::relu(elementwise::add(y, identity))
        })
    }

    fn fold_norms(self) -> Self {
        Self {
            conv1: self.conv1.fold_norm(),
            conv2: self.conv2.fold_norm(),
            conv3: self.conv3.fold_norm(),
            downsample: self.downsample.map(ConvNorm::fold_norm),
        }
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: ConvNorm,
    /// `layers[k]` is torchvision's `layer{k+1}`.
    pub layers: Vec<Vec<Bottleneck>>,
    pub classifier: Option<Linear>,
}

impl ResNet {
    /// ResNet-50: bottleneck stages of 3, 4, 6, 3 blocks.
    pub fn resnet50(config: &BackboneConfig, device: &Device) -> Self {
        Self::new(&[3, 4, 6, 3], config, device)
    }

    fn new(depths: &[usize; 4], config: &BackboneConfig, device: &Device) -> Self {
        let mut schedule = StrideSchedule::new(config.output_stride);
        schedule.stage(4); // conv1 (stride 2) and the max-pool (stride 2)
        let stem = ConvNorm::new(
            ConvSpec::new(3, 64, 7).stride(2),
            BN_EPS,
            Activation::Relu,
            device,
        );
        let mut input = 64;
        let mut layers = Vec::new();
        for (k, &depth) in depths.iter().enumerate() {
            let planes = 64 << k;
            let strides = schedule.stage(if k == 0 { 1 } else { 2 });
            let mut blocks = vec![Bottleneck::new(
                input,
                planes,
                strides.stride,
                strides.first_dilation,
                device,
            )];
            input = planes * EXPANSION;
            for _ in 1..depth {
                blocks.push(Bottleneck::new(input, planes, 1, strides.dilation, device));
            }
            layers.push(blocks);
        }
        let classifier = config.classifier.then(|| Linear::new(input, 1000, device));
        Self {
            stem,
            layers,
            classifier,
        }
    }
}

impl Network for ResNet {
    fn tap_channels(&self) -> [usize; 4] {
        [256, 512, 1024, 2048]
    }

    fn forward_taps(
        &self,
        x: Tensor<4>,
        after: Option<Tap>,
        deepest: Tap,
        keep: &mut dyn FnMut(Tap, Features),
    ) {
        let mut x = match after {
            Some(_) => x,
            None => {
                let x = self.stem.forward(x);
                let pool = MaxPoolOptions::new([3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1]);
                record(OpKind::PoolingAndLinear, 0, || max_pool2d(x, pool))
            }
        };
        let layers = Tap::ALL.into_iter().zip(&self.layers);
        for (tap, layer) in layers.filter(|(tap, _)| after.is_none_or(|a| *tap > a)) {
            for block in layer {
                x = block.forward(x);
            }
            keep(tap, Features::from(x.clone()));
            if tap == deepest {
                return;
            }
        }
    }

    /// ImageNet logits from the `c5` features: global average pool, then the classifier.
    fn classify(&self, c5: Tensor<4>) -> Option<Tensor<2>> {
        let classifier = self.classifier.as_ref()?;
        Some(classifier.forward(adaptive_avg_pool2d(c5, [1, 1]).flatten(1, 3)))
    }

    fn name_table(&self, table: &mut NameTable) {
        table.conv_norm("conv1", "bn1", "stem", &self.stem);
        for (k, layer) in self.layers.iter().enumerate() {
            for (i, block) in layer.iter().enumerate() {
                let torch = format!("layer{}.{i}", k + 1);
                let ours = format!("layers.{k}.{i}");
                for (n, conv) in [&block.conv1, &block.conv2, &block.conv3]
                    .into_iter()
                    .enumerate()
                {
                    table.conv_norm(
                        &format!("{torch}.conv{}", n + 1),
                        &format!("{torch}.bn{}", n + 1),
                        &format!("{ours}.conv{}", n + 1),
                        conv,
                    );
                }
                if let Some(downsample) = &block.downsample {
                    table.conv_norm(
                        &format!("{torch}.downsample.0"),
                        &format!("{torch}.downsample.1"),
                        &format!("{ours}.downsample"),
                        downsample,
                    );
                }
            }
        }
        table.linear("fc", "classifier");
    }

    fn fold_norms(self) -> Self {
        Self {
            stem: self.stem.fold_norm(),
            layers: self
                .layers
                .into_iter()
                .map(|layer| layer.into_iter().map(Bottleneck::fold_norms).collect())
                .collect(),
            classifier: self.classifier,
        }
    }
}
