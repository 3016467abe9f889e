//! The body shared by MobileNetV2 and EfficientNet-Lite: a strided 3×3 stem, stages of inverted
//! residual blocks, a 1×1 head conv to 1280 channels and an optional ImageNet classifier. The
//! two architectures differ only in their [`MobileSpec`] and their upstream tensor names.

use std::sync::Arc;

use absnet_engine::FeatureMap;
use burn::module::Module;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

use super::{BackboneConfig, Network, StrideSchedule, Tap};
use crate::NameTable;
use crate::channels_last::{self, Engine, Features};
use crate::layers::{
    Activation, ConvNorm, ConvSpec, InvertedResidual, InvertedResidualSpec, Linear, Padding,
};

/// One stage: `repeats` blocks, the first with `stride`.
#[derive(Clone, Copy, Debug)]
pub struct Stage {
    pub kernel: usize,
    pub stride: usize,
    pub expansion: usize,
    pub channels: usize,
    pub repeats: usize,
}

/// Everything that distinguishes one mobile architecture from another.
#[derive(Debug)]
pub struct MobileSpec {
    pub stages: &'static [Stage],
    pub stem_channels: usize,
    pub head_channels: usize,
    pub eps: f64,
    pub padding: Padding,
    /// Index in `blocks` of the last block at nominal strides 4, 8 and 16 (taps c2, c3, c4).
    pub tap_blocks: [usize; 3],
    /// Upstream tensor names of `net`'s parameters.
    pub name_table: fn(net: &MobileNet, table: &mut NameTable),
}

#[derive(Module, Debug)]
pub struct MobileNet {
    pub stem: ConvNorm,
    pub blocks: Vec<InvertedResidual>,
    pub head: ConvNorm,
    pub classifier: Option<Linear>,
    #[module(skip)]
    pub spec: &'static MobileSpec,
    /// The same layers on absnet-engine, for inference on Flex ([`Engine::ChannelsLast`]); made
    /// from the weights when the norms are folded, so never out of date with them.
    #[module(skip)]
    pub channels_last: Option<Arc<ChannelsLastPlan>>,
}

impl MobileNet {
    pub fn new(spec: &'static MobileSpec, config: &BackboneConfig, device: &Device) -> Self {
        let mut schedule = StrideSchedule::new(config.output_stride);
        let stem = ConvNorm::new(
            ConvSpec::new(3, spec.stem_channels, 3)
                .stride(schedule.stage(2).stride)
                .padding(spec.padding),
            spec.eps,
            Activation::Relu6,
            device,
        );
        let mut blocks = Vec::new();
        let mut input = spec.stem_channels;
        for stage in spec.stages {
            let strides = schedule.stage(stage.stride);
            for i in 0..stage.repeats {
                let (stride, dilation) = if i == 0 {
                    (strides.stride, strides.first_dilation)
                } else {
                    (1, strides.dilation)
                };
                let block = InvertedResidualSpec {
                    input,
                    output: stage.channels,
                    kernel: stage.kernel,
                    expansion: stage.expansion,
                    stride,
                    dilation,
                    padding: spec.padding,
                    eps: spec.eps,
                };
                blocks.push(InvertedResidual::new(block, device));
                input = stage.channels;
            }
        }
        let head = ConvNorm::new(
            ConvSpec::new(input, spec.head_channels, 1).padding(spec.padding),
            spec.eps,
            Activation::Relu6,
            device,
        );
        let classifier = config
            .classifier
            .then(|| Linear::new(spec.head_channels, 1000, device));
        Self {
            stem,
            blocks,
            head,
            classifier,
            spec,
            channels_last: None,
        }
    }
}

impl Network for MobileNet {
    fn tap_channels(&self) -> [usize; 4] {
        let [c2, c3, c4] = self
            .spec
            .tap_blocks
            .map(|b| self.blocks[b].project.conv.spec.out_channels);
        [c2, c3, c4, self.spec.head_channels]
    }

