//! Input normalisation, exactly as each backbone's weights were trained.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How RGB8 pixels become network inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// torchvision: `(x / 255 - mean) / std` with ImageNet mean (0.485, 0.456, 0.406) and std
    /// (0.229, 0.224, 0.225).
    ImageNet,
    /// EfficientNet-Lite: `(x - 127) / 128`.
    EfficientNetLite,
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

impl Normalization {
    /// Interleaved RGB8 (`height × width × 3`) → planar `[3, height, width]` floats.
    pub fn planar(self, rgb: &[u8], height: usize, width: usize) -> Vec<f32> {
        let plane = height * width;
        assert_eq!(rgb.len(), plane * 3, "RGB buffer of {height}×{width}×3");
        let mut out = vec![0f32; plane * 3];
        let (scale, offset): ([f32; 3], [f32; 3]) = match self {
            // (x/255 - m)/s = x * (1/(255 s)) - m/s, one multiply-add per value.
            Normalization::ImageNet => (
                std::array::from_fn(|c| 1.0 / (255.0 * IMAGENET_STD[c])),
                std::array::from_fn(|c| -IMAGENET_MEAN[c] / IMAGENET_STD[c]),
            ),
            Normalization::EfficientNetLite => ([1.0 / 128.0; 3], [-127.0 / 128.0; 3]),
        };
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + i] = px[c] as f32 * scale[c] + offset[c];
            }
        }
        out
    }

    /// A batch of equally sized RGB8 images as `[batch, 3, height, width]`.
    pub fn batch(
        self,
        images: &[&[u8]],
        height: usize,
        width: usize,
        device: &Device,
    ) -> Tensor<4> {
        let data: Vec<f32> = images
            .iter()
            .flat_map(|rgb| self.planar(rgb, height, width))
            .collect();
        Tensor::from_data(
            TensorData::new(data, [images.len(), 3, height, width]),
            device,
        )
    }
}
