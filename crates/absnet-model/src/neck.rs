//! ABSNet's multi-dilation module, the last part of the shared encoder: a 1×1 reduction, then
//! parallel 3×3 convolutions at several dilations (4, 8, 16 in the reference), each followed by
//! ReLU, summed. Wide receptive fields at output stride 8 without losing resolution.

use std::sync::Arc;

use absnet_engine::FeatureMap;
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::ModelError;
use crate::backbone::Tap;
use crate::channels_last::{self, Engine, Features};
use crate::elementwise;
use crate::layers::{Activation, Conv, ConvNorm, ConvSpec};
use crate::profile::{OpKind, record};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeckConfig {
    /// Backbone tap the neck reads.
    #[serde(default = "default_input")]
    pub input: Tap,
    /// Channels after the 1×1 reduction and of every dilated branch.
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// One 3×3 branch per dilation.
    #[serde(default = "default_dilations")]
    pub dilations: Vec<usize>,
}

fn default_input() -> Tap {
    Tap::C5
}
fn default_channels() -> usize {
    256
}
fn default_dilations() -> Vec<usize> {
    vec![4, 8, 16]
}

impl Default for NeckConfig {
    fn default() -> Self {
        Self {
            input: default_input(),
            channels: default_channels(),
            dilations: default_dilations(),
        }
    }
}

impl NeckConfig {
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.channels == 0 || self.dilations.is_empty() || self.dilations.contains(&0) {
            return Err(ModelError::Config(format!(
                "neck: channels = {} and dilations = {:?}: expected channels > 0 and at least one \
                 dilation, all > 0",
                self.channels, self.dilations
            )));
        }
        Ok(())
    }
}

fn relu_conv(spec: ConvSpec, device: &Device) -> ConvNorm {
    ConvNorm {
        conv: Conv::new(spec.bias(true), device),
        norm: None,
        activation: Activation::Relu,
    }
}

#[derive(Module, Debug)]
pub struct MultiDilation {
    pub reduce: ConvNorm,
    pub branches: Vec<ConvNorm>,
    /// `reduce` then `branches` on absnet-engine, for inference on Flex
    /// ([`Engine::ChannelsLast`]; made from the weights by [`MultiDilation::with_engine`]).
    #[module(skip)]
    pub(crate) channels_last: Option<Arc<Vec<channels_last::Conv>>>,
}

impl MultiDilation {
    pub fn new(config: &NeckConfig, in_channels: usize, device: &Device) -> Self {
        let c = config.channels;
        Self {
            reduce: relu_conv(ConvSpec::new(in_channels, c, 1), device),
            branches: config
                .dilations
                .iter()
                .map(|&d| relu_conv(ConvSpec::new(c, c, 3).dilation(d), device))
                .collect(),
            channels_last: None,
        }
    }

    /// The convolutions an inference forward on Flex runs.
    pub fn with_engine(self, engine: Engine) -> Self {
        let channels_last = match engine {
            Engine::ChannelsLast => {
                channels_last::convs([&self.reduce].into_iter().chain(&self.branches)).map(Arc::new)
            }
            Engine::Flex => None,
        };
        Self {
            channels_last,
            ..self
        }
    }

    /// On the channels-last layers when they apply, the output then left channels-last for the
    /// heads.
    pub fn forward(&self, x: &Features) -> Features {
        if let Some(plan) = &self.channels_last
            && let Some(map) = x.map()
        {
            // The branches' sum accumulated as each branch's residual.
            let (reduce, branches) = plan.split_first().expect("reduce and branches");
            let reduced = reduce.forward(&map, None);
            let sum = branches
                .iter()
                .fold(None, |sum: Option<FeatureMap>, branch| {
                    Some(branch.forward(&reduced, sum.as_ref()))
                })
                .expect("the config guarantees at least one branch");
            return Features::channels_last(Arc::new(sum), &x.device());
        }
        let x = self.reduce.forward(x.tensor());
        self.branches
            .iter()
            .map(|branch| branch.forward(x.clone()))
            .reduce(|sum, y| record(OpKind::Elementwise, 0, || elementwise::add(sum, y)))
            .expect("the config guarantees at least one branch")
            .into()
    }
}
