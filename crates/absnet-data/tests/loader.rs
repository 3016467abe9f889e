//! Examples built from the real OSIE and Scene data: labels follow the pixels through resizing,
//! letterboxing and flipping; epochs are reproducible; bad samples stop or are counted.

use absnet_data::loader::{Loader, LoaderConfig, Skipped, prepare};
use absnet_data::pipeline::Fit;
use absnet_data::split::Split;
use absnet_data::{DatasetSpec, Sample};

fn dataset(format: &str, folder: &str) -> Option<Vec<Sample>> {
    let root = absnet_testkit::shared_data(folder)?;
    Some(
        format!("{format}:{}", root.display())
            .parse::<DatasetSpec>()
            .unwrap()
            .load()
            .unwrap(),
    )
}

fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0
}

#[test]
fn resizing_and_flipping_move_fixations_with_the_pixels() {
    let Some(samples) = dataset("osie", "osie") else {
        return;
    };
    let sample = &samples[0];
    let config = LoaderConfig::new([480, 320]);
    let plain = prepare(sample, &config, false).unwrap();
    assert_eq!(plain.image.dimensions(), (480, 320));
    let originals: Vec<_> = sample.fixations().collect();
    assert_eq!(
        plain.fixations.len(),
        originals.len(),
        "OSIE has no fixation outside its images"
    );
    // 800×600 → 480×320: x × 0.6, y × 0.5333.
    let (f, o) = (plain.fixations[0], originals[0]);
    assert!((f.x - o.x * 0.6).abs() < 1e-9 && (f.y - o.y * 320.0 / 600.0).abs() < 1e-9);
    let density = plain.density.as_ref().unwrap();
    assert!((density.iter().map(|&v| f64::from(v)).sum::<f64>() - 1.0).abs() < 1e-4);
    let flipped = prepare(sample, &config, true).unwrap();
    assert_eq!(flipped.fixations[0].x, 480.0 - f.x);
    assert_eq!(
        flipped.image.get_pixel(0, 10),
        plain.image.get_pixel(479, 10)
    );
    // The density's peak mirrors too.
    let (peak, peak_flipped) = (argmax(density), argmax(flipped.density.as_ref().unwrap()));
    assert_eq!(peak / 480, peak_flipped / 480);
    assert!((peak % 480 + peak_flipped % 480).abs_diff(479) <= 1);
}

#[test]
fn letterboxing_keeps_the_aspect_ratio_of_labels() {
    let Some(samples) = dataset("scene", "scene") else {
        return;
    };
    // 001.jpg is 256×256: letterboxed into 480×320 it is 320×320 at x offset 80.
    let sample = &samples[0];
    let config = LoaderConfig {
        fit: Fit::Letterbox,
        ..LoaderConfig::new([480, 320])
    };
    let example = prepare(sample, &config, false).unwrap();
    assert_eq!(
        (example.placement.content, example.placement.offset),
        ([320, 320], [80, 0])
    );
    let first = sample.observers[0].fixations[0];
    let f = example.fixations[0];
    assert!((f.x - (first.x * 1.25 + 80.0)).abs() < 1e-9 && (f.y - first.y * 1.25).abs() < 1e-9);
    // No density mass falls on the black bars.
    let density = example.density.unwrap();
    let on_bars: f32 = (0..320)
        .map(|y| density[y * 480..y * 480 + 80].iter().sum::<f32>())
        .sum();
    assert!(on_bars < 0.02, "{on_bars}");
}

