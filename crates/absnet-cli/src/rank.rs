//! `absnet rank`: the best shots of a burst or an album. Every photo is scored (picture quality,
//! aesthetics, or how concentrated its saliency is), near-duplicate shots are grouped by a
//! perceptual hash so that a burst holds one place in the ranking, and the result is written as
//! `ranking.csv` and a contact sheet, `contact-sheet.html` (thumbnails in rank order with their
//! scores, the heatmap on hover, each shot's near-duplicates beside it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use absnet_predict::render::{self, Colormap};
use absnet_predict::{Prediction, Predictor};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use image::RgbImage;
use image::imageops::{self, FilterType};
use image_hasher::{HashAlg, Hasher, HasherConfig, ImageHash};
use rayon::prelude::*;

use crate::args::{ModelInputArgs, QualityModelArgs, load_predictor};
use crate::inputs::{self, Source};

#[derive(clap::Args)]
pub struct RankArgs {
    /// Image files, folders of images, or quoted file-name patterns.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// What ranks a photo: `quality` (the picture-quality score, best first), `aesthetics` (the
    /// aesthetics mean, best first; needs a model with that head) or `saliency-spread` (how
    /// spread out the predicted attention is, 0–1: a clear subject first).
    #[arg(long, value_enum, default_value_t = By::Quality)]
    by: By,
    /// How many of the best shots the contact sheet marks (their near-duplicates aside).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    top: u32,
    /// Two shots whose perceptual hashes (64-bit gradient hash) differ in at most this many bits
    /// are near-duplicates; 0 groups identical-looking shots only.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=64))]
    duplicate_distance: u32,
    /// Output folder for `ranking.csv`, `contact-sheet.html` and `thumbs/`.
    #[arg(long, default_value = "ranking")]
    out: PathBuf,
    /// Replace an earlier ranking in the output folder.
    #[arg(long)]
    overwrite: bool,
    /// Images per forward pass (1–256).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    batch: u16,
    #[command(flatten)]
    model_input: ModelInputArgs,
    #[command(flatten)]
    quality: QualityModelArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum By {
    Quality,
    Aesthetics,
    SaliencySpread,
}

impl By {
    fn name(self) -> &'static str {
        match self {
            By::Quality => "quality",
            By::Aesthetics => "aesthetics",
            By::SaliencySpread => "saliency-spread",
        }
    }

    /// The photo's score, or why the model cannot give it.
    fn score(self, prediction: &Prediction) -> Option<f64> {
        match self {
            By::Quality => prediction.quality.as_ref().map(|q| q.score),
            By::Aesthetics => prediction.aesthetics.as_ref().map(|a| a.mean),
            By::SaliencySpread => Some(saliency_spread(&prediction.density())),
        }
    }

    /// Whether a higher score ranks first.
    fn higher_first(self) -> bool {
        self != By::SaliencySpread
    }
}

/// The entropy of a density over pixels as a share of the largest possible (a uniform map): 0
/// when all attention falls on one pixel, 1 when it is spread evenly.
fn saliency_spread(density: &[f64]) -> f64 {
    if density.len() < 2 {
        return 0.0;
    }
    let entropy: f64 = density
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| -p * p.ln())
        .sum();
    entropy / (density.len() as f64).ln()
}

/// What is kept of each photo once it is scored.
struct Shot {
    name: String,
    score: f64,
    hash: ImageHash,
    /// Thumbnail and heatmap thumbnail, as written under `thumbs/`.
    thumbnail: String,
    heatmap: String,
}

const THUMBNAIL: u32 = 320;

