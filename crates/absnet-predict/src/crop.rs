//! Crop windows chosen from the whole saliency map: for an aspect ratio and a scale, the window
//! that holds the most expected fixations — the map calibrated to a fixation density
//! (`map^gamma`, normalised) summed over the window — less a penalty for the density its border
//! cuts through (a window edge through a face is worse than one through sky). One library call
//! (map, aspect, scale → window) for `absnet crop` and `absnet serve`.
//!
//! The search is exhaustive over positions: a coarse pass at a stride of 1/32 of the window's
//! shorter side, then every position around the best one, each window's mass in O(1) from a
//! summed-area table (and its border from row and column prefix sums).

use serde::{Deserialize, Serialize};

use crate::render::FloatMap;

/// An aspect ratio `width:height`, both at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Aspect {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CropError {
    #[error("aspect `{0}`: expected WIDTH:HEIGHT with whole numbers from 1, e.g. 16:9")]
    Aspect(String),
    #[error("scale {0}: expected a share of the largest window in (0, 1]")]
    Scale(f64),
    #[error("aspect `{0}` is asked for twice (as `{1}`): each aspect once")]
    RepeatedAspect(Aspect, Aspect),
    #[error(
        "a {aspect} window at scale {scale} of a {width}×{height} image would be under one pixel"
    )]
    TooSmall {
        aspect: Aspect,
        scale: f64,
        width: u32,
        height: u32,
    },
    #[error(
        "{requested_width}×{requested_height} is larger than the {width}×{height} window the image allows; allow upscaling or ask for less"
    )]
    Upscale {
        requested_width: u32,
        requested_height: u32,
        width: u32,
        height: u32,
    },
}

impl std::str::FromStr for Aspect {
    type Err = CropError;
    fn from_str(text: &str) -> Result<Self, CropError> {
        let invalid = || CropError::Aspect(text.to_string());
        let (w, h) = text.split_once(':').ok_or_else(invalid)?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|&v| v >= 1)
                .ok_or_else(invalid)
        };
        Ok(Aspect {
            width: parse(w)?,
            height: parse(h)?,
        })
    }
}

impl std::fmt::Display for Aspect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.width, self.height)
    }
}

impl Aspect {
    /// The aspect of an exact output size, reduced (1920×1080 → 16:9).
    pub fn of_size([width, height]: [u32; 2]) -> Self {
        let (mut a, mut b) = (width, height);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        Aspect {
            width: width / a.max(1),
            height: height / a.max(1),
        }
    }
}

/// Refuses a list that asks for one aspect twice, also in other terms (`2:2` after `1:1`).
pub fn distinct_aspects(aspects: &[Aspect]) -> Result<(), CropError> {
    let mut seen = std::collections::HashMap::new();
    for &aspect in aspects {
        let reduced = Aspect::of_size([aspect.width, aspect.height]);
        if let Some(&first) = seen.get(&reduced) {
            return Err(CropError::RepeatedAspect(first, aspect));
        }
        seen.insert(reduced, aspect);
    }
    Ok(())
}

/// A window in the image's pixels: top-left corner and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// A chosen window and its score: the share of the calibrated saliency inside it (0–1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredWindow {
    #[serde(flatten)]
    pub window: Window,
    pub score: f64,
}

/// smartcrop.js's answer (its `CropResult`), so that its users swap one call: `topCrop` is the
/// window of the first aspect asked for and `crops` holds every aspect's window, in the order
/// asked. `score.total` is the window's [`ScoredWindow::score`]; smartcrop's own feature scores
/// (detail, saturation, skin, boost) have no counterpart here and are left out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SmartcropResult {
    #[serde(rename = "topCrop")]
    pub top_crop: SmartcropCrop,
    pub crops: Vec<SmartcropCrop>,
}

/// One window in smartcrop.js's shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SmartcropCrop {
    #[serde(flatten)]
    pub window: Window,
    pub score: SmartcropScore,
}

/// smartcrop.js's score object, holding the total only.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SmartcropScore {
    pub total: f64,
}

impl SmartcropResult {
    /// `windows` in smartcrop.js's shape; `None` without any.
    pub fn new(windows: &[ScoredWindow]) -> Option<Self> {
        let crops: Vec<SmartcropCrop> = windows
            .iter()
            .map(|w| SmartcropCrop {
                window: w.window,
                score: SmartcropScore { total: w.score },
            })
            .collect();
        Some(Self {
            top_crop: *crops.first()?,
            crops,
        })
    }
}

