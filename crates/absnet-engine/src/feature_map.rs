use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::spare;

/// A batch of feature maps in the channels-last layout: `values[((n·H + y)·W + x)·C + c]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMap {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub values: Vec<f32>,
}

impl FeatureMap {
    pub fn zeros(batch: usize, height: usize, width: usize, channels: usize) -> Self {
        Self {
            batch,
            height,
            width,
            channels,
            values: vec![0.0; batch * height * width * channels],
        }
    }

    /// A map of this shape whose values `fill` writes, without zeroing them first (a layer
    /// writes every output; zeroing first would be a pass over memory of its own).
    ///
    /// # Safety
    /// `fill` must write every value of the slice it is handed.
    pub(crate) unsafe fn written_by(
        [batch, height, width, channels]: [usize; 4],
        fill: impl FnOnce(&mut [MaybeUninit<f32>]),
    ) -> Self {
        let len = batch * height * width * channels;
        let mut values = spare::take(len);
        fill(&mut values.spare_capacity_mut()[..len]);
        // SAFETY: the caller's contract: `fill` wrote all `len` values.
        unsafe { values.set_len(len) };
        Self {
            batch,
            height,
            width,
            channels,
            values,
        }
    }

    /// From the channels-first layout (`[batch, channels, height, width]`, PyTorch's and
    /// burn's).
    pub fn from_nchw(values: &[f32], [batch, channels, height, width]: [usize; 4]) -> Self {
        assert_eq!(values.len(), batch * channels * height * width);
        let fill = |out: &mut [MaybeUninit<f32>]| {
            transpose_images(values, out, batch, [channels, height * width])
        };
        // SAFETY: `transpose_images` writes every value.
        unsafe { Self::written_by([batch, height, width, channels], fill) }
    }

    /// The values in the channels-first layout, `[batch, channels, height, width]`.
    pub fn to_nchw(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.values.len());
        let shape = [self.height * self.width, self.channels];
        transpose_images(&self.values, out.spare_capacity_mut(), self.batch, shape);
        // SAFETY: `transpose_images` wrote every value.
        unsafe { out.set_len(self.values.len()) };
        out
    }

    /// `[batch, channels, height, width]`.
    pub fn nchw_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.height, self.width]
    }

    /// Values per row of pixels.
    pub(crate) fn row_len(&self) -> usize {
        self.width * self.channels
    }

    /// The row `y` of image `n`.
    pub fn row(&self, n: usize, y: usize) -> &[f32] {
        let len = self.row_len();
        let start = (n * self.height + y) * len;
        &self.values[start..start + len]
    }
}

/// Each of `batch` row-major `[rows, cols]` matrices in `source` transposed into `target`, in
/// 32 × 32 tiles (one cache-friendly pass each way) spread over rayon's threads.
fn transpose_images(
    source: &[f32],
    target: &mut [MaybeUninit<f32>],
    batch: usize,
    [rows, cols]: [usize; 2],
) {
    const TILE: usize = 32;
    let image = rows * cols;
    assert_eq!((source.len(), target.len()), (batch * image, batch * image));
    // Tasks own bands of TILE target rows (source columns) of one image.
    target
        .par_chunks_mut(image)
        .zip(source.par_chunks(image))
        .for_each(|(target, source)| {
            target
                .par_chunks_mut(TILE * rows)
                .enumerate()
                .for_each(|(band, out)| {
                    let c0 = band * TILE;
                    for r0 in (0..rows).step_by(TILE) {
                        for c in 0..out.len() / rows {
                            for r in r0..(r0 + TILE).min(rows) {
                                out[c * rows + r].write(source[r * cols + c0 + c]);
                            }
                        }
                    }
                })
        });
}

/// The buffer is kept for the next map (see [`crate::spare`]).
impl Drop for FeatureMap {
    fn drop(&mut self) {
        spare::give(std::mem::take(&mut self.values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_round_trips_at_sizes_that_are_not_whole_tiles() {
        let shape = [2, 37, 5, 9];
        let values: Vec<f32> = (0..2 * 37 * 45).map(|v| v as f32).collect();
        let map = FeatureMap::from_nchw(&values, shape);
        assert_eq!(map.values[(45 + 44) * 37 + 36], values[(37 + 36) * 45 + 44]);
        assert_eq!(map.to_nchw(), values);
    }

    #[test]
    fn nchw_round_trips() {
        let shape = [2, 3, 4, 5];
        let values: Vec<f32> = (0..120).map(|v| v as f32).collect();
        let map = FeatureMap::from_nchw(&values, shape);
        let [_, channels, height, width] = shape;
        let (n, c, y, x) = (1, 2, 3, 4);
        let nchw = ((n * channels + c) * height + y) * width + x;
        let nhwc = ((n * height + y) * width + x) * channels + c;
        assert_eq!(map.values[nhwc], values[nchw]);
        assert_eq!(map.to_nchw(), values);
        assert_eq!(map.nchw_shape(), shape);
    }
}
