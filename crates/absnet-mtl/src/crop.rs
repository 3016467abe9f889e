//! Random crops for image-level training, cut from the encoder's features instead of the image:
//! each example's window is cut from every tap at that tap's stride, so a run whose features
//! come from the cache crops them without running the encoder again. The window's corner lies on
//! the grid of the deepest tap's cells, so every tap is cut at whole cells; the window's size is
//! a multiple of [`CROP_STEP`](crate::config::CROP_STEP) (checked with the config).
//!
//! A cut map is not exactly the map of a cut image — a border cell near the window's edge saw
//! pixels outside it — which is the point of cropping late: the features keep the context the
//! whole input gave them, as a random crop of the image would not.

use absnet_data::loader::Example;
use absnet_model::{Encoded, Tap};
use burn::tensor::Tensor;

/// `encoded` cut to one window of `[width, height]` input pixels per example, placed by each
/// example's [`Example::draw`] on the deepest tap's grid.
pub(crate) fn random_windows(encoded: Encoded, examples: &[Example], size: [u32; 2]) -> Encoded {
    let [input_h, input_w] = encoded.input_size;
    let [crop_w, crop_h] = size.map(|s| s as usize);
    let taps: Vec<(Tap, Tensor<4>)> = encoded
        .taps
        .into_iter()
        .map(|(tap, x)| (tap, x.tensor()))
        .collect();
    let stride = |x: &Tensor<4>| input_h / x.dims()[2];
    let step = taps.iter().map(|(_, x)| stride(x)).max().unwrap_or(1);
    let rows = (input_h - crop_h) / step + 1;
    let columns = (input_w - crop_w) / step + 1;
    let corners: Vec<[usize; 2]> = examples
        .iter()
        .map(|e| {
            let cell = (e.draw % (rows * columns) as u64) as usize;
            [cell / columns * step, cell % columns * step]
        })
        .collect();
    let taps = taps
        .into_iter()
        .map(|(tap, x)| {
            let [_, channels, h, _] = x.dims();
            let s = stride(&x);
            debug_assert!(input_h % h == 0 && crop_h % s == 0 && crop_w % s == 0);
            let parts = corners
                .iter()
                .enumerate()
                .map(|(i, &[top, left])| {
                    x.clone().slice([
                        i..i + 1,
                        0..channels,
                        top / s..(top + crop_h) / s,
                        left / s..(left + crop_w) / s,
                    ])
                })
                .collect();
            (tap, Tensor::cat(parts, 0).into())
        })
        .collect();
    Encoded {
        taps,
        input_size: [crop_h, crop_w],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use absnet_data::pipeline::Placement;
    use burn::tensor::{Device, TensorData};

    fn example(draw: u64) -> Example {
        Example {
            id: format!("e{draw}"),
            image: Default::default(),
            fixations: Vec::new(),
            density: None,
            votes: None,
            opinion: None,
            placement: Placement {
                original: [64, 64],
                input: [64, 64],
                offset: [0, 0],
                content: [64, 64],
            },
            flipped: false,
            draw,
        }
    }

    /// A `[n, 1, side, side]` map whose value is `row * 100 + column`.
    fn coordinates(n: usize, side: usize, device: &Device) -> Tensor<4> {
        let values: Vec<f32> = (0..n)
            .flat_map(|_| (0..side * side).map(move |i| ((i / side) * 100 + i % side) as f32))
            .collect();
        Tensor::from_data(TensorData::new(values, [n, 1, side, side]), device)
    }

    #[test]
    fn every_tap_is_cut_at_the_same_window_of_the_input() {
        let device = Device::flex();
        // A 64×64 input with taps at strides 4 and 16: the window lies on the 16-px grid.
        let encoded = Encoded {
            taps: vec![
                (Tap::C2, coordinates(2, 16, &device).into()),
                (Tap::C4, coordinates(2, 4, &device).into()),
            ],
            input_size: [64, 64],
        };
        // Windows of 32×32: corners on a 3×3 grid; draws 5 and 9 pick cells 5 (row 1, column
        // 2) and 0.
        let cut = random_windows(encoded, &[example(5), example(9)], [32, 32]);
        assert_eq!(cut.input_size, [32, 32]);
        let fine = cut.taps[0].1.tensor();
        let coarse = cut.taps[1].1.tensor();
        assert_eq!(fine.dims(), [2, 1, 8, 8]);
        assert_eq!(coarse.dims(), [2, 1, 2, 2]);
        let fine = fine.into_data().try_to_vec::<f32>().unwrap();
        let coarse = coarse.into_data().try_to_vec::<f32>().unwrap();
        // Example 0: input rows 16–47, columns 32–63 → c2 cells from (4, 8), c4 from (1, 2).
        assert_eq!(fine[0], 408.0);
        assert_eq!(fine[63], 1115.0);
        assert_eq!(coarse[..4], [102.0, 103.0, 202.0, 203.0]);
        // Example 1: the top-left window.
        assert_eq!(fine[64], 0.0);
        assert_eq!(coarse[4..], [0.0, 1.0, 100.0, 101.0]);
    }
}