/// How windows are scored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropOptions {
    /// The map is raised to this power before it is read as a density of fixations.
    pub gamma: f64,
    /// Weight of the density the window's border runs through, per border pixel, relative to
    /// the density inside.
    pub border_penalty: f64,
}

impl Default for CropOptions {
    fn default() -> Self {
        CropOptions {
            gamma: 1.0,
            border_penalty: 0.0,
        }
    }
}

/// The size of the largest window of `aspect` inside `[width, height]`, times `scale` on each
/// side (rounded).
pub fn window_size(image: [u32; 2], aspect: Aspect, scale: f64) -> Result<[u32; 2], CropError> {
    if !(scale > 0.0 && scale <= 1.0) {
        return Err(CropError::Scale(scale));
    }
    let [width, height] = image;
    let (w, h) = (f64::from(width), f64::from(height));
    let ratio = f64::from(aspect.width) / f64::from(aspect.height);
    let (full_w, full_h) = if w / h > ratio {
        (h * ratio, h)
    } else {
        (w, w / ratio)
    };
    let size = [(full_w * scale).round(), (full_h * scale).round()];
    if size[0] < 1.0 || size[1] < 1.0 {
        return Err(CropError::TooSmall {
            aspect,
            scale,
            width,
            height,
        });
    }
    Ok([(size[0] as u32).min(width), (size[1] as u32).min(height)])
}

/// The best window of each of `aspects` at `scale` for `map` (the prediction at the image's
/// size), in order.
pub fn crop(
    map: &FloatMap,
    aspects: &[Aspect],
    scale: f64,
    options: &CropOptions,
) -> Result<Vec<ScoredWindow>, CropError> {
    let density = Density::new(map, options);
    aspects
        .iter()
        .map(|&aspect| {
            Ok(density.best(
                window_size([map.width(), map.height()], aspect, scale)?,
                options.border_penalty,
            ))
        })
        .collect()
}

/// A point in the image as shares of its width and height (0–1, from the top left).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FocalPoint {
    pub x: f64,
    pub y: f64,
    /// The mean share of the saliency that the crops centred on it keep.
    pub score: f64,
}

/// The crops a focal point is chosen for: the common aspects, each at full size and smaller.
const FOCAL_ASPECTS: [(u32, u32); 5] = [(1, 1), (4, 3), (3, 4), (16, 9), (9, 16)];
const FOCAL_SCALES: [f64; 3] = [1.0, 0.7, 0.5];

/// The focal point of `map` (the prediction at the image's size): the point that crops of any
/// aspect centred on it — moved inside the image where they would cross its edge, as image
/// services and CMS focal-point fields crop — keep the most saliency, on average over
/// 1:1, 4:3, 3:4, 16:9 and 9:16 at 100 %, 70 % and 50 % of their largest size. Unlike the top
/// peak (the single most salient spot), it weighs all of the saliency: with two faces it lies
/// between them when crops can hold both, and on a lone subject it sits at its centre of mass
/// rather than its brightest pixel.
pub fn focal_point(map: &FloatMap) -> FocalPoint {
    let density = Density::new(map, &CropOptions::default());
    let image = [map.width(), map.height()];
    let windows: Vec<[usize; 2]> = FOCAL_ASPECTS
        .iter()
        .flat_map(|&(w, h)| {
            FOCAL_SCALES.iter().filter_map(move |&scale| {
                window_size(
                    image,
                    Aspect {
                        width: w,
                        height: h,
                    },
                    scale,
                )
                .ok()
            })
        })
        .map(|size| density.cells(size))
        .collect();
    let (score, x, y) = (0..density.height)
        .flat_map(|y| (0..density.width).map(move |x| (x, y)))
        .map(|(x, y)| {
            let kept: f64 = windows
                .iter()
                .map(|&[w, h]| {
                    // Centred on cell (x, y), moved inside the grid.
                    let left = (x + 1).saturating_sub(w.div_ceil(2)).min(density.width - w);
                    let top = (y + 1)
                        .saturating_sub(h.div_ceil(2))
                        .min(density.height - h);
                    density.mass(left, top, [w, h])
                })
                .sum();
            (kept / windows.len().max(1) as f64, x, y)
        })
        .fold(
            (f64::NEG_INFINITY, 0, 0),
            |a, b| if b.0 > a.0 { b } else { a },
        );
    let centre = |cell: usize, pixels: usize| {
        (((cell as f64 + 0.5) * density.cell as f64) / pixels as f64).min(1.0)
    };
    FocalPoint {
        x: centre(x, density.image[0]),
        y: centre(y, density.image[1]),
        score,
    }
}

/// Searches run on a grid whose longer side has at most this many cells: the model predicts at
/// a few hundred pixels, so a finer grid only repeats its interpolation (and costs more than
/// the prediction).
const GRID: usize = 320;

