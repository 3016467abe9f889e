//! The plain convolution every layer is tested against: one output at a time, straight from
//! the definition, in f64.

use crate::activation::Activation;
use crate::feature_map::FeatureMap;
use crate::geometry::Geometry;

/// `activation(conv(x, weight) + bias)` with PyTorch's weight layout
/// `[out, in / groups, k, k]`.
pub fn convolution(
    x: &FeatureMap,
    weight: &[f32],
    bias: &[f32],
    out_channels: usize,
    groups: usize,
    g: Geometry,
    activation: Activation,
) -> FeatureMap {
    let (out_h, out_w) = (g.output_len(x.height), g.output_len(x.width));
    let (top, left) = (g.pad(x.height).0 as isize, g.pad(x.width).0 as isize);
    let (in_per_group, out_per_group) = (x.channels / groups, out_channels / groups);
    let k = g.kernel;
    let mut out = FeatureMap::zeros(x.batch, out_h, out_w, out_channels);
    for n in 0..x.batch {
        for y in 0..out_h {
            for ox in 0..out_w {
                for o in 0..out_channels {
                    let group = o / out_per_group;
                    let mut sum = bias[o] as f64;
                    for i in 0..in_per_group {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (y * g.stride) as isize - top + (ky * g.dilation) as isize;
                                let ix =
                                    (ox * g.stride) as isize - left + (kx * g.dilation) as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= x.height as isize
                                    || ix >= x.width as isize
                                {
                                    continue;
                                }
                                let c = group * in_per_group + i;
                                let v = x.values[((n * x.height + iy as usize) * x.width
                                    + ix as usize)
                                    * x.channels
                                    + c];
                                let w = weight[((o * in_per_group + i) * k + ky) * k + kx];
                                sum += v as f64 * w as f64;
                            }
                        }
                    }
                    out.values[((n * out_h + y) * out_w + ox) * out_channels + o] =
                        activation.apply(sum as f32);
                }
            }
        }
    }
    out
}

/// `len` values in [-1, 1) from a fixed generator (a 64-bit LCG), different for each `seed`.
pub fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

pub fn random_map(
    batch: usize,
    height: usize,
    width: usize,
    channels: usize,
    seed: u64,
) -> FeatureMap {
    let mut map = FeatureMap::zeros(batch, height, width, channels);
    map.values = random(map.values.len(), seed);
    map
}

/// Same shape, and every value within `tolerance` (absolute, relative above 1).
pub fn assert_close(actual: &FeatureMap, expected: &FeatureMap, tolerance: f32) {
    assert_eq!(actual.nchw_shape(), expected.nchw_shape(), "shape");
    for (i, (a, e)) in actual.values.iter().zip(&expected.values).enumerate() {
        assert!(
            (a - e).abs() <= tolerance * e.abs().max(1.0),
            "value {i}: {a} vs {e}"
        );
    }
}

/// Same shape, and every value within `tolerance` times the largest `|expected|` of the map:
/// for algorithms whose rounding error follows the size of the terms summed (Winograd's
/// transforms), not the size of each result.
pub fn assert_close_to_scale(actual: &FeatureMap, expected: &FeatureMap, tolerance: f32) {
    assert_eq!(actual.nchw_shape(), expected.nchw_shape(), "shape");
    let scale = expected.values.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (a, e)) in actual.values.iter().zip(&expected.values).enumerate() {
        assert!(
            (a - e).abs() <= tolerance * scale,
            "value {i}: {a} vs {e} (largest |value| {scale})"
        );
    }
}
