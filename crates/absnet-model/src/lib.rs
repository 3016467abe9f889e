//! ABSNet (Liu et al., IEEE SPL 2020) on burn: ImageNet backbones with feature taps at several
//! depths, the multi-dilation neck, the saliency and aesthetics heads, weight import from
//! PyTorch checkpoints and model files (safetensors + a JSON model card).
//!
//! Model code has no backend type parameter: burn 0.22 picks the backend from the [`Device`]
//! (`Device::flex()` on CPU, `Device::cuda(0)` with the `cuda` feature).
//!
//! [`Device`]: burn::tensor::Device

pub mod absnet;
pub mod backbone;
pub mod card;
pub mod channels_last;
mod depthwise;
mod elementwise;
mod error;
pub mod heads;
pub mod layers;
pub mod neck;
mod pointwise;
pub mod preprocess;
pub mod profile;
mod recorded;
pub mod resample;
pub mod weights;

pub use absnet::{
    AbsNet, AbsNetConfig, AbsNetOutput, Encoded, HeadMapper, HeadVisitor, HeadsConfig,
};
pub use backbone::{Arch, Backbone, BackboneConfig, Tap};
pub use card::ModelCard;
pub use channels_last::{Engine, Features};
pub use error::ModelError;
pub use heads::{Head, PerHead};
pub use preprocess::Normalization;
pub use weights::NameTable;