/// A map read as a fixation density on a grid of `cell × cell` pixel blocks, with its
/// summed-area table and border prefix sums.
pub struct Density {
    /// The image's size in pixels, and the grid's.
    image: [usize; 2],
    cell: usize,
    width: usize,
    height: usize,
    /// `area[y (w+1) + x]`: the density summed over grid cells `[0, x) × [0, y)`.
    area: Vec<f64>,
    /// Prefix sums along each row (`w+1` per row) and each column (`h+1` per column).
    rows: Vec<f64>,
    columns: Vec<f64>,
}

impl Density {
    /// The map's block means raised to `gamma`, normalised to sum 1 (uniform for a map of
    /// zeros), on a grid of at most [`GRID`] cells a side.
    pub fn new(map: &FloatMap, options: &CropOptions) -> Self {
        let longer = map.width().max(map.height()) as usize;
        Self::on_grid(map, options.gamma, longer.div_ceil(GRID).max(1))
    }

    /// The map as it is, one cell a pixel (for exact searches).
    pub fn exact(map: &FloatMap) -> Self {
        Self::on_grid(map, 1.0, 1)
    }

    fn on_grid(map: &FloatMap, gamma: f64, cell: usize) -> Self {
        let image = [map.width() as usize, map.height() as usize];
        let (width, height) = (image[0].div_ceil(cell), image[1].div_ceil(cell));
        let mut sums = vec![0.0f64; width * height];
        let mut counts = vec![0.0f64; width * height];
        for (y, row) in map.as_raw().chunks_exact(image[0]).enumerate() {
            let base = (y / cell) * width;
            for (x, block) in row.chunks(cell).enumerate() {
                sums[base + x] += f64::from(block.iter().map(|v| v.max(0.0)).sum::<f32>());
                counts[base + x] += block.len() as f64;
            }
        }
        let mut values: Vec<f64> = sums
            .iter()
            .zip(&counts)
            .map(|(s, n)| (s / n).powf(gamma) * n)
            .collect();
        let total: f64 = values.iter().sum();
        let n = values.len() as f64;
        values
            .iter_mut()
            .for_each(|v| *v = if total > 0.0 { *v / total } else { 1.0 / n });
        let mut area = vec![0.0; (width + 1) * (height + 1)];
        let mut rows = vec![0.0; (width + 1) * height];
        let mut columns = vec![0.0; (height + 1) * width];
        for y in 0..height {
            let mut running = 0.0;
            for x in 0..width {
                let v = values[y * width + x];
                running += v;
                rows[y * (width + 1) + x + 1] = running;
                columns[x * (height + 1) + y + 1] = columns[x * (height + 1) + y] + v;
                area[(y + 1) * (width + 1) + x + 1] = area[y * (width + 1) + x + 1] + running;
            }
        }
        Self {
            image,
            cell,
            width,
            height,
            area,
            rows,
            columns,
        }
    }

    /// The density inside the grid window at `(x, y)` of `[w, h]` cells.
    fn mass(&self, x: usize, y: usize, [w, h]: [usize; 2]) -> f64 {
        let at = |x: usize, y: usize| self.area[y * (self.width + 1) + x];
        at(x + w, y + h) - at(x, y + h) - at(x + w, y) + at(x, y)
    }

    /// The density inside `window` (pixels), each grid cell counted by the share of its pixels
    /// the window covers (the density is uniform within a cell): the score of the window as
    /// returned, not of the whole cells the search moved over.
    fn window_mass(&self, window: &Window) -> f64 {
        let cell = self.cell;
        let span = |start: u32, length: u32, cells: usize, limit: usize| {
            let (start, end) = (start as usize, (start + length) as usize);
            (start / cell..end.div_ceil(cell).min(cells)).map(move |c| {
                let (lo, hi) = (c * cell, ((c + 1) * cell).min(limit));
                let covered = hi.min(end).saturating_sub(lo.max(start));
                (c, covered as f64 / (hi - lo) as f64)
            })
        };
        let at = |x: usize, y: usize| {
            let area = |x: usize, y: usize| self.area[y * (self.width + 1) + x];
            area(x + 1, y + 1) - area(x, y + 1) - area(x + 1, y) + area(x, y)
        };
        span(window.y, window.height, self.height, self.image[1])
            .flat_map(|(y, fy)| {
                span(window.x, window.width, self.width, self.image[0])
                    .map(move |(x, fx)| at(x, y) * fx * fy)
            })
            .sum()
    }

