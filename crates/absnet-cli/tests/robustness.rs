//! Bad input and interrupted or concurrent runs, through the binary: a clear refusal or a
//! correct result, and nothing already written lost or corrupted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use serde_json::Value;

fn temp_dir(name: &str) -> absnet_testkit::TempFolder {
    absnet_testkit::temp_folder(&format!("robust-{name}"))
}

fn run(args: &[&str]) -> (bool, String) {
    let output = absnet().args(args).output().unwrap();
    (output.status.success(), text(&output))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first `count` OSIE stimuli, or `None` (skipped outside CI) without the real data.
fn osie_images(count: usize) -> Option<Vec<PathBuf>> {
    let folder = absnet_testkit::shared_data("osie")?.join("data/stimuli");
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.truncate(count);
    Some(files)
}

#[test]
fn a_truncated_jpeg_is_refused_by_predict_and_counted_by_data_check() {
    let Some(images) = osie_images(2) else { return };
    let dir = temp_dir("truncated");
    // An OSIE-layout copy of the fixture whose first image is cut in half.
    let root = dir.join("set");
    let fixture = absnet_testkit::fixture("datasets/osie-1024");
    std::fs::create_dir_all(root.join("data/eye")).unwrap();
    std::fs::create_dir_all(root.join("data/stimuli")).unwrap();
    std::fs::copy(
        fixture.join("data/eye/fixations.mat"),
        root.join("data/eye/fixations.mat"),
    )
    .unwrap();
    let whole = std::fs::read(fixture.join("data/stimuli/crowd1.jpg")).unwrap();
    std::fs::write(
        root.join("data/stimuli/crowd1.jpg"),
        &whole[..whole.len() / 2],
    )
    .unwrap();
    std::fs::copy(
        fixture.join("data/stimuli/crowd2.jpg"),
        root.join("data/stimuli/crowd2.jpg"),
    )
    .unwrap();
    let (ok, out) = run(&["data", "check", &format!("osie:{}", root.display())]);
    assert!(
        !ok && out.contains("crowd1.jpg: truncated") && out.contains("problems    1"),
        "{out}"
    );
    // predict: the truncated image fails by name, the others are done.
    let cut = dir.join("cut.jpg");
    let bytes = std::fs::read(&images[0]).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (ok, out) = run(&[
        "predict",
        path(&cut),
        path(&images[1]),
        "--out",
        path(&dir.join("out")),
    ]);
    assert!(
        !ok && out.contains("cut.jpg: truncated") && out.contains("1 images done, 1 failed"),
        "{out}"
    );
}

#[test]
fn numeric_options_out_of_range_and_oversized_inputs_are_refused() {
    let sample = repo().join("samples/chelsea.png");
    let out = temp_dir("ranges");
    for (option, value) in [
        ("--opacity", "nan"),
        ("--opacity", "2"),
        ("--input-size", "100000x100000"),
        ("--batch", "0"),
    ] {
        let (ok, text) = run(&["predict", path(&sample), "--out", path(&out), option, value]);
        assert!(
            !ok && text.contains(option) && text.contains(value),
            "{option} {value}: {text}"
        );
    }
    // Standard input is read up to a cap, never whole: /dev/zero is refused at once.
    let output = absnet()
        .args(["predict", "-", "--out", path(&out), "--max-bytes", "100000"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    assert!(
        !output.status.success() && text(&output).contains("more than 100000 bytes"),
        "{}",
        text(&output)
    );
    // An empty folder is reported, not silently skipped.
    let empty = temp_dir("empty-folder");
    let (ok, text) = run(&[
        "predict",
        path(&empty),
        "--out",
        path(&temp_dir("empty-out")),
    ]);
    assert!(!ok && text.contains("holds no images"), "{text}");
    // The hint to pass --model appears only when the default model is missing.
    let (ok, text) = run(&[
        "predict",
        path(&sample),
        "--model",
        "/nonexistent/m.safetensors",
        "--out",
        path(&out),
    ]);
    assert!(
        !ok && text.contains("/nonexistent/m.safetensors") && !text.contains("pass --model"),
        "{text}"
    );
}

#[test]
fn concurrent_runs_into_one_folder_keep_every_record_whole() {
    let Some(images) = osie_images(24) else {
        return;
    };
    let out = temp_dir("concurrent");
    let spawn = |part: &[PathBuf]| {
        let mut args = vec![
            "predict".to_string(),
            "--out".into(),
            path(&out).into(),
            "--resume".into(),
        ];
        args.extend(part.iter().map(|p| path(p).to_string()));
        absnet()
            .args(&args)
            .env("RAYON_NUM_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(&images[..12]), spawn(&images[12..]));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let jsonl = std::fs::read_to_string(out.join("summary.jsonl")).unwrap();
    let records: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a whole record"))
        .collect();
    assert_eq!(records.len(), 24);
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("image,")).count(),
        1,
        "one header"
    );
    assert_eq!(csv.lines().count(), 25);
}

#[test]
fn a_record_torn_by_a_kill_is_dropped_and_its_image_done_again() {
    let Some(images) = osie_images(2) else { return };
    let out = temp_dir("torn");
    let predict = |extra: &[&str]| {
        let mut args = vec![
            "predict",
            path(&images[0]),
            path(&images[1]),
            "--out",
            path(&out),
        ];
        args.extend(extra);
        run(&args)
    };
    let (ok, text) = predict(&[]);
    assert!(ok, "{text}");
    // As a kill in the middle of the second record would leave it (its maps already written).
    let jsonl = out.join("summary.jsonl");
    let full = std::fs::read_to_string(&jsonl).unwrap();
    let cut = full.trim_end().rfind('\n').unwrap() + 1 + 40;
    std::fs::write(&jsonl, &full[..cut]).unwrap();
    let (ok, text) = predict(&["--resume"]);
    assert!(
        ok && text.contains("1 images done, 0 failed, 1 already done"),
        "{text}"
    );
    let records: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = absnet()
        .args(["train", "--print-default-config"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_ne!(output.status.code(), Some(101));
}

#[test]
fn a_resumed_run_keeps_every_tensor_on_the_chosen_device() {
    // burn loads a resumed run's optimizer state onto its default device; absnet pins that to
    // `--device`, so a default that names another backend (here one not built in) is not used.
    let Some(osie) = absnet_testkit::shared_data("osie") else {
        return;
    };
    let dir = temp_dir("resume-device");
    let config = dir.join("config.toml");
    let default = absnet()
        .args(["train", "--print-default-config"])
        .output()
        .unwrap();
    std::fs::write(&config, default.stdout).unwrap();
    let datasets = format!("saliency.datasets=[\"osie:{}\"]", osie.display());
    let split = format!("saliency.split=\"{}\"", path(&dir.join("split.json")));
    let run_dir = dir.join("run");
    let train = |more: &[&str]| {
        let mut args = vec!["train", "--run", path(&run_dir)];
        for set in [
            "input=[64, 48]",
            "batch=2",
            "steps_per_epoch=2",
            "val_images=4",
            "model.neck.channels=16",
            &datasets,
            &split,
        ] {
            args.extend(["--set", set]);
        }
        args.extend(more);
        let output = absnet()
            .args(&args)
            .env("BURN_DEVICE", "cuda")
            .output()
            .unwrap();
        (output.status.success(), text(&output))
    };
    let (ok, out) = train(&[path(&config), "--epochs", "1"]);
    assert!(ok, "{out}");
    // Resumed with the run's own config.toml.
    let (ok, out) = train(&["--resume", "--epochs", "2"]);
    assert!(ok && out.contains("2 epochs, 4 steps"), "{out}");
}
