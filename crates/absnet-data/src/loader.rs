//! From samples to model-ready examples: decode, fit to the input size, optionally flip, and
//! carry the labels along consistently — fixations moved with the pixels, the ground-truth
//! density drawn at input resolution ([`crate::density`], σ scaled with the image) or
//! read from the dataset's own map, vote counts untouched. Batches are decoded in parallel and
//! visited in a seeded order; with `skip_bad`, samples that fail are counted and left out.

use std::collections::BTreeMap;
use std::path::Path;

use crate::density::{Border, density_map};
use image::imageops::{self, FilterType};
use image::{GrayImage, RgbImage};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::pipeline::{self, Fit, Placement};
use crate::{DataError, GazePoint, Opinion, Sample};

/// How samples become examples.
#[derive(Clone, Debug)]
pub struct LoaderConfig {
    /// Model input `[width, height]`.
    pub size: [u32; 2],
    pub fit: Fit,
    /// Mirror half of the examples (chosen by the seed) left to right, fixations included.
    pub flip: bool,
    /// σ of the ground-truth density as a fraction of the image diagonal, for samples whose
    /// dataset states no σ of its own ([`Sample::sigma`]; 3 % is the common
    /// choice).
    pub sigma_fraction: f64,
    pub max_pixels: u64,
    pub seed: u64,
    /// Leave out samples that fail (counted in [`Skipped`]) instead of stopping.
    pub skip_bad: bool,
    /// Decode and fit the image. Without (a frozen encoder's features are cached), only the
    /// image's header is read for its size, and [`Example::image`] is empty.
    pub pixels: bool,
}

impl LoaderConfig {
    pub fn new(size: [u32; 2]) -> Self {
        Self {
            size,
            fit: Fit::Resize,
            flip: false,
            sigma_fraction: 0.03,
            max_pixels: pipeline::DEFAULT_MAX_PIXELS,
            seed: 0,
            skip_bad: false,
            pixels: true,
        }
    }
}

/// One example at model resolution.
#[derive(Clone, Debug)]
pub struct Example {
    pub id: String,
    /// RGB8, `size[1]` rows of `size[0]` pixels; empty (0×0) when the loader reads no pixels.
    pub image: RgbImage,
    /// Fixations in input pixels (all observers pooled), after fitting and flipping.
    pub fixations: Vec<GazePoint>,
    /// Ground-truth density at input resolution, summing to 1; `None` without saliency labels.
    pub density: Option<Vec<f32>>,
    pub votes: Option<[u32; 10]>,
    /// Opinion scores of a quality study.
    pub opinion: Option<Opinion>,
    pub placement: Placement,
    pub flipped: bool,
    /// A random number for this visit of the sample, for augmentations applied after loading
    /// (where a training crop's window lies): the same for the same seed, pass and position in
    /// the pass; 0 outside training.
    pub draw: u64,
}

/// Why a sample could not become an example.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    // The messages include the cause, so it is not repeated as a source.
    #[error("{id}: {cause}")]
    Image {
        id: String,
        cause: pipeline::ImageError,
    },
    #[error("{id}: {cause}")]
    Labels { id: String, cause: DataError },
    #[error("{id}: {problem}")]
    Unusable { id: String, problem: String },
}

impl SampleError {
    /// A short category for the skip summary.
    pub fn kind(&self) -> &'static str {
        match self {
            SampleError::Image { cause, .. } => match cause {
                pipeline::ImageError::TooLarge { .. } => "image over the pixel limit",
                pipeline::ImageError::Empty { .. } => "empty image",
                pipeline::ImageError::Unreadable { .. } => "unreadable image",
                pipeline::ImageError::Truncated { .. } => "truncated image",
            },
            SampleError::Labels { .. } => "unreadable labels",
            SampleError::Unusable { .. } => "no usable labels",
        }
    }
}

/// Turns one sample into an example.
pub fn prepare(sample: &Sample, config: &LoaderConfig, flip: bool) -> Result<Example, SampleError> {
    let id = || sample.id.clone();
    let image_error = |cause| SampleError::Image { id: id(), cause };
    let (mut image, placement) = if config.pixels {
        let original =
            pipeline::decode_file(&sample.image, config.max_pixels).map_err(image_error)?;
        pipeline::fit(&original, config.size, config.fit)
    } else {
        let original = pipeline::oriented_size(&sample.image).map_err(image_error)?;
        let placement = pipeline::placement(original, config.size, config.fit);
        (RgbImage::new(0, 0), placement)
    };
    let [w, h] = config.size;
    let [ow, oh] = placement.original.map(f64::from);
    let mut points: Vec<_> = sample.fixations().copied().collect();
    if let Some(observer) = sample
        .load_fixation_map()
        .map_err(|cause| SampleError::Labels { id: id(), cause })?
    {
        points.extend(observer.fixations);
    }
    // Points outside the image or not finite carry no position: dropped.
    let mut fixations: Vec<GazePoint> = points
        .iter()
        .filter(|p| p.x >= 0.0 && p.y >= 0.0 && p.x < ow && p.y < oh)
        .map(|p| {
            let (x, y) = placement.to_input(p.x, p.y);
            GazePoint {
                x: x.min(f64::from(w) - 1e-9),
                y: y.min(f64::from(h) - 1e-9),
                duration_ms: None,
            }
        })
        .collect();
    if flip {
        imageops::flip_horizontal_in_place(&mut image);
        for f in &mut fixations {
            f.x = (f64::from(w) - f.x).clamp(0.0, f64::from(w) - 1e-9);
        }
    }
    let density = if let Some(path) = &sample.density {
        Some(
            density_from_file(path, &placement, flip, config)
                .map_err(|cause| SampleError::Labels { id: id(), cause })?,
        )
    } else if !fixations.is_empty() {
        let scale = f64::from(placement.content[0]) / ow;
        let sigma = sample.sigma.unwrap_or(config.sigma_fraction * ow.hypot(oh)) * scale;
        let map = density_map(
            w as usize,
            h as usize,
            fixations.iter().map(|f| (f.x, f.y)),
            sigma,
            Border::Zero,
        )
        .expect("fixations were clamped into the input");
        Some(normalised(map.iter().map(|&v| v as f32).collect()))
    } else {
        None
    };
    if density.is_none() && sample.votes.is_none() && sample.opinion.is_none() {
        let problem = if points.is_empty() {
            "no fixations, no density map, no votes and no opinion scores".to_string()
        } else {
            format!(
                "all {} fixations lie outside the {ow}×{oh} image or are not finite",
                points.len()
            )
        };
        return Err(SampleError::Unusable { id: id(), problem });
    }
    Ok(Example {
        id: id(),
        image,
        fixations,
        density,
        votes: sample.votes,
        opinion: sample.opinion,
        placement,
        flipped: flip,
        draw: 0,
    })
}

