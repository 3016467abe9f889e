//! Separable linear resampling of feature maps, written as two matrix products per map
//! (`A_rows · x · A_colsᵀ`) so that it has a backward pass on every backend (burn's GPU
//! backends have no bilinear interpolation backward) and so that the matrices themselves may
//! carry gradients: bilinear resizing, and a Gaussian blur whose σ is learned.

use burn::tensor::{Device, Tensor, TensorData};

/// `A_rows · x · A_colsᵀ` for every channel of every image: `rows: [height, h]`,
/// `columns: [width, w]`, `x: [batch, channels, h, w]` → `[batch, channels, height, width]`.
pub fn separable(x: Tensor<4>, rows: Tensor<2>, columns: Tensor<2>) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let [height, width] = [rows.dims()[0], columns.dims()[0]];
    let n = batch * channels;
    // Columns: [n·h, w] · [w, width].
    let x = x.reshape([n * h, w]).matmul(columns.transpose());
    // Rows: [n·width, h] · [h, height].
    let x = x
        .reshape([n, h, width])
        .swap_dims(1, 2)
        .reshape([n * width, h])
        .matmul(rows.transpose());
    x.reshape([n, width, height])
        .swap_dims(1, 2)
        .reshape([batch, channels, height, width])
}

/// `x` resized to `[height, width]` by bilinear interpolation with half-pixel centres
/// (PyTorch's `align_corners=False`, no antialiasing).
pub fn bilinear(x: Tensor<4>, [height, width]: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == [height, width] {
        return x;
    }
    let device = x.device();
    let (rows, columns) = (
        interpolation(h, height, &device),
        interpolation(w, width, &device),
    );
    separable(x, rows, columns)
}

/// The `[output, input]` matrix of 1-D linear interpolation from `input` to `output` samples
/// with half-pixel centres: output `i` reads the source position `(i + ½)·input/output − ½`,
/// clamped at 0, from its two neighbours.
fn interpolation(input: usize, output: usize, device: &Device) -> Tensor<2> {
    let mut matrix = vec![0.0f32; output * input];
    let scale = input as f64 / output as f64;
    for (i, row) in matrix.chunks_exact_mut(input).enumerate() {
        let source = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
        let left = (source.floor() as usize).min(input - 1);
        let right = (left + 1).min(input - 1);
        let fraction = (source - left as f64) as f32;
        row[left] += 1.0 - fraction;
        row[right] += fraction;
    }
    Tensor::from_data(TensorData::new(matrix, [output, input]), device)
}

/// A Gaussian blur of σ = `sigma` (a one-element tensor, in pixels of `x`; gradients reach it)
/// along both axes. Each output is the Gaussian-weighted mean of the inputs inside the map —
/// the weights renormalised at the border, so the border is neither darkened nor padded.
pub fn gaussian_blur(x: Tensor<4>, sigma: Tensor<1>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let (rows, columns) = (gaussian(h, sigma.clone()), gaussian(w, sigma));
    separable(x, rows, columns)
}

/// `[n, n]`: row `i` holds `exp(−(i − j)² / 2σ²)` over `j`, normalised to sum 1.
fn gaussian(n: usize, sigma: Tensor<1>) -> Tensor<2> {
    let device = sigma.device();
    let squared: Vec<f32> = (0..n * n)
        .map(|k| {
            let d = (k / n) as f32 - (k % n) as f32;
            d * d
        })
        .collect();
    let squared = Tensor::<2>::from_data(TensorData::new(squared, [n, n]), &device);
    let scale = (sigma.powi_scalar(2) * 2.0).recip().neg().reshape([1, 1]);
    let weights = (squared * scale).exp();
    weights.clone() / weights.sum_dim(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn::tensor::module::interpolate;
    use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

    #[test]
    fn matrix_bilinear_is_burns_bilinear_interpolation() {
        let device = Device::flex();
        for ([h, w], size) in [
            ([5, 7], [40, 56]),
            ([6, 8], [13, 9]),
            ([3, 4], [3, 4]),
            ([1, 1], [4, 2]),
        ] {
            let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
            let want = interpolate(
                x.clone(),
                InterpolateOptions {
                    mode: InterpolateMode::Bilinear,
                    align_corners: false,
                    output_size: Some(size),
                    scale_factor: None,
                },
            );
            let got = bilinear(x, size);
            let diff = (got - want).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-5, "{h}×{w} → {size:?}: max |Δ| = {diff}");
        }
    }

    #[test]
    fn gaussian_blur_is_a_normalised_convolution() {
        let device = Device::flex();
        let (h, w, sigma) = (7usize, 9usize, 1.3f64);
        let x = Tensor::<4>::random([1, 1, h, w], Distribution::Normal(0.0, 1.0), &device);
        let values: Vec<f32> = x.clone().into_data().try_into_vec::<f32>().unwrap();
        let got: Vec<f32> = gaussian_blur(x, Tensor::from_floats([sigma as f32], &device))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let g = |d: f64| (-d * d / (2.0 * sigma * sigma)).exp();
        for (y, x) in [(0, 0), (3, 4), (6, 8), (2, 7)] {
            // Separable, each axis renormalised over the map.
            let ky: f64 = (0..h).map(|j| g(y as f64 - j as f64)).sum();
            let kx: f64 = (0..w).map(|i| g(x as f64 - i as f64)).sum();
            let mut want = 0.0;
            for j in 0..h {
                for i in 0..w {
                    want += g(y as f64 - j as f64)
                        * g(x as f64 - i as f64)
                        * f64::from(values[j * w + i]);
                }
            }
            want /= ky * kx;
            let diff = (f64::from(got[y * w + x]) - want).abs();
            assert!(diff < 1e-5, "({x}, {y}): {} vs {want}", got[y * w + x]);
        }
    }

    #[test]
    fn the_blur_passes_a_gradient_to_sigma() {
        let device = Device::flex().autodiff();
        let sigma = Tensor::<1>::from_floats([1.0], &device).require_grad();
        let x = Tensor::<4>::random([1, 1, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let loss = gaussian_blur(x, sigma.clone()).powi_scalar(2).sum();
        let grads = loss.backward();
        let g = sigma.grad(&grads).expect("a gradient").into_scalar::<f32>();
        assert!(g.is_finite() && g != 0.0, "d loss / d σ = {g}");
    }
}
