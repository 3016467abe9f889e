//! `absnet predict` with the shipped model on the shipped sample photo, end to end through the
//! binary: the map has the photo's size and peaks on its subject, resolution barely matters,
//! and bad inputs are reported one by one while the rest are processed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

fn temp_dir(name: &str) -> absnet_testkit::TempFolder {
    absnet_testkit::temp_folder(&format!("predict-{name}"))
}

fn predict(inputs: &[&Path], out: &Path, extra: &[&str]) -> (bool, String, Vec<Value>) {
    image_command("predict", "summary.jsonl", inputs, out, extra)
}

fn gray(path: &Path) -> image::GrayImage {
    image::open(path).unwrap().into_luma8()
}

/// The record's strongest peak lies on the cat's face (eyes, nose and muzzle), marked by hand on
/// the 451×300 photo.
fn assert_peak_on_the_cats_face(record: &Value) {
    let (x, y) = (
        record["peaks"][0]["x"].as_u64().unwrap(),
        record["peaks"][0]["y"].as_u64().unwrap(),
    );
    assert!(
        (120..=360).contains(&x) && (70..=280).contains(&y),
        "{}: peak at ({x}, {y})",
        record["model"]
    );
}

#[test]
fn the_cat_is_where_the_map_peaks() {
    let out = temp_dir("chelsea");
    let photo = repo().join("samples/chelsea.png");
    let (ok, text, records) = predict(&[&photo], &out, &[]);
    assert!(ok, "{text}");
    assert!(text.contains("chelsea.overlay.jpg"), "{text}");
    let record = &records[0];
    assert_eq!(
        (record["width"].as_u64(), record["height"].as_u64()),
        (Some(451), Some(300))
    );
    let map = gray(&out.join("chelsea.saliency.png"));
    assert_eq!(map.dimensions(), (451, 300));
    assert_peak_on_the_cats_face(record);
    assert!(
        record["aesthetics"].is_null(),
        "the default model has no trained aesthetics head"
    );
    // It has a quality head: a score on 0–100, printed and in the record.
    let quality = record["quality"]["score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&quality), "{record}");
    assert!(
        text.contains(&format!("quality {quality:.0}/100")),
        "{text}"
    );
    // The same record as a CSV row, under a header.
    let table = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "image,width,height,peak_x,peak_y,peak_value,aesthetic_mean,aesthetic_std,quality_score,saliency,overlay,ms,error"
    );
    let peak = &record["peaks"][0];
    assert!(
        lines[1].starts_with(&format!(
            "{},451,300,{},{},",
            photo.display(),
            peak["x"],
            peak["y"]
        )),
        "{}",
        lines[1]
    );
    // A quoted pattern is expanded by absnet itself.
    let (ok, text, records) = predict(&[Path::new("samples/c*.png")], &temp_dir("pattern"), &[]);
    assert!(ok && records.len() == 2, "{text}");
    assert!(
        records.iter().all(|r| r["quality"]["score"].is_f64()),
        "{text}"
    );
}

#[test]
fn half_resolution_gives_the_same_map() {
    let out = temp_dir("resolutions");
    let photo = image::open(repo().join("samples/chelsea.png")).unwrap();
    let small_path = out.join("small.png");
    photo
        .resize_exact(226, 150, image::imageops::FilterType::Triangle)
        .save(&small_path)
        .unwrap();
    let (ok, text, _) = predict(
        &[&repo().join("samples/chelsea.png"), &small_path],
        &out,
        &[],
    );
    assert!(ok, "{text}");
    let full = gray(&out.join("chelsea.saliency.png"));
    let small = image::imageops::resize(
        &gray(&out.join("small.saliency.png")),
        451,
        300,
        image::imageops::FilterType::Triangle,
    );
    let (a, b): (Vec<f64>, Vec<f64>) = full
        .pixels()
        .zip(small.pixels())
        .map(|(p, q)| (f64::from(p[0]), f64::from(q[0])))
        .unzip();
    let mean_abs =
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64 / 255.0;
    assert!(mean_abs < 0.05, "mean |Δ| = {mean_abs}");
}

