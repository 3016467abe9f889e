//! Inference convolutions in the channels-last layout (NHWC), the layout a mobile encoder's
//! layers want: a 1×1 convolution is one packed gemm over the pixels with no im2col, a
//! depthwise convolution reads each tap's channels as one contiguous vector, and the next layer
//! reads the previous one's output as it was written, with no layout change in between. Each
//! layer adds its bias, applies its activation (and a residual) in the pass that produces it,
//! while the rows are still in cache, and spreads its rows over rayon's threads.
//!
//! Weights come in PyTorch's layout (`[out, in / groups, k, k]`, BatchNorm already folded) and
//! are repacked once when a layer is built. Nothing here knows about tensors or models: the
//! model crate builds these layers from its own and decides when to use them.

mod activation;
mod dense;
mod depthwise;
mod feature_map;
mod geometry;
mod parallel;
mod pointwise;
mod spare;
mod winograd;

#[cfg(test)]
mod reference;

pub use activation::Activation;
pub use dense::Dense;
pub use depthwise::Depthwise;
pub use feature_map::FeatureMap;
pub use geometry::{Geometry, Padding};
pub use pointwise::Pointwise;
