use std::mem::MaybeUninit;

use crate::activation::{Activation, bias_activation};
use crate::feature_map::FeatureMap;
use crate::geometry::Geometry;
use crate::parallel::{for_row_blocks, matmul, rows_per_task};

/// A dense `k × k` convolution with few input channels (a stem reading the image's 3): each
/// task gathers its output rows' patches (`k·k·in` values per pixel, padding left at zero) and
/// multiplies them by the weights in one gemm. With many input channels the patches would be
/// larger than the input many times over; this layer is not meant for that.
#[derive(Clone, Debug)]
pub struct Dense {
    /// `[(ky, kx, in), out]`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    in_channels: usize,
    geometry: Geometry,
    activation: Activation,
}

impl Dense {
    /// `weight` in PyTorch's layout `[out, in, k, k]`, `bias` `[out]`.
    pub fn new(weight: &[f32], bias: Vec<f32>, geometry: Geometry, activation: Activation) -> Self {
        let out = bias.len();
        let taps = geometry.kernel * geometry.kernel;
        let in_channels = weight.len() / (out * taps);
        assert_eq!(
            weight.len(),
            out * in_channels * taps,
            "weight [out, in, k, k]"
        );
        let mut packed = vec![0.0; weight.len()];
        for (o, filter) in weight.chunks_exact(in_channels * taps).enumerate() {
            for (i, plane) in filter.chunks_exact(taps).enumerate() {
                for (tap, w) in plane.iter().enumerate() {
                    packed[(tap * in_channels + i) * out + o] = *w;
                }
            }
        }
        Self {
            weight: packed,
            bias,
            in_channels,
            geometry,
            activation,
        }
    }

    pub fn forward(&self, x: &FeatureMap) -> FeatureMap {
        let (cin, cout) = (self.in_channels, self.bias.len());
        assert_eq!(x.channels, cin, "input channels");
        let g = self.geometry;
        let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
        let (top, left) = (g.pad(x.height).0, g.pad(x.width).0);
        let patch = g.kernel * g.kernel * cin;
        let row_len = out_w * cout;
        let per_task = rows_per_task(x.batch * out_h, 1);
        let fill = |out: &mut [MaybeUninit<f32>]| {
            for_row_blocks(out, row_len, per_task, |first, block| {
                let pixels = block.len() / cout;
                let mut patches = vec![0.0; pixels * patch];
                let rows = patches.chunks_exact_mut(out_w * patch).enumerate();
                for (i, patch_row) in rows {
                    let (n, y) = ((first + i) / out_h, (first + i) % out_h);
                    for (ox, pixel) in patch_row.chunks_exact_mut(patch).enumerate() {
                        for (ky, iy) in g.taps(y, top, x.height) {
                            let input = x.row(n, iy);
                            for (kx, ix) in g.taps(ox, left, x.width) {
                                let at = (ky * g.kernel + kx) * cin;
                                pixel[at..at + cin]
                                    .copy_from_slice(&input[ix * cin..(ix + 1) * cin]);
                            }
                        }
                    }
                }
                let shape = [pixels, patch, cout];
                let parallelism = gemm::Parallelism::None;
                let block = matmul(block, &patches, &self.weight, shape, parallelism);
                bias_activation(block, &self.bias, self.activation, None);
            })
        };
        // SAFETY: `matmul` writes every value of the slice it is given, and the slices cover
        // the output.
        unsafe { FeatureMap::written_by([x.batch, out_h, out_w, cout], fill) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Padding;
    use crate::reference::{assert_close, convolution, random, random_map};

    #[test]
    fn matches_the_plain_convolution() {
        for (kernel, stride, padding, cin, cout) in [
            (3, 2, Padding::Symmetric, 3, 32),
            (3, 2, Padding::TfSame, 3, 32),
            (3, 1, Padding::Symmetric, 5, 7),
        ] {
            let geometry = Geometry {
                stride,
                padding,
                ..Geometry::new(kernel)
            };
            let x = random_map(2, 15, 12, cin, 1);
            let weight = random(cout * cin * kernel * kernel, 2);
            let bias = random(cout, 3);
            let layer = Dense::new(&weight, bias.clone(), geometry, Activation::Relu);
            let expected = convolution(&x, &weight, &bias, cout, 1, geometry, Activation::Relu);
            assert_close(&layer.forward(&x), &expected, 1e-5);
        }
    }
}