#[test]
fn bad_inputs_fail_one_by_one() {
    let out = temp_dir("bad");
    let dir = temp_dir("bad-inputs");
    std::fs::write(dir.join("empty.jpg"), b"").unwrap();
    std::fs::write(dir.join("garbage.png"), b"this is not a png").unwrap();
    let good = repo().join("samples/coffee.png");
    let (ok, text, records) = predict(
        &[
            &dir.join("empty.jpg"),
            &dir.join("garbage.png"),
            &dir.join("missing.jpg"),
            &good,
        ],
        &out,
        &[],
    );
    assert!(!ok, "the exit status reports failures");
    for name in ["empty.jpg", "garbage.png", "missing.jpg"] {
        assert!(text.contains(name), "{name} not reported: {text}");
    }
    assert!(text.contains("3 of 4 inputs failed"), "{text}");
    // Every input has a record: the failures say why.
    assert_eq!(records.len(), 4);
    let failed: Vec<&Value> = records.iter().filter(|r| r["error"].is_string()).collect();
    assert_eq!(failed.len(), 3);
    assert!(
        failed
            .iter()
            .any(|r| r["image"].as_str().unwrap().ends_with("missing.jpg"))
    );
    assert!(out.join("coffee.saliency.png").exists());
    // Over the pixel limit: refused before decoding, named.
    let (ok, text, _) = predict(&[&good], &temp_dir("huge"), &["--max-pixels", "100000"]);
    assert!(
        !ok && text.contains("coffee.png") && text.contains("exceeds the limit"),
        "{text}"
    );
    // --resume skips what is done.
    let (ok, text, _) = predict(&[&good], &out, &["--resume"]);
    assert!(ok && text.contains("1 already done"), "{text}");
    // Without --resume or --overwrite, a folder holding records is refused.
    let (ok, text, _) = predict(&[&good], &out, &[]);
    assert!(
        !ok && text.contains("--resume") && text.contains("--overwrite"),
        "{text}"
    );
}

#[test]
fn the_binary_works_alone_in_an_empty_folder() {
    // What `cargo install` or a copy to another machine gives: the binary and nothing else —
    // no repository, no scripts, no weights beside it.
    let dir = tempfile::Builder::new()
        .prefix("absnet-alone")
        .tempdir()
        .unwrap();
    let binary = dir.path().join("absnet");
    std::fs::copy(env!("CARGO_BIN_EXE_absnet"), &binary).unwrap();
    std::fs::copy(
        repo().join("samples/chelsea.png"),
        dir.path().join("photo.png"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        // A test thread forking while the copy was open for writing leaves the new file busy
        // for a moment ("Text file busy"): wait it out.
        let output = (0..50)
            .find_map(|_| {
                match Command::new(&binary)
                    .current_dir(dir.path())
                    .args(args)
                    .output()
                {
                    Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        None
                    }
                    other => Some(other.unwrap()),
                }
            })
            .expect("the copied binary stayed busy for 5 s");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "absnet {args:?}: {text}");
        text
    };
    let help = run(&["--help"]);
    assert!(
        help.contains("  predict") && !help.contains("  bench"),
        "{help}"
    );
    run(&["predict", "photo.png", "--out", "predictions"]);
    assert!(dir.path().join("predictions/photo.saliency.png").exists());
    run(&["crop", "photo.png", "--aspects", "1:1", "--out", "crops"]);
    let crops = std::fs::read_to_string(dir.path().join("crops/crops.jsonl")).unwrap();
    assert!(crops.contains("\"aspect\""), "{crops}");
}

#[test]
fn quality_only_writes_the_same_scores_and_no_maps() {
    let photos = [
        repo().join("samples/chelsea.png"),
        repo().join("samples/coffee.png"),
    ];
    let inputs: Vec<&Path> = photos.iter().map(PathBuf::as_path).collect();
    let (full, only) = (temp_dir("quality-full"), temp_dir("quality-only"));
    let (ok, text, everything) = predict(&inputs, &full, &["--focal-point"]);
    assert!(ok, "{text}");
    let (ok, text, scores) = predict(&inputs, &only, &["--quality-only"]);
    assert!(ok && text.contains("quality"), "{text}");
    for (full, alone) in everything.iter().zip(&scores) {
        assert_eq!(full["image"], alone["image"]);
        let (a, b) = (&full["quality"]["score"], &alone["quality"]["score"]);
        assert!(
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-4,
            "{a} {b}"
        );
        assert!(alone.get("saliency").is_none() && alone["peaks"] == serde_json::json!([]));
    }
    let files: Vec<_> = std::fs::read_dir(&*only)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".png") || n.ends_with(".jpg"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
    // The focal point needs the map: asking for both is refused.
    let (ok, text, _) = predict(
        &inputs,
        &temp_dir("quality-focal"),
        &["--quality-only", "--focal-point"],
    );
    assert!(!ok && text.contains("--focal-point"), "{text}");
}

