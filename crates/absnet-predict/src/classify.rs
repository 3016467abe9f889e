//! ImageNet classification with a pretrained backbone: the check that imported weights are the
//! network they claim to be.

use std::path::Path;

use absnet_data::pipeline::{self, Fit};
use absnet_model::backbone::Backbone;
use absnet_model::{Arch, BackboneConfig, ModelError, weights};
use burn::tensor::Device;
use burn::tensor::activation::softmax;
use image::RgbImage;

/// The 1,000 ImageNet-1k class names, in the classifier's order.
pub fn class_names() -> Vec<&'static str> {
    include_str!("../../../assets/imagenet_classes.txt")
        .lines()
        .collect()
}

/// A backbone with its ImageNet classifier, BatchNorm folded.
pub struct Classifier {
    backbone: Backbone,
    arch: Arch,
    device: Device,
}

/// One class and its probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Class {
    pub index: usize,
    pub probability: f32,
}

impl Classifier {
    /// Loads `arch` with the classifier from `weights` (upstream `.pth` or converted safetensors).
    pub fn load(arch: Arch, weights: &Path, device: &Device) -> Result<Self, ModelError> {
        let config = BackboneConfig {
            classifier: true,
            output_stride: 32,
            ..BackboneConfig::new(arch)
        };
        let backbone = Backbone::new(&config, device)?;
        let tensors = absnet_model::absnet::read_backbone_weights(&backbone, weights)?;
        let backbone = weights::load_tensors(backbone, tensors, weights, arch.name())?.fold_norms();
        Ok(Self {
            backbone,
            arch,
            device: device.clone(),
        })
    }

    /// The `k` most probable classes of `photo` (resized to 224×224), most probable first.
    pub fn top(&self, photo: &RgbImage, k: usize) -> Vec<Class> {
        let (input, _) = pipeline::fit(photo, [224, 224], Fit::Resize);
        let x = self
            .arch
            .normalization()
            .batch(&[input.as_raw()], 224, 224, &self.device);
        let logits = self.backbone.classify(x).expect("built with a classifier");
        let probabilities: Vec<f32> = softmax(logits, 1)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 values");
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        order
            .into_iter()
            .take(k)
            .map(|index| Class {
                index,
                probability: probabilities[index],
            })
            .collect()
    }
}