#[test]
fn density_maps_from_files_are_fitted_like_their_images() {
    let root = absnet_testkit::fixture("datasets/salicon2017");
    let samples = absnet_data::salicon2017::load_dataset(&root).unwrap();
    let example = prepare(&samples[0], &LoaderConfig::new([16, 12]), false).unwrap();
    let density = example.density.unwrap();
    assert_eq!(density.len(), 16 * 12);
    assert!((density.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn epochs_are_reproducible_and_differ() {
    let Some(samples) = dataset("osie", "osie") else {
        return;
    };
    let config = LoaderConfig {
        flip: true,
        seed: 7,
        ..LoaderConfig::new([96, 64])
    };
    let loader = Loader::new(&samples, config.clone());
    assert_eq!(loader.order(0), Loader::new(&samples, config).order(0));
    assert_ne!(loader.order(0), loader.order(1));
    let flips = loader.order(0).iter().filter(|(_, f)| *f).count();
    assert!((250..450).contains(&flips), "{flips} of 700 flipped");
    let mut skipped = Skipped::default();
    let batch = loader.batch(&loader.order(0)[..8], &mut skipped).unwrap();
    assert_eq!(batch.len(), 8);
    assert_eq!(skipped.total(), 0);
}

#[test]
fn bad_samples_stop_the_batch_or_are_counted() {
    let Some(mut samples) = dataset("osie", "osie") else {
        return;
    };
    samples.truncate(3);
    let dir = absnet_testkit::temp_folder("loader");
    std::fs::write(dir.join("empty.jpg"), b"").unwrap();
    samples[1].image = dir.join("empty.jpg");
    samples[2].image = dir.join("missing.jpg");
    let mut nowhere = samples[0].clone();
    nowhere.id = "nowhere".into();
    for o in &mut nowhere.observers {
        for f in &mut o.fixations {
            f.x = f64::NAN;
        }
    }
    samples.push(nowhere);
    let visits: Vec<(usize, bool)> = (0..4).map(|i| (i, false)).collect();
    let strict = Loader::new(&samples, LoaderConfig::new([64, 48]));
    let err = strict
        .batch(&visits, &mut Skipped::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty.jpg"), "{err}");
    let lenient = Loader::new(
        &samples,
        LoaderConfig {
            skip_bad: true,
            ..LoaderConfig::new([64, 48])
        },
    );
    let mut skipped = Skipped::default();
    let batch = lenient.batch(&visits, &mut skipped).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(skipped.total(), 3);
    let summary = skipped.to_string();
    assert!(
        summary.contains("2 × unreadable image") && summary.contains("1 × no usable labels"),
        "{summary}"
    );
    assert!(summary.contains("not finite"), "{summary}");
}

#[test]
fn splits_are_drawn_once_and_read_back() {
    let Some(samples) = dataset("osie", "osie") else {
        return;
    };
    let ids: Vec<String> = samples.iter().map(|s| s.id.clone()).collect();
    let split = Split::draw(&ids, 2020, [0.8, 0.1, 0.1]).unwrap();
    assert_eq!(
        (split.train.len(), split.val.len(), split.test.len()),
        (560, 70, 70)
    );
    assert_eq!(split, Split::draw(&ids, 2020, [0.8, 0.1, 0.1]).unwrap());
    assert_ne!(
        split.test,
        Split::draw(&ids, 2021, [0.8, 0.1, 0.1]).unwrap().test
    );
    let dir = absnet_testkit::temp_folder("split");
    let path = dir.join("split.json");
    let written = Split::read_or_draw(&path, &samples, 2020, [0.8, 0.1, 0.1]).unwrap();
    // A later run with the same seed and ratios reads the file; with others it is refused.
    assert_eq!(
        Split::read_or_draw(&path, &samples, 2020, [0.8, 0.1, 0.1]).unwrap(),
        written
    );
    for (seed, ratios, what) in [
        (99, [0.8, 0.1, 0.1], "seed 2020"),
        (2020, [0.5, 0.5, 0.0], "ratios [0.8, 0.1, 0.1]"),
    ] {
        let err = Split::read_or_draw(&path, &samples, seed, ratios)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains(what),
            "{err}"
        );
    }

    let test = written.select(&samples, &written.test, &path).unwrap();
    assert_eq!(test.len(), 70);
    let mut broken = written.clone();
    broken.val.push(broken.train[0].clone());
    broken.write(&path).unwrap();
    let err = Split::read(&path).unwrap_err().to_string();
    assert!(err.contains("more than one part"), "{err}");
    let err = written
        .select(&samples, &["nope".to_string()], &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`nope` is not in the dataset"), "{err}");
}