    /// The density on the grid window's border cells, per border cell.
    fn border(&self, x: usize, y: usize, [w, h]: [usize; 2]) -> f64 {
        let row = |r: usize| {
            self.rows[r * (self.width + 1) + x + w] - self.rows[r * (self.width + 1) + x]
        };
        let column = |c: usize| {
            self.columns[c * (self.height + 1) + y + h] - self.columns[c * (self.height + 1) + y]
        };
        let sum = row(y) + row(y + h - 1) + column(x) + column(x + w - 1);
        sum / (2 * (w + h)) as f64
    }

    /// A window of `size` pixels in grid cells (at least one, at most the grid).
    fn cells(&self, size: [u32; 2]) -> [usize; 2] {
        let cells =
            |pixels: u32, limit: usize| (pixels as usize).div_ceil(self.cell).clamp(1, limit);
        [cells(size[0], self.width), cells(size[1], self.height)]
    }

    /// The grid position `(x, y)` as a window of `size` pixels inside the image.
    fn window(&self, x: usize, y: usize, size: [u32; 2]) -> Window {
        let place = |cell: usize, length: u32, limit: usize| {
            ((cell * self.cell) as u32).min(limit as u32 - length)
        };
        Window {
            x: place(x, size[0], self.image[0]),
            y: place(y, size[1], self.image[1]),
            width: size[0],
            height: size[1],
        }
    }

    /// The window of `size` pixels with the most mass, every grid position tried (on an
    /// [`Density::exact`] map of fixation counts: the best window in hindsight).
    pub fn best_exhaustive(&self, size: [u32; 2]) -> ScoredWindow {
        let cells = self.cells(size);
        let (free_x, free_y) = (self.width - cells[0], self.height - cells[1]);
        let (_, x, y) = (0..=free_y)
            .flat_map(|y| (0..=free_x).map(move |x| (x, y)))
            .map(|(x, y)| (self.mass(x, y, cells), x, y))
            .fold(
                (f64::NEG_INFINITY, 0, 0),
                |a, b| if b.0 > a.0 { b } else { a },
            );
        let window = self.window(x, y, size);
        ScoredWindow {
            score: self.window_mass(&window),
            window,
        }
    }

