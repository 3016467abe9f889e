/// The activation a layer applies to its output (after the bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
    Relu6,
}

impl Activation {
    /// The activation of one value; NaN stays NaN, as in PyTorch.
    #[inline(always)]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Identity => v,
            // `v < 0` is false for NaN, which passes through.
            Activation::Relu => {
                if v < 0.0 {
                    0.0
                } else {
                    v
                }
            }
            Activation::Relu6 => v.clamp(0.0, 6.0),
        }
    }
}

/// `row[j] = activation(row[j] + bias[j])` over rows of `bias.len()` values, then
/// `+ residual` where one is given.
pub(crate) fn bias_activation(
    values: &mut [f32],
    bias: &[f32],
    activation: Activation,
    residual: Option<&[f32]>,
) {
    let width = bias.len();
    for (i, row) in values.chunks_exact_mut(width).enumerate() {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = activation.apply(*v + b);
        }
        if let Some(residual) = residual {
            for (v, r) in row.iter_mut().zip(&residual[i * width..(i + 1) * width]) {
                *v += r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_clamp_and_keep_nan() {
        assert_eq!(Activation::Relu.apply(-1.0), 0.0);
        assert_eq!(Activation::Relu6.apply(7.5), 6.0);
        assert_eq!(Activation::Relu6.apply(-0.5), 0.0);
        assert!(Activation::Relu.apply(f32::NAN).is_nan());
        assert!(Activation::Relu6.apply(f32::NAN).is_nan());
    }
}
