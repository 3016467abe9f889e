//! Turning saliency maps into pictures and numbers a person reads: 8-bit grayscale, a colour
//! heatmap blended over the photo, and the strongest peaks.

use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};
use serde::{Deserialize, Serialize};

pub type FloatMap = ImageBuffer<Luma<f32>, Vec<f32>>;

/// Colour scales for heatmaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colormap {
    /// Blue → cyan → yellow → red (MATLAB's jet).
    Jet,
    /// Black → red → yellow → white.
    Hot,
    Gray,
}

impl std::str::FromStr for Colormap {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "jet" => Ok(Colormap::Jet),
            "hot" => Ok(Colormap::Hot),
            "gray" => Ok(Colormap::Gray),
            other => Err(format!("`{other}`: expected jet, hot or gray")),
        }
    }
}

impl Colormap {
    /// The colour of `t` in [0, 1].
    pub fn color(self, t: f32) -> [u8; 3] {
        let t = t.clamp(0.0, 1.0);
        let channel = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        match self {
            Colormap::Jet => {
                // Piecewise-linear ramps, each peaking a quarter apart.
                let ramp = |centre: f32| 1.5 - (4.0 * t - centre).abs();
                [channel(ramp(3.0)), channel(ramp(2.0)), channel(ramp(1.0))]
            }
            Colormap::Hot => [
                channel(3.0 * t),
                channel(3.0 * t - 1.0),
                channel(3.0 * t - 2.0),
            ],
            Colormap::Gray => [channel(t); 3],
        }
    }
}

/// The map rescaled so its maximum is 1 (a map of zeros stays zero).
pub fn normalised(map: &FloatMap) -> FloatMap {
    let max = map.pixels().map(|p| p[0]).fold(0.0f32, f32::max);
    let scale = if max > 0.0 { 1.0 / max } else { 0.0 };
    FloatMap::from_fn(map.width(), map.height(), |x, y| {
        Luma([map.get_pixel(x, y)[0] * scale])
    })
}

/// 8-bit grayscale of a map in [0, 1].
pub fn gray8(map: &FloatMap) -> GrayImage {
    GrayImage::from_fn(map.width(), map.height(), |x, y| {
        Luma([(map.get_pixel(x, y)[0].clamp(0.0, 1.0) * 255.0).round() as u8])
    })
}

/// The photo with the map's colours blended in at `opacity` (0: photo only, 1: heatmap only).
pub fn overlay(photo: &RgbImage, map: &FloatMap, colormap: Colormap, opacity: f32) -> RgbImage {
    assert_eq!(
        photo.dimensions(),
        map.dimensions(),
        "overlay needs a map of the photo's size"
    );
    let a = opacity.clamp(0.0, 1.0);
    RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let c = colormap.color(map.get_pixel(x, y)[0]);
        let p = photo.get_pixel(x, y).0;
        Rgb(std::array::from_fn(|i| {
            (f32::from(p[i]) * (1.0 - a) + f32::from(c[i]) * a).round() as u8
        }))
    })
}

/// A local maximum of a map.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    pub x: u32,
    pub y: u32,
    pub value: f32,
}

/// Up to `k` peaks, strongest first: each is the map's maximum once the neighbourhoods (radius
/// `radius` pixels) of the peaks before it are excluded.
pub fn peaks(map: &FloatMap, k: usize, radius: f32) -> Vec<Peak> {
    let (w, h) = map.dimensions();
    let mut excluded = vec![false; (w * h) as usize];
    let mut found = Vec::new();
    for _ in 0..k {
        let best = map
            .enumerate_pixels()
            .filter(|(x, y, _)| !excluded[(y * w + x) as usize])
            .max_by(|a, b| a.2[0].total_cmp(&b.2[0]));
        let Some((x, y, value)) = best else { break };
        let peak = Peak {
            x,
            y,
            value: value[0],
        };
        found.push(peak);
        let r = radius.ceil() as i64;
        for dy in -r..=r {
            for dx in -r..=r {
                let (px, py) = (i64::from(x) + dx, i64::from(y) + dy);
                if px >= 0
                    && py >= 0
                    && px < i64::from(w)
                    && py < i64::from(h)
                    && ((dx * dx + dy * dy) as f32) <= radius * radius
                {
                    excluded[(py as u32 * w + px as u32) as usize] = true;
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_span_their_range() {
        assert_eq!(Colormap::Jet.color(0.0), [0, 0, 128]);
        assert_eq!(Colormap::Jet.color(1.0), [128, 0, 0]);
        assert_eq!(Colormap::Jet.color(0.5), [128, 255, 128]);
        assert_eq!(Colormap::Hot.color(1.0), [255, 255, 255]);
        assert_eq!(Colormap::Gray.color(0.5), [128, 128, 128]);
    }

    #[test]
    fn peaks_are_separated_and_ordered() {
        let map = FloatMap::from_fn(40, 30, |x, y| {
            let bump = |cx: f32, cy: f32, a: f32| {
                a * (-((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)) / 8.0).exp()
            };
            Luma([bump(10.0, 10.0, 1.0) + bump(30.0, 20.0, 0.6)])
        });
        let p = peaks(&map, 2, 5.0);
        assert_eq!((p[0].x, p[0].y, p[1].x, p[1].y), (10, 10, 30, 20));
        let blended = overlay(
            &RgbImage::new(40, 30),
            &normalised(&map),
            Colormap::Jet,
            1.0,
        );
        assert_eq!(blended.get_pixel(10, 10).0, Colormap::Jet.color(1.0));
    }
}
