//! Dataset readers and the image pipeline.
pub mod pipeline;
