//! `absnet-bench crop`: how many of the observers' fixations each cropping method keeps, per
//! aspect ratio and scale, on held-out images with real eye fixations — absnet's windows, the
//! centre crop, libvips `smartcrop` (attention and entropy, where `vips` is installed), the
//! `smartcrop2` crate, and the best window in hindsight (the upper bound) — and what cropping
//! costs on top of prediction.

use std::num::NonZeroU32;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use absnet_data::DatasetSpec;
use absnet_data::split::Split;
use absnet_predict::crop::{self, Aspect, CropOptions, Density, Window};
use absnet_predict::render::FloatMap;
use absnet_predict::{ModelChoice, Predictor, PredictorOptions};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use image::RgbImage;
use rayon::prelude::*;

#[derive(clap::Args)]
pub struct CropBenchArgs {
    /// The model: `fast`, `accurate` (built in) or a model file.
    #[arg(long, default_value = "fast")]
    model: ModelChoice,
    /// Datasets and their split files, `SPEC=SPLIT`, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "osie:../shared/data/osie=models/splits/osie.json,scene:../shared/data/scene=models/splits/scene.json,fixatons:../shared/data/mit1003?first_fixation=drop=models/splits/mit1003.json"
    )]
    sets: Vec<String>,
    /// The part of each split scored (`val` to tune, `test` to report).
    #[arg(long, default_value = "test")]
    part: String,
    #[arg(long, value_delimiter = ',', default_value = "1:1,16:9,9:16")]
    aspects: Vec<Aspect>,
    #[arg(long, value_delimiter = ',', default_value = "1.0,0.6")]
    scales: Vec<f64>,
    /// absnet's calibration exponent and border penalty (default: the library's).
    #[arg(long)]
    gamma: Option<f64>,
    #[arg(long)]
    border_penalty: Option<f64>,
    /// Leave out libvips and smartcrop2 (absnet, centre and the upper bound only).
    #[arg(long)]
    no_peers: bool,
}

/// The methods compared, in table order.
const METHODS: [&str; 6] = [
    "absnet",
    "centre",
    "vips attention",
    "vips entropy",
    "smartcrop2",
    "best window",
];

/// One scored image: its photo, its fixations (pixels of the photo) and absnet's prediction.
struct Scored {
    photo: RgbImage,
    fixations: Vec<(f64, f64)>,
    map: FloatMap,
}

