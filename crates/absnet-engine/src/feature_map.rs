use std::mem::MaybeUninit;

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
        let mut map = Self::zeros(batch, height, width, channels);
        let plane = height * width;
        for (n, image) in map.values.chunks_exact_mut(plane * channels).enumerate() {
            let source = &values[n * plane * channels..(n + 1) * plane * channels];
            for (p, pixel) in image.chunks_exact_mut(channels).enumerate() {
                for (c, v) in pixel.iter_mut().enumerate() {
                    *v = source[c * plane + p];
                }
            }
        }
        map
    }

    /// The values in the channels-first layout, `[batch, channels, height, width]`.
    pub fn to_nchw(&self) -> Vec<f32> {
        let plane = self.height * self.width;
        let mut out = vec![0.0; self.values.len()];
        for (n, image) in out.chunks_exact_mut(plane * self.channels).enumerate() {
            let source = &self.values[n * plane * self.channels..(n + 1) * plane * self.channels];
            for (c, channel) in image.chunks_exact_mut(plane).enumerate() {
                for (p, v) in channel.iter_mut().enumerate() {
                    *v = source[p * self.channels + c];
                }
            }
        }
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
    pub(crate) fn row(&self, n: usize, y: usize) -> &[f32] {
        let len = self.row_len();
        let start = (n * self.height + y) * len;
        &self.values[start..start + len]
    }
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
