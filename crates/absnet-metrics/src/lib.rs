//! Saliency and aesthetics metrics.