pub fn run(args: &RankArgs, device: &Device) -> Result<()> {
    let csv = args.out.join("ranking.csv");
    if csv.exists() && !args.overwrite {
        bail!(
            "{} holds an earlier ranking; pass --overwrite to replace it or choose another --out",
            csv.display()
        );
    }
    let predictor = load_predictor(
        &args.model_input,
        args.quality.quality_model.as_ref(),
        device,
    )?;
    let missing = match args.by {
        By::Quality => (!predictor.has_quality()).then_some("picture-quality"),
        By::Aesthetics => (!predictor.has_aesthetics()).then_some("aesthetics"),
        By::SaliencySpread => None,
    };
    if let Some(head) = missing {
        bail!(
            "{} has no trained {head} head, so it cannot rank by {}; use a model with one \
             (`absnet train`, `absnet export`) or --by saliency-spread",
            predictor.path().display(),
            args.by.name()
        );
    }
    let thumbs = args.out.join("thumbs");
    std::fs::create_dir_all(&thumbs).with_context(|| format!("{}", thumbs.display()))?;
    let (sources, unlisted) = inputs::collect(&args.inputs);
    let mut failures: Vec<(String, String)> = unlisted
        .into_iter()
        .map(|u| (u.input.display().to_string(), format!("{:#}", u.error)))
        .collect();
    let hasher = HasherConfig::new()
        .hash_alg(HashAlg::Gradient)
        .hash_size(8, 8)
        .to_hasher();
    let mut shots = Vec::new();
    let mut stems = std::collections::HashSet::new();
    let bar = indicatif::ProgressBar::new(sources.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} photos scored, ETA {eta}")
            .expect("valid template"),
    );
    for chunk in sources.chunks(usize::from(args.batch)) {
        let decoded: Vec<Result<RgbImage>> = chunk
            .par_iter()
            .map(|s| s.decode(args.model_input.max_bytes, args.model_input.max_pixels))
            .collect();
        let mut ready = Vec::new();
        for (source, photo) in chunk.iter().zip(decoded) {
            match photo {
                Ok(photo) => ready.push((source, photo)),
                Err(e) => {
                    bar.suspend(|| eprintln!("error: {e:#}"));
                    failures.push((source.name(), format!("{e:#}")));
                }
            }
        }
        let photos: Vec<&RgbImage> = ready.iter().map(|(_, p)| p).collect();
        for ((source, photo), prediction) in ready.iter().zip(predictor.predict_batch(&photos)) {
            let stem = unique_stem(source, &mut stems);
            let shot = shoot(args, &predictor, &hasher, source, photo, &prediction, stem)?;
            shots.push(shot);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let groups = group(shots, args.by, args.duplicate_distance);
    absnet_fs::write_atomically(&csv, ranking_csv(&groups, &failures)?.as_bytes())
        .with_context(|| csv.display().to_string())?;
    let sheet = args.out.join("contact-sheet.html");
    let html = contact_sheet(&groups, args, predictor.path());
    absnet_fs::write_atomically(&sheet, html.as_bytes())
        .with_context(|| sheet.display().to_string())?;
    let shown = groups.len().min(args.top as usize);
    println!("the best {shown} by {}:", args.by.name());
    for (rank, group) in groups.iter().take(shown).enumerate() {
        let best = &group[0];
        let others = match group.len() {
            1 => String::new(),
            n => format!(
                " (+{} near-duplicate{})",
                n - 1,
                if n > 2 { "s" } else { "" }
            ),
        };
        println!("{:>3}. {:.3}  {}{others}", rank + 1, best.score, best.name);
    }
    println!(
        "{} photos in {} groups; {} and {}",
        groups.iter().map(Vec::len).sum::<usize>(),
        groups.len(),
        csv.display(),
        sheet.display()
    );
    if !failures.is_empty() {
        bail!("{} inputs failed", failures.len());
    }
    Ok(())
}

/// The input's stem, made unique among the photos of this ranking (`a`, `a-2`, …).
fn unique_stem(source: &Source, seen: &mut std::collections::HashSet<String>) -> String {
    let stem = source.stem();
    let mut candidate = stem.clone();
    let mut n = 1;
    while !seen.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{stem}-{n}");
    }
    candidate
}

/// Scores one photo, hashes it and writes its two thumbnails.
fn shoot(
    args: &RankArgs,
    predictor: &Predictor,
    hasher: &Hasher,
    source: &Source,
    photo: &RgbImage,
    prediction: &Prediction,
    stem: String,
) -> Result<Shot> {
    let score = args.by.score(prediction).with_context(|| {
        format!(
            "{}: no {} score",
            predictor.path().display(),
            args.by.name()
        )
    })?;
    let hash = hasher.hash_image(photo);
    let heat = render::overlay(photo, &prediction.display_map(), Colormap::Jet, 0.5);
    let mut names = Vec::new();
    for (picture, suffix) in [(photo, "jpg"), (&heat, "heat.jpg")] {
        let small = thumbnail(picture);
        let name = format!("thumbs/{stem}.{suffix}");
        let path = args.out.join(&name);
        let mut bytes = Vec::new();
        small.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )?;
        absnet_fs::write_atomically(&path, &bytes).with_context(|| path.display().to_string())?;
        names.push(name);
    }
    let [thumbnail, heatmap] = <[String; 2]>::try_from(names).expect("two thumbnails");
    Ok(Shot {
        name: source.name(),
        score,
        hash,
        thumbnail,
        heatmap,
    })
}

fn thumbnail(picture: &RgbImage) -> RgbImage {
    let (w, h) = picture.dimensions();
    let scale = f64::from(THUMBNAIL) / f64::from(w.max(h));
    if scale >= 1.0 {
        return picture.clone();
    }
    let size = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
    imageops::resize(picture, size(w), size(h), FilterType::Triangle)
}