pub fn run(args: &CropBenchArgs, device: &Device) -> Result<()> {
    let mut options = CropOptions::default();
    options.gamma = args.gamma.unwrap_or(options.gamma);
    options.border_penalty = args.border_penalty.unwrap_or(options.border_penalty);
    let predictor = Predictor::load(&args.model, &PredictorOptions::default(), device)?;
    let samples = held_out(&args.sets, &args.part)?;
    let vips = !args.no_peers
        && Command::new("vips")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    let (images, predict_seconds) = predict(&predictor, &samples)?;
    let start = Instant::now();
    let windows: Vec<Vec<Vec<Option<Window>>>> = images
        .par_iter()
        .map(|image| {
            let density = Density::new(&image.map, &options);
            combinations(args)
                .map(|(aspect, scale)| {
                    windows(
                        image,
                        &density,
                        aspect,
                        scale,
                        &options,
                        args.no_peers,
                        vips,
                    )
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let absnet_seconds = absnet_crop_seconds(&images, args, &options);
    print_table(args, &images, &windows, samples.len());
    println!(
        "\nabsnet's windows ({} per image) took {:.1} ms per image on top of {:.1} ms of prediction: {:.1} % more (the other methods: {:.1} s in all)",
        args.aspects.len() * args.scales.len(),
        absnet_seconds * 1e3 / images.len() as f64,
        predict_seconds * 1e3 / images.len() as f64,
        100.0 * absnet_seconds / predict_seconds,
        start.elapsed().as_secs_f64()
    );
    if !vips && !args.no_peers {
        println!("libvips: `vips` not found (install Debian's libvips-tools to compare with it)");
    }
    Ok(())
}

fn combinations(args: &CropBenchArgs) -> impl Iterator<Item = (Aspect, f64)> + '_ {
    args.aspects
        .iter()
        .flat_map(|&a| args.scales.iter().map(move |&s| (a, s)))
}

/// The samples of `part` of each `SPEC=SPLIT`.
fn held_out(sets: &[String], part: &str) -> Result<Vec<absnet_data::Sample>> {
    let mut samples = Vec::new();
    for set in sets {
        let (spec, split) = set
            .rsplit_once('=')
            .with_context(|| format!("`{set}`: expected SPEC=SPLIT"))?;
        let spec: DatasetSpec = spec.parse()?;
        let split = Split::read(Path::new(split))?;
        let ids = match part {
            "train" => &split.train,
            "val" => &split.val,
            "test" => &split.test,
            other => bail!("--part {other}: expected train, val or test"),
        };
        samples.extend(split.select_present(&spec.load_named()?, ids));
    }
    Ok(samples)
}

/// Every sample decoded and predicted in batches of 8; the seconds prediction took.
fn predict(predictor: &Predictor, samples: &[absnet_data::Sample]) -> Result<(Vec<Scored>, f64)> {
    let mut images = Vec::with_capacity(samples.len());
    let mut seconds = 0.0;
    for chunk in samples.chunks(8) {
        let photos: Vec<RgbImage> = chunk
            .par_iter()
            .map(|s| {
                absnet_data::pipeline::decode_file(
                    &s.image,
                    absnet_data::pipeline::DEFAULT_MAX_PIXELS,
                )
            })
            .collect::<Result<_, _>>()?;
        let start = Instant::now();
        let predictions = predictor.predict_batch(&photos.iter().collect::<Vec<_>>());
        seconds += start.elapsed().as_secs_f64();
        for ((sample, photo), prediction) in chunk.iter().zip(photos).zip(predictions) {
            let (w, h) = (f64::from(photo.width()), f64::from(photo.height()));
            let fixations = sample
                .fixations()
                .filter(|f| f.x >= 0.0 && f.y >= 0.0 && f.x < w && f.y < h)
                .map(|f| (f.x, f.y))
                .collect();
            images.push(Scored {
                photo,
                fixations,
                map: prediction.saliency,
            });
        }
    }
    Ok((images, seconds))
}

/// Seconds absnet's window search takes over all images and combinations (one thread).
fn absnet_crop_seconds(images: &[Scored], args: &CropBenchArgs, options: &CropOptions) -> f64 {
    let start = Instant::now();
    for image in images {
        let density = Density::new(&image.map, options);
        for (aspect, scale) in combinations(args) {
            if let Ok(size) =
                crop::window_size([image.map.width(), image.map.height()], aspect, scale)
            {
                let _ = density.best(size, options.border_penalty);
            }
        }
    }
    start.elapsed().as_secs_f64()
}

/// Each method's window (in [`METHODS`] order; `None` where a peer is left out).
fn windows(
    image: &Scored,
    density: &Density,
    aspect: Aspect,
    scale: f64,
    options: &CropOptions,
    no_peers: bool,
    vips: bool,
) -> Result<Vec<Option<Window>>> {
    let [w, h] = [image.photo.width(), image.photo.height()];
    let size = crop::window_size([w, h], aspect, scale)?;
    let centre = Window {
        x: (w - size[0]) / 2,
        y: (h - size[1]) / 2,
        width: size[0],
        height: size[1],
    };
    let absnet = density.best(size, options.border_penalty).window;
    let peers = !no_peers;
    let attention = if vips && peers {
        Some(vips_window(&image.photo, size, "attention")?)
    } else {
        None
    };
    let entropy = if vips && peers {
        Some(vips_window(&image.photo, size, "entropy")?)
    } else {
        None
    };
    let smartcrop = if peers {
        Some(smartcrop_window(&image.photo, aspect, size)?)
    } else {
        None
    };
    Ok(vec![
        Some(absnet),
        Some(centre),
        attention,
        entropy,
        smartcrop,
        Some(best_window(image, size)),
    ])
}

/// The window of `size` holding the most fixations (exhaustive search).
fn best_window(image: &Scored, size: [u32; 2]) -> Window {
    let [w, h] = [image.photo.width(), image.photo.height()];
    let mut counts = FloatMap::new(w, h);
    for &(x, y) in &image.fixations {
        counts.get_pixel_mut(x as u32, y as u32).0[0] += 1.0;
    }
    Density::exact(&counts).best_exhaustive(size).window
}

/// smartcrop2's largest window of `aspect`, shrunk about its centre to `size` (it only finds
/// the largest).
fn smartcrop_window(photo: &RgbImage, aspect: Aspect, size: [u32; 2]) -> Result<Window> {
    let nonzero = |v: u32| NonZeroU32::new(v).expect("aspects are at least 1");
    let found = smartcrop::find_best_crop(photo, nonzero(aspect.width), nonzero(aspect.height))
        .map_err(|e| anyhow::anyhow!("smartcrop2: {e}"))?
        .crop;
    let centre = |start: u32, length: u32, wanted: u32, limit: u32| {
        (start + length / 2)
            .saturating_sub(wanted / 2)
            .min(limit - wanted)
    };
    Ok(Window {
        x: centre(found.x, found.width, size[0], photo.width()),
        y: centre(found.y, found.height, size[1], photo.height()),
        width: size[0],
        height: size[1],
    })
}

/// libvips' `smartcrop` window: the photo as decoded here is written as PNG, cropped by
/// `vips smartcrop`, and the crop located in the photo (an exact sub-image).
fn vips_window(photo: &RgbImage, size: [u32; 2], interesting: &str) -> Result<Window> {
    let dir = std::env::temp_dir().join(format!(
        "absnet-bench-vips-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir)?;
    let (input, output) = (dir.join("in.png"), dir.join("out.png"));
    photo.save(&input)?;
    let status = Command::new("vips")
        .arg("smartcrop")
        .args([&input, &output])
        .args([
            size[0].to_string(),
            size[1].to_string(),
            "--interesting".into(),
            interesting.into(),
        ])
        .output()
        .context("running vips")?;
    if !status.status.success() {
        bail!(
            "vips smartcrop: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let cropped = image::open(&output)?.into_rgb8();
    locate(photo, &cropped).context("vips' crop is not a part of the photo")
}

/// Where `part` lies in `photo`, exactly.
fn locate(photo: &RgbImage, part: &RgbImage) -> Option<Window> {
    let (w, h) = part.dimensions();
    let matches = |x: u32, y: u32| {
        (0..h).step_by(7).all(|dy| {
            (0..w)
                .step_by(5)
                .all(|dx| photo.get_pixel(x + dx, y + dy) == part.get_pixel(dx, dy))
        })
    };
    (0..=photo.height() - h)
        .flat_map(|y| (0..=photo.width() - w).map(move |x| (x, y)))
        .find(|&(x, y)| photo.get_pixel(x, y) == part.get_pixel(0, 0) && matches(x, y))
        .map(|(x, y)| Window {
            x,
            y,
            width: w,
            height: h,
        })
}

/// The share of `fixations` inside `window`.
fn kept(fixations: &[(f64, f64)], window: &Window) -> f64 {
    let inside = |&&(x, y): &&(f64, f64)| {
        x >= f64::from(window.x)
            && y >= f64::from(window.y)
            && x < f64::from(window.x + window.width)
            && y < f64::from(window.y + window.height)
    };
    fixations.iter().filter(inside).count() as f64 / fixations.len().max(1) as f64
}

fn print_table(
    args: &CropBenchArgs,
    images: &[Scored],
    windows: &[Vec<Vec<Option<Window>>>],
    count: usize,
) {
    println!(
        "share of all observers' fixations inside the crop, mean over {count} {} images (model {})",
        args.part, args.model
    );
    println!(
        "| aspect | scale | {} | absnet, of the way from centre to best |",
        METHODS.join(" | ")
    );
    println!("|---|---|{}---|", "---|".repeat(METHODS.len()));
    for (c, (aspect, scale)) in combinations(args).enumerate() {
        let mean = |m: usize| -> Option<f64> {
            let values: Option<Vec<f64>> = images
                .iter()
                .zip(windows)
                .map(|(i, w)| w[c][m].map(|w| kept(&i.fixations, &w)))
                .collect();
            values.map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
        };
        let means: Vec<Option<f64>> = (0..METHODS.len()).map(mean).collect();
        let cells: Vec<String> = means
            .iter()
            .map(|m| m.map_or("-".into(), |v| format!("{v:.3}")))
            .collect();
        let way = match (means[0], means[1], means[5]) {
            (Some(a), Some(c), Some(b)) if b > c => format!("{:.0} %", 100.0 * (a - c) / (b - c)),
            _ => "-".into(),
        };
        println!("| {aspect} | {scale} | {} | {way} |", cells.join(" | "));
    }
}
