//! Property tests: random bytes, random truncations and random byte flips of real files fed to
//! the image decoder and to every reader never panic and never hang — each gives a value or an
//! error naming the file.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use absnet_data::DatasetSpec;
use absnet_data::pipeline::{DEFAULT_MAX_PIXELS, decode_bytes};
use proptest::prelude::*;

/// Runs `f` on another thread and fails the test if it takes longer than `limit` (a hang).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(f());
    });
    result
        .recv_timeout(limit)
        .expect("finished in time (no hang, no panic)")
}

fn real_images() -> Vec<Vec<u8>> {
    let repo = absnet_testkit::repo();
    let mut files = vec![
        repo.join("samples/chelsea.png"),
        repo.join("tests/fixtures/datasets/osie-1024/data/stimuli/crowd1.jpg"),
    ];
    if let Some(osie) = absnet_testkit::shared_data("osie") {
        files.push(osie.join("data/stimuli/1001.jpg"));
    }
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// `bytes` cut to `keep` and with `flips` bytes overwritten, at positions drawn from `seed`.
fn damaged(bytes: &[u8], keep: f64, flips: &[(f64, u8)]) -> Vec<u8> {
    let mut out = bytes[..((bytes.len() as f64 * keep) as usize).min(bytes.len())].to_vec();
    let n = out.len();
    for &(at, value) in flips {
        if n > 0 {
            out[((n as f64 * at) as usize).min(n - 1)] = value;
        }
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_decoder_survives_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        within(Duration::from_secs(10), move || decode_bytes(&bytes, Path::new("random"), DEFAULT_MAX_PIXELS).map(|_| ()).err().map(|e| e.to_string()));
    }

    #[test]
    fn the_decoder_survives_damaged_real_images(
        which in 0usize..3,
        keep in 0.0f64..1.0,
        flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..8),
    ) {
        let images = real_images();
        let bytes = damaged(&images[which % images.len()], keep, &flips);
        let outcome = within(Duration::from_secs(30), move || decode_bytes(&bytes, Path::new("damaged"), DEFAULT_MAX_PIXELS).map(|_| ()));
        if let Err(e) = outcome {
            prop_assert!(e.to_string().contains("damaged"), "{e}");
        }
    }
}

/// A copy of dataset folder `from` in a fresh temporary folder, with `file` (relative) damaged.
fn damaged_copy(
    from: &Path,
    file: &str,
    keep: f64,
    flips: &[(f64, u8)],
    case: &str,
) -> absnet_testkit::TempFolder {
    let to = absnet_testkit::temp_folder(&format!("fuzz-{case}"));
    copy(from, &to);
    let bytes = std::fs::read(to.join(file)).unwrap();
    std::fs::write(to.join(file), damaged(&bytes, keep, flips)).unwrap();
    to
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Reads `spec` (a damaged copy), checks it, and prepares every sample it lists.
fn read_everything(spec: String) -> Result<usize, String> {
    let spec: DatasetSpec = spec
        .parse()
        .map_err(|e: absnet_data::DataError| e.to_string())?;
    let samples = spec.load().map_err(|e| e.to_string())?;
    let _ = absnet_data::check::check(&samples);
    let config = absnet_data::loader::LoaderConfig::new([64, 48]);
    for sample in &samples {
        let _ = absnet_data::loader::prepare(sample, &config, false);
    }
    Ok(samples.len())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_reader_survives_damaged_label_files(
        which in 0usize..5,
        keep in 0.0f64..1.0,
        flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..6),
    ) {
        let fixtures = absnet_testkit::fixture("datasets");
        let cases = [
            ("osie", "osie-1024", "data/eye/fixations.mat"),
            ("salicon2017", "salicon2017", "fixations/train/COCO_train2014_000000000009.mat"),
            ("cat2000", "cat2000", "trainSet/FIXATIONLOCS/Action/001.mat"),
            ("ava", "ava", "AVA.txt"),
            ("mit1003", "mit1003", "ALLFIXATIONMAPS/i1000886213_fixPts.jpg"),
        ];
        let (format, folder, file) = cases[which];
        let root = damaged_copy(&fixtures.join(folder), file, keep, &flips, folder);
        let spec = format!("{format}:{}", root.display());
        let outcome = within(Duration::from_secs(30), move || read_everything(spec));
        if let Err(e) = outcome {
            prop_assert!(!e.is_empty());
        }
    }

    #[test]
    fn the_fixatons_reader_survives_random_scanpath_text(text in "[0-9 .\\-e\n\tx]{0,200}") {
        let root = absnet_testkit::temp_folder("fuzz-fixatons");
        std::fs::create_dir_all(root.join("STIMULI")).unwrap();
        std::fs::create_dir_all(root.join("SCANPATHS/a")).unwrap();
        image::RgbImage::new(20, 10).save(root.join("STIMULI/a.png")).unwrap();
        std::fs::write(root.join("SCANPATHS/a/obs"), text).unwrap();
        let spec = format!("fixatons:{}", root.display());
        within(Duration::from_secs(10), move || read_everything(spec).map(|_| ()).err());
    }
}
