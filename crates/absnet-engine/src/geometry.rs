/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// PyTorch's `padding = dilation * (kernel - 1) / 2` on every side.
    Symmetric,
    /// TensorFlow's "same": `ceil(in / stride)` outputs, the odd pixel of padding at the end
    /// (bottom/right), as efficientnet_pytorch's `Conv2dDynamicSamePadding`.
    TfSame,
}

/// The spatial geometry of a square convolution kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub padding: Padding,
}

impl Geometry {
    /// `kernel × kernel`, stride 1, no dilation, PyTorch padding.
    pub fn new(kernel: usize) -> Self {
        Self {
            kernel,
            stride: 1,
            dilation: 1,
            padding: Padding::Symmetric,
        }
    }

    /// The span of the kernel on the input: `(kernel - 1) · dilation + 1`.
    pub fn extent(&self) -> usize {
        (self.kernel - 1) * self.dilation + 1
    }

    /// `(begin, end)` padding of one spatial axis of length `len`.
    pub fn pad(&self, len: usize) -> (usize, usize) {
        match self.padding {
            Padding::Symmetric => {
                let p = self.dilation * (self.kernel - 1) / 2;
                (p, p)
            }
            Padding::TfSame => {
                let out = len.div_ceil(self.stride);
                let total = ((out - 1) * self.stride + self.extent()).saturating_sub(len);
                (total / 2, total - total / 2)
            }
        }
    }

    /// Output length along a spatial axis of length `len`.
    pub fn output_len(&self, len: usize) -> usize {
        let (begin, end) = self.pad(len);
        (len + begin + end - self.extent()) / self.stride + 1
    }

    /// For the output index `out` along an axis of length `len` (padded at the beginning by
    /// `begin`): the taps whose input index lies inside, as `(tap, input index)`.
    pub(crate) fn taps(
        &self,
        out: usize,
        begin: usize,
        len: usize,
    ) -> impl Iterator<Item = (usize, usize)> + use<> {
        let origin = (out * self.stride) as isize - begin as isize;
        let dilation = self.dilation as isize;
        (0..self.kernel).filter_map(move |tap| {
            let at = origin + tap as isize * dilation;
            (0..len as isize)
                .contains(&at)
                .then_some((tap, at as usize))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_pads_the_odd_pixel_at_the_end() {
        let g = Geometry {
            stride: 2,
            padding: Padding::TfSame,
            ..Geometry::new(3)
        };
        assert_eq!(g.pad(224), (0, 1));
        assert_eq!(g.output_len(224), 112);
        assert_eq!(g.pad(225), (1, 1));
        assert_eq!(g.output_len(225), 113);
    }

    #[test]
    fn taps_skip_the_padding() {
        let g = Geometry {
            dilation: 2,
            ..Geometry::new(3)
        };
        let (begin, _) = g.pad(5);
        assert_eq!(begin, 2);
        assert_eq!(g.taps(0, begin, 5).collect::<Vec<_>>(), [(1, 0), (2, 2)]);
        assert_eq!(
            g.taps(2, begin, 5).collect::<Vec<_>>(),
            [(0, 0), (1, 2), (2, 4)]
        );
    }
}
