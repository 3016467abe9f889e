//! Ground-truth fixation densities: the fixations of a stimulus blurred into a map, as the
//! benchmarks draw them. Labels, not metrics: the loader draws them for training and the
//! evaluation for scoring CC, KLD and SIM.

use ndarray::Array2;

/// Why a density cannot be drawn.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DensityError {
    #[error("no fixations to draw a density from")]
    NoFixations,
    #[error(
        "fixation {index} at ({x}, {y}) lies outside the {width}×{height} map or is not finite"
    )]
    Outside {
        index: usize,
        x: f64,
        y: f64,
        width: usize,
        height: usize,
    },
    #[error("σ = {0}: expected a finite number above 0")]
    Sigma(f64),
}

/// The `(row, column)` pixel of each point `(x, y)`: `(floor y, floor x)`.
fn pixels(
    points: impl IntoIterator<Item = (f64, f64)>,
    width: usize,
    height: usize,
) -> Result<Vec<(usize, usize)>, DensityError> {
    let mut pixels = Vec::new();
    for (index, (x, y)) in points.into_iter().enumerate() {
        let inside = x.is_finite()
            && y.is_finite()
            && x >= 0.0
            && y >= 0.0
            && x < width as f64
            && y < height as f64;
        if !inside {
            return Err(DensityError::Outside {
                index,
                x,
                y,
                width,
                height,
            });
        }
        pixels.push((y as usize, x as usize));
    }
    if pixels.is_empty() {
        return Err(DensityError::NoFixations);
    }
    Ok(pixels)
}

/// What the Gaussian sees beyond the image border.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Border {
    /// Zeros: mass that falls outside is lost (scipy `mode='constant'`, MATLAB `imfilter`'s
    /// default).
    #[default]
    Zero,
    /// The image mirrored about its edge, edge pixel repeated (scipy `mode='reflect'`): no
    /// mass is lost.
    Reflect,
}

/// Ground-truth fixation density: a map counting the fixations per pixel, blurred by a
/// Gaussian of standard deviation `sigma` pixels truncated at `round(4σ)` pixels with weights
/// normalised to sum 1 — exactly `scipy.ndimage.gaussian_filter(counts, sigma, mode=...,
/// truncate=4.0)`. Not normalised: with [`Border::Reflect`] it sums to the number of fixations.
/// OSIE's maps use σ = 24 px at 800×600; about one degree of visual angle is the usual choice.
///
/// Few fixations are blurred one by one, as an outer product of two 1-D responses restricted to
/// their support (cost ∝ fixations × (8σ)²); many (a pooled centre-bias map) by a separable
/// convolution of the count map (cost ∝ pixels × 8σ).
pub fn density_map(
    width: usize,
    height: usize,
    fixations: impl IntoIterator<Item = (f64, f64)>,
    sigma: f64,
    border: Border,
) -> Result<Array2<f64>, DensityError> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(DensityError::Sigma(sigma));
    }
    let pixels = pixels(fixations, width, height)?;
    let radius = (4.0 * sigma + 0.5) as usize;
    let kernel: Vec<f64> = {
        let raw: Vec<f64> = (0..=2 * radius)
            .map(|i| {
                let x = i as f64 - radius as f64;
                (-0.5 * x * x / (sigma * sigma)).exp()
            })
            .collect();
        let sum: f64 = raw.iter().sum();
        raw.into_iter().map(|w| w / sum).collect()
    };
    let taps = 2 * radius + 1;
    if pixels.len() * taps * taps > 2 * width * height * taps {
        return Ok(separable(width, height, &pixels, &kernel, border));
    }
    let mut map = Array2::zeros((height, width));
    for (row, column) in pixels {
        let (y0, ys) = response(row, height, &kernel, radius, border);
        let (x0, xs) = response(column, width, &kernel, radius, border);
        for (i, wy) in ys.iter().enumerate() {
            let mut out = map.row_mut(y0 + i);
            for (j, wx) in xs.iter().enumerate() {
                out[x0 + j] += wy * wx;
            }
        }
    }
    Ok(map)
}

/// The 1-D filter response to a unit impulse at `p` on an axis of `len` pixels: `(first index,
/// values)` over the response's support. Output pixel `y` receives `Σ_k w[k] · in(y + k − r)`
/// where `in` is the impulse, extended by the border rule.
fn response(
    p: usize,
    len: usize,
    kernel: &[f64],
    radius: usize,
    border: Border,
) -> (usize, Vec<f64>) {
    let lo = p.saturating_sub(radius);
    let hi = (p + radius).min(len - 1);
    match border {
        Border::Zero => {
            let values = (lo..=hi).map(|y| kernel[p + radius - y]).collect();
            (lo, values)
        }
        Border::Reflect => {
            // scipy's reflect extension is periodic with period 2·len: position q reads
            // in(q mod 2len) for q mod 2len < len, else in(2len − 1 − q mod 2len). The impulse
            // at p therefore appears at q ≡ p and q ≡ −1 − p (mod 2len).
            let (len_i, r, p) = (len as i64, radius as i64, p as i64);
            let period = 2 * len_i;
            let mut values = vec![0.0; len];
            // Extended positions q in [−r, len − 1 + r] that read the impulse.
            let first_period = (-r - p).div_euclid(period) - 1;
            let last_period = (len_i - 1 + r).div_euclid(period) + 1;
            for m in first_period..=last_period {
                for q in [p + m * period, -1 - p + m * period] {
                    if q < -r || q > len_i - 1 + r {
                        continue;
                    }
                    // Output y reads q through tap k = q − y + r.
                    for y in (q - r).max(0)..=(q + r).min(len_i - 1) {
                        values[y as usize] += kernel[(q - y + r) as usize];
                    }
                }
            }
            let first = values.iter().position(|&v| v != 0.0).unwrap_or(0);
            let last = values.iter().rposition(|&v| v != 0.0).unwrap_or(0);
            (first, values[first..=last].to_vec())
        }
    }
}

/// Where extended position `q` of an axis of `len` pixels reads from, `None` outside (zero).
fn source(q: i64, len: usize, border: Border) -> Option<usize> {
    let len = len as i64;
    match border {
        Border::Zero => (0..len).contains(&q).then_some(q as usize),
        Border::Reflect => {
            let q = q.rem_euclid(2 * len);
            Some(if q < len { q } else { 2 * len - 1 - q } as usize)
        }
    }
}

/// Correlates every line of `input` (`lines` × `len`, stride `step` between neighbours, `jump`
/// between lines) with the kernel (odd length, centred).
fn filter_axis(
    input: &[f64],
    lines: usize,
    len: usize,
    step: usize,
    jump: usize,
    kernel: &[f64],
    border: Border,
) -> Vec<f64> {
    let mut out = vec![0.0; input.len()];
    let r = (kernel.len() / 2) as i64;
    for line in 0..lines {
        let base = line * jump;
        for y in 0..len {
            let mut acc = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                if let Some(q) = source(y as i64 + k as i64 - r, len, border) {
                    acc += w * input[base + q * step];
                }
            }
            out[base + y * step] = acc;
        }
    }
    out
}

fn separable(
    width: usize,
    height: usize,
    pixels: &[(usize, usize)],
    kernel: &[f64],
    border: Border,
) -> Array2<f64> {
    let mut counts = vec![0.0; width * height];
    for &(row, column) in pixels {
        counts[row * width + column] += 1.0;
    }
    let rows = filter_axis(&counts, height, width, 1, width, kernel, border);
    let both = filter_axis(&rows, width, height, width, 1, kernel, border);
    Array2::from_shape_vec((height, width), both).expect("height × width values")
}