#[test]
fn the_built_in_quality_model_scores_in_place_of_the_models_head() {
    let photos = [
        repo().join("samples/chelsea.png"),
        repo().join("samples/coffee.png"),
    ];
    let inputs: Vec<&Path> = photos.iter().map(PathBuf::as_path).collect();
    let label = "models/quality/model.safetensors (built in)";
    let (ok, text, paired) = predict(
        &inputs,
        &temp_dir("quality-paired"),
        &["--quality-model", "quality"],
    );
    assert!(ok, "{text}");
    let (ok, text, alone) = predict(
        &inputs,
        &temp_dir("quality-model-alone"),
        &["--quality-only", "--model", "quality"],
    );
    assert!(ok, "{text}");
    let (ok, text, own) = predict(&inputs, &temp_dir("quality-own"), &[]);
    assert!(ok, "{text}");
    for ((paired, alone), own) in paired.iter().zip(&alone).zip(&own) {
        assert_eq!(paired["model"], own["model"], "{paired}");
        assert_eq!(paired["quality_model"].as_str(), Some(label), "{paired}");
        assert_eq!(alone["model"].as_str(), Some(label), "{alone}");
        assert!(own.get("quality_model").is_none(), "{own}");
        let score = |r: &serde_json::Value| r["quality"]["score"].as_f64().unwrap();
        assert!(
            (score(paired) - score(alone)).abs() < 1e-4,
            "{paired} {alone}"
        );
        assert_eq!(paired["peaks"], own["peaks"]);
    }
    // It has no saliency head: maps are refused by name.
    let (ok, text, _) = predict(&inputs, &temp_dir("quality-maps"), &["--model", "quality"]);
    assert!(
        !ok && text.contains(label) && text.contains("no trained saliency head"),
        "{text}"
    );
}

#[test]
fn both_built_in_models_find_the_cat_and_name_themselves() {
    let photo = repo().join("samples/chelsea.png");
    for model in ["fast", "accurate"] {
        let out = temp_dir(model);
        let (ok, text, records) = predict(&[&photo], &out, &["--model", model]);
        assert!(ok, "{model}: {text}");
        let record = &records[0];
        assert_eq!(
            record["model"].as_str(),
            Some(format!("models/{model}/model.safetensors (built in)").as_str()),
            "{record}"
        );
        assert_peak_on_the_cats_face(record);
    }
    // Anything else is a model file, named in the error when it is missing.
    let out = temp_dir("no-model");
    let (ok, text, _) = predict(&[&photo], &out, &["--model", "fastest"]);
    assert!(!ok && text.contains("fastest"), "{text}");
}

#[test]
fn sub_folders_and_unreadable_entries_of_an_input_folder_are_listed_not_skipped_silently() {
    let folder = temp_dir("entries-in");
    std::fs::copy(
        repo().join("samples/chelsea.png"),
        folder.join("chelsea.png"),
    )
    .unwrap();
    std::fs::create_dir(folder.join("more-photos")).unwrap();
    std::os::unix::fs::symlink(folder.join("gone.jpg"), folder.join("dangling.jpg")).unwrap();
    std::fs::write(folder.join("notes.txt"), "not an input").unwrap();

    let out = temp_dir("entries-out");
    let (ok, text, records) = predict(&[&folder], &out, &[]);
    assert!(!ok, "{text}");
    assert!(text.contains("more-photos: a sub-folder"), "{text}");
    assert!(text.contains("dangling.jpg: cannot be read"), "{text}");
    assert!(!text.contains("notes.txt"), "{text}");
    let errors: Vec<&str> = records.iter().filter_map(|r| r["error"].as_str()).collect();
    assert_eq!(errors.len(), 2, "{records:?}");
    assert!(
        records
            .iter()
            .any(|r| r["image"].as_str().unwrap().ends_with("chelsea.png") && r["error"].is_null()),
        "{records:?}"
    );

    // --skip-bad: listed the same way, and the run succeeds.
    let out = temp_dir("entries-skip");
    let (ok, text, records) = predict(&[&folder], &out, &["--skip-bad"]);
    assert!(ok, "{text}");
    assert!(text.contains("more-photos: a sub-folder"), "{text}");
    assert!(
        text.contains("2 folder entries passed over (--skip-bad)"),
        "{text}"
    );
    assert_eq!(records.len(), 3, "{records:?}");
}