    fn forward_taps(
        &self,
        x: Tensor<4>,
        after: Option<Tap>,
        deepest: Tap,
        keep: &mut dyn FnMut(Tap, Features),
    ) {
        // The first block past `after`'s (the 1×1 head conv alone past c4's last block).
        let first = match after {
            None => 0,
            Some(Tap::C5) => return,
            Some(tap) => self.spec.tap_blocks[tap.index()] + 1,
        };
        if let Some(plan) = &self.channels_last
            && channels_last::applies(&x)
        {
            return plan.forward_taps(x, first, after.is_none(), self.spec, deepest, keep);
        }
        let mut x = if after.is_none() {
            self.stem.forward(x)
        } else {
            x
        };
        for (i, block) in self.blocks.iter().enumerate().skip(first) {
            x = block.forward(x);
            if let Some(tap) = self.spec.tap_blocks.iter().position(|&b| b == i) {
                let tap = Tap::ALL[tap];
                keep(tap, Features::from(x.clone()));
                if tap == deepest {
                    return;
                }
            }
        }
        keep(Tap::C5, Features::from(self.head.forward(x)));
    }

    /// ImageNet logits from the `c5` features: global average pool, then the classifier.
    fn classify(&self, c5: Tensor<4>) -> Option<Tensor<2>> {
        let classifier = self.classifier.as_ref()?;
        Some(classifier.forward(adaptive_avg_pool2d(c5, [1, 1]).flatten(1, 3)))
    }

    fn name_table(&self, table: &mut NameTable) {
        (self.spec.name_table)(self, table)
    }

    fn fold_norms(self) -> Self {
        Self {
            stem: self.stem.fold_norm(),
            blocks: self
                .blocks
                .into_iter()
                .map(InvertedResidual::fold_norms)
                .collect(),
            head: self.head.fold_norm(),
            ..self
        }
        .with_engine(Engine::default())
    }

    fn with_engine(self, engine: Engine) -> Self {
        let channels_last = match engine {
            Engine::ChannelsLast => ChannelsLastPlan::new(&self).map(Arc::new),
            Engine::Flex => None,
        };
        Self {
            channels_last,
            ..self
        }
    }
}

/// [`MobileNet`]'s convolutions as absnet-engine layers.
#[derive(Debug)]
pub struct ChannelsLastPlan {
    stem: channels_last::Conv,
    blocks: Vec<ChannelsLastBlock>,
    head: channels_last::Conv,
}

#[derive(Debug)]
struct ChannelsLastBlock {
    expand: Option<channels_last::Conv>,
    depthwise: channels_last::Conv,
    project: channels_last::Conv,
    residual: bool,
}

impl ChannelsLastPlan {
    /// `None` when a layer has no engine counterpart.
    fn new(net: &MobileNet) -> Option<Self> {
        let conv = channels_last::Conv::new;
        let blocks = net
            .blocks
            .iter()
            .map(|b| {
                Some(ChannelsLastBlock {
                    expand: match &b.expand {
                        Some(expand) => Some(conv(expand)?),
                        None => None,
                    },
                    depthwise: conv(&b.depthwise)?,
                    project: conv(&b.project)?,
                    residual: b.residual,
                })
            })
            .collect::<Option<_>>()?;
        Some(Self {
            stem: conv(&net.stem)?,
            blocks,
            head: conv(&net.head)?,
        })
    }

    /// [`Network::forward_taps`] from block `first` on (the stem first when `from_image`).
    fn forward_taps(
        &self,
        x: Tensor<4>,
        first: usize,
        from_image: bool,
        spec: &MobileSpec,
        deepest: Tap,
        keep: &mut dyn FnMut(Tap, Features),
    ) {
        let device = x.device();
        let mut x = Arc::new(channels_last::to_feature_map(x));
        if from_image {
            x = Arc::new(self.stem.forward(&x, None));
        }
        for (i, block) in self.blocks.iter().enumerate().skip(first) {
            x = Arc::new(block.forward(&x));
            if let Some(tap) = spec.tap_blocks.iter().position(|&b| b == i) {
                let tap = Tap::ALL[tap];
                keep(tap, Features::channels_last(x.clone(), &device));
                if tap == deepest {
                    return;
                }
            }
        }
        let c5 = self.head.forward(&x, None);
        keep(Tap::C5, Features::channels_last(Arc::new(c5), &device));
    }
}

impl ChannelsLastBlock {
    fn forward(&self, x: &FeatureMap) -> FeatureMap {
        let expanded = self.expand.as_ref().map(|e| e.forward(x, None));
        let input = expanded.as_ref().unwrap_or(x);
        let residual = self.residual.then_some(x);
        channels_last::depthwise_separable(&self.depthwise, &self.project, input, residual)
            .unwrap_or_else(|| {
                let hidden = self.depthwise.forward(input, None);
                self.project.forward(&hidden, residual)
            })
    }
}