fn normalised(mut values: Vec<f32>) -> Vec<f32> {
    let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
    if sum > 0.0 {
        let inverse = (1.0 / sum) as f32;
        values.iter_mut().for_each(|v| *v *= inverse);
    }
    values
}

/// A density image fitted exactly like the stimulus (same placement, black padding).
fn density_from_file(
    path: &Path,
    placement: &Placement,
    flip: bool,
    config: &LoaderConfig,
) -> Result<Vec<f32>, DataError> {
    let map = image::open(path)
        .map_err(|e| DataError::invalid(path, e))?
        .into_luma8();
    if [map.width(), map.height()] != placement.original {
        return Err(DataError::invalid(
            path,
            format!(
                "density map is {}×{}, its image {}×{}",
                map.width(),
                map.height(),
                placement.original[0],
                placement.original[1]
            ),
        ));
    }
    let [cw, ch] = placement.content;
    let resized = imageops::resize(&map, cw, ch, FilterType::Triangle);
    let mut canvas = GrayImage::new(config.size[0], config.size[1]);
    imageops::replace(
        &mut canvas,
        &resized,
        placement.offset[0].into(),
        placement.offset[1].into(),
    );
    if flip {
        imageops::flip_horizontal_in_place(&mut canvas);
    }
    Ok(normalised(
        canvas.into_raw().into_iter().map(f32::from).collect(),
    ))
}

/// Samples left out, by kind, with the first message of each kind.
#[derive(Clone, Debug, Default)]
pub struct Skipped {
    pub counts: BTreeMap<&'static str, (usize, String)>,
}

impl Skipped {
    pub fn total(&self) -> usize {
        self.counts.values().map(|(n, _)| n).sum()
    }

    fn add(&mut self, error: &SampleError) {
        let entry = self
            .counts
            .entry(error.kind())
            .or_insert((0, error.to_string()));
        entry.0 += 1;
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} samples skipped", self.total())?;
        for (kind, (count, first)) in &self.counts {
            write!(f, "; {count} × {kind} (e.g. {first})")?;
        }
        Ok(())
    }
}

/// Seeded epochs of batches over a fixed list of samples.
pub struct Loader<'a> {
    samples: &'a [Sample],
    config: LoaderConfig,
}

impl<'a> Loader<'a> {
    pub fn new(samples: &'a [Sample], config: LoaderConfig) -> Self {
        Self { samples, config }
    }

    /// Visiting order of epoch `epoch` and whether each visit is flipped: the same for the same
    /// seed and epoch, whatever ran before.
    pub fn order(&self, epoch: u64) -> Vec<(usize, bool)> {
        let mut rng =
            StdRng::seed_from_u64(self.config.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut order: Vec<usize> = (0..self.samples.len()).collect();
        order.shuffle(&mut rng);
        order
            .into_iter()
            .map(|i| (i, self.config.flip && rand::Rng::random_bool(&mut rng, 0.5)))
            .collect()
    }

    /// Decodes one batch (the visits `visits`) in parallel. Failures stop the batch with the
    /// first error, or, with `skip_bad`, are counted into `skipped`.
    pub fn batch(
        &self,
        visits: &[(usize, bool)],
        skipped: &mut Skipped,
    ) -> Result<Vec<Example>, SampleError> {
        let results: Vec<Result<Example, SampleError>> = visits
            .par_iter()
            .map(|&(i, flip)| prepare(&self.samples[i], &self.config, flip))
            .collect();
        let mut batch = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(example) => batch.push(example),
                Err(error) if self.config.skip_bad => skipped.add(&error),
                Err(error) => return Err(error),
            }
        }
        Ok(batch)
    }
}

/// How fast examples were prepared.
#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    pub examples: usize,
    pub seconds: f64,
}

/// Prepares the first `images` examples of `samples` (all by default) in epoch 0's order, in
/// batches of `batch`, and times it.
pub fn throughput(
    samples: &[Sample],
    config: LoaderConfig,
    batch: usize,
    images: Option<usize>,
) -> Result<Throughput, SampleError> {
    let loader = Loader::new(samples, config);
    let order = loader.order(0);
    let order = &order[..images.unwrap_or(order.len()).min(order.len())];
    let mut skipped = Skipped::default();
    let start = std::time::Instant::now();
    let mut examples = 0;
    for visits in order.chunks(batch.max(1)) {
        examples += loader.batch(visits, &mut skipped)?.len();
    }
    Ok(Throughput {
        examples,
        seconds: start.elapsed().as_secs_f64(),
    })
}