/// The shots in rank order, near-duplicates grouped: each group is led by its best shot and
/// holds the shots within `distance` bits of its leader's hash, best first.
fn group(mut shots: Vec<Shot>, by: By, distance: u32) -> Vec<Vec<Shot>> {
    shots.sort_by(|a, b| {
        let order = a.score.total_cmp(&b.score);
        if by.higher_first() {
            order.reverse()
        } else {
            order
        }
        .then_with(|| a.name.cmp(&b.name))
    });
    let mut groups: Vec<Vec<Shot>> = Vec::new();
    for shot in shots {
        match groups
            .iter_mut()
            .find(|g| g[0].hash.dist(&shot.hash) <= distance)
        {
            Some(group) => group.push(shot),
            None => groups.push(vec![shot]),
        }
    }
    groups
}

fn ranking_csv(groups: &[Vec<Shot>], failures: &[(String, String)]) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["rank", "image", "score", "near_duplicate_of", "error"])?;
    for (rank, group) in groups.iter().enumerate() {
        for (i, shot) in group.iter().enumerate() {
            let leader = if i == 0 { "" } else { group[0].name.as_str() };
            let rank = (rank + 1).to_string();
            writer.write_record([
                rank.as_str(),
                &shot.name,
                &shot.score.to_string(),
                leader,
                "",
            ])?;
        }
    }
    for (name, error) in failures {
        writer.write_record(["", name.as_str(), "", "", error])?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One self-contained HTML page: the groups in rank order, the first `--top` marked.
fn contact_sheet(groups: &[Vec<Shot>], args: &RankArgs, model: &Path) -> String {
    let mut html = String::new();
    let title = format!("absnet rank --by {}", args.by.name());
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5rem; background: #fafafa; color: #222; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 1rem; }}
figure {{ margin: 0; background: white; border: 1px solid #ddd; border-radius: 6px; padding: .5rem; }}
figure.top {{ border: 2px solid #2a7; }}
.pic {{ position: relative; }}
.pic img {{ width: 100%; display: block; border-radius: 4px; }}
.pic img.heat {{ position: absolute; inset: 0; opacity: 0; transition: opacity .15s; }}
.pic:hover img.heat, .pic:focus img.heat {{ opacity: 1; }}
figcaption {{ margin-top: .4rem; overflow-wrap: anywhere; }}
.similar {{ display: flex; gap: .25rem; margin-top: .3rem; flex-wrap: wrap; }}
.similar img {{ height: 40px; border-radius: 2px; opacity: .8; }}
</style></head><body>
<h1>{title}</h1>
<p>{count} photos in {groups} groups, ranked by {by} with {model}; the best {top} are framed
in green. Hover over (or focus) a photo to see where people are predicted to look; smaller
pictures under a photo are its near-duplicates (within {distance} bits of its perceptual hash).</p>
<main>
"#,
        count = groups.iter().map(Vec::len).sum::<usize>(),
        groups = groups.len(),
        by = args.by.name(),
        model = escape(&model.display().to_string()),
        top = args.top,
        distance = args.duplicate_distance,
    );
    for (rank, group) in groups.iter().enumerate() {
        let best = &group[0];
        let class = if rank < args.top as usize {
            " class=\"top\""
        } else {
            ""
        };
        let _ = write!(
            html,
            r#"<figure{class}><div class="pic" tabindex="0"><img src="{thumb}" alt="{name}" loading="lazy"><img class="heat" src="{heat}" alt="heatmap of {name}" loading="lazy"></div>
<figcaption><b>{rank}.</b> {score:.3} — {name}"#,
            thumb = escape(&best.thumbnail),
            heat = escape(&best.heatmap),
            name = escape(&best.name),
            rank = rank + 1,
            score = best.score,
        );
        if group.len() > 1 {
            html.push_str("<div class=\"similar\">");
            for shot in &group[1..] {
                let _ = write!(
                    html,
                    r#"<img src="{}" alt="{}" title="{} ({:.3})" loading="lazy">"#,
                    escape(&shot.thumbnail),
                    escape(&shot.name),
                    escape(&shot.name),
                    shot.score
                );
            }
            html.push_str("</div>");
        }
        html.push_str("</figcaption></figure>\n");
    }
    html.push_str("</main></body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_zero_on_one_pixel_and_one_when_even() {
        assert_eq!(saliency_spread(&[1.0, 0.0, 0.0, 0.0]), 0.0);
        assert!((saliency_spread(&[0.25; 4]) - 1.0).abs() < 1e-12);
        assert!(saliency_spread(&[0.7, 0.1, 0.1, 0.1]) < 0.7);
    }
}