    /// The window of `size` pixels with the highest `mass − penalty · border mean · window
    /// cells`: a coarse pass at a stride of 1/32 of the shorter side, then every position
    /// around the best.
    pub fn best(&self, size: [u32; 2], penalty: f64) -> ScoredWindow {
        let cells = self.cells(size);
        let area = (cells[0] * cells[1]) as f64;
        let score =
            |x: usize, y: usize| self.mass(x, y, cells) - penalty * self.border(x, y, cells) * area;
        let (free_x, free_y) = (self.width - cells[0], self.height - cells[1]);
        let stride = (cells[0].min(cells[1]) / 32).max(1);
        let best_of =
            |positions: &mut dyn Iterator<Item = (usize, usize)>| {
                positions.map(|(x, y)| (score(x, y), x, y)).fold(
                    (f64::NEG_INFINITY, 0, 0),
                    |a, b| if b.0 > a.0 { b } else { a },
                )
            };
        let coarse = |free: usize| (0..=free).step_by(stride).chain([free]);
        let (_, bx, by) =
            best_of(&mut coarse(free_y).flat_map(|y| coarse(free_x).map(move |x| (x, y))));
        let near = |b: usize, free: usize| b.saturating_sub(stride)..=(b + stride).min(free);
        let (_, x, y) =
            best_of(&mut near(by, free_y).flat_map(|y| near(bx, free_x).map(move |x| (x, y))));
        let window = self.window(x, y, size);
        ScoredWindow {
            score: self.window_mass(&window),
            window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aspect_asked_for_twice_is_named() {
        let aspects: Vec<Aspect> = ["1:1", "16:9", "2:2"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let e = distinct_aspects(&aspects).unwrap_err();
        assert_eq!(
            e.to_string(),
            "aspect `1:1` is asked for twice (as `2:2`): each aspect once"
        );
        assert!(distinct_aspects(&aspects[..2]).is_ok());
    }
    use image::Luma;

    /// A 600 × 400 map of Gaussian blobs `(x, y, σ, weight)`.
    fn blobs(spots: &[(f32, f32, f32, f32)]) -> FloatMap {
        FloatMap::from_fn(600, 400, |x, y| {
            let v = spots
                .iter()
                .map(|&(cx, cy, s, w)| {
                    let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                    w * (-d2 / (2.0 * s * s)).exp()
                })
                .sum::<f32>();
            Luma([v])
        })
    }

    #[test]
    fn the_focal_point_weighs_all_of_the_saliency_not_the_top_peak() {
        // One subject: the focal point is on it.
        let one = focal_point(&blobs(&[(450.0, 120.0, 25.0, 1.0)]));
        assert!(
            (one.x - 0.75).abs() < 0.03 && (one.y - 0.3).abs() < 0.03,
            "{one:?}"
        );
        // Two subjects, the left one a little brighter: the top peak is on the left one, the
        // focal point between them, where most crops hold both.
        let two = blobs(&[(200.0, 200.0, 20.0, 1.0), (400.0, 200.0, 20.0, 0.9)]);
        let peak = crate::render::peaks(&two, 1, 10.0)[0];
        assert!((peak.x as i32 - 200).abs() <= 2, "{peak:?}");
        let focal = focal_point(&two);
        assert!(
            (focal.x - 0.5).abs() < 0.05 && (focal.y - 0.5).abs() < 0.03,
            "{focal:?}"
        );
        assert!(focal.score > 0.5 && focal.score <= 1.0, "{focal:?}");
    }

    #[test]
    fn the_score_is_that_of_the_window_returned() {
        // 640 × 2 pixels on a grid of 2-pixel cells: a 3-pixel-wide window covers one and a half
        // cells, and a uniform map gives it exactly its share of the pixels.
        let map = FloatMap::from_pixel(640, 2, Luma([1.0f32]));
        let density = Density::new(&map, &CropOptions::default());
        for found in [density.best([3, 2], 0.0), density.best_exhaustive([3, 2])] {
            assert_eq!((found.window.width, found.window.height), (3, 2));
            assert!(
                (found.score - 6.0 / 1280.0).abs() < 1e-12,
                "{}",
                found.score
            );
        }
    }

    #[test]
    fn aspects_parse_and_bad_ones_are_named() {
        assert_eq!(
            "16:9".parse::<Aspect>(),
            Ok(Aspect {
                width: 16,
                height: 9
            })
        );
        for bad in ["16x9", "0:1", "1:0", "a:b", "", "-1:2"] {
            assert_eq!(
                bad.parse::<Aspect>(),
                Err(CropError::Aspect(bad.to_string())),
                "{bad}"
            );
        }
        assert_eq!(
            Aspect::of_size([1920, 1080]),
            Aspect {
                width: 16,
                height: 9
            }
        );
    }

    #[test]
    fn the_largest_window_fills_one_side() {
        let square = Aspect {
            width: 1,
            height: 1,
        };
        assert_eq!(window_size([800, 600], square, 1.0), Ok([600, 600]));
        assert_eq!(
            window_size(
                [800, 600],
                Aspect {
                    width: 16,
                    height: 9
                },
                1.0
            ),
            Ok([800, 450])
        );
        assert_eq!(
            window_size(
                [800, 600],
                Aspect {
                    width: 9,
                    height: 16
                },
                0.5
            ),
            Ok([169, 300])
        );
        assert_eq!(
            window_size([800, 600], square, 0.0),
            Err(CropError::Scale(0.0))
        );
        assert_eq!(
            window_size([800, 600], square, 1.5),
            Err(CropError::Scale(1.5))
        );
        assert!(matches!(
            window_size(
                [1, 1],
                Aspect {
                    width: 16,
                    height: 1
                },
                1.0
            ),
            Err(CropError::TooSmall { .. })
        ));
    }

    #[test]
    fn the_window_goes_where_the_mass_is_not_to_the_single_maximum() {
        // A sharp single peak at the left, a broad bright region at the right holding more.
        let map = FloatMap::from_fn(200, 100, |x, y| {
            let peak = if (x, y) == (10, 50) { 1.0 } else { 0.0 };
            let region = if (140..190).contains(&x) && (20..80).contains(&y) {
                0.6
            } else {
                0.01
            };
            Luma([f32::max(peak, region)])
        });
        let options = CropOptions {
            gamma: 1.0,
            border_penalty: 0.0,
        };
        let square = [Aspect {
            width: 1,
            height: 1,
        }];
        let found = crop(&map, &square, 0.6, &options).unwrap()[0];
        assert_eq!((found.window.width, found.window.height), (60, 60));
        assert!((130..=140).contains(&found.window.x), "{found:?}");
        assert!(found.score > 0.5);
        // Brute force over every position agrees.
        let density = Density::new(&map, &options);
        let best = (0..=140)
            .flat_map(|x| (0..=40).map(move |y| (x, y)))
            .map(|(x, y)| density.mass(x, y, [60, 60]))
            .fold(0.0, f64::max);
        assert!((found.score - best).abs() < 1e-12);
    }
}
