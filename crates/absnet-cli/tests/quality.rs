//! The quality task through the binary, on LIVE-C's real photos and opinion scores: a short run
//! of the experiment config from cached frozen features (trained on random crops of them),
//! exported, scored on its test part, and used to score photos.

mod common;

use common::*;
use serde_json::Value;

fn absnet_run(args: &[&str]) -> (bool, String, String) {
    let output = absnet().args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_short_quality_run_on_livec_ranks_held_out_photos_and_refuses_unrated_data() {
    let Some(livec) = absnet_testkit::shared_data("livec") else {
        return;
    };
    if absnet_testkit::pretrained("mobilenet_v2.safetensors").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let dataset = format!("livec:{}", livec.display());
    let sets = [
        format!("quality.datasets=[\"{dataset}\"]"),
        format!("quality.split=\"{}\"", at("split.json")),
        format!("feature_cache=\"{}\"", at("cache")),
        "input=[128, 128]".to_string(),
        "quality.crop=[96, 96]".to_string(),
        "epochs=2".to_string(),
        "groups.shared.frozen_epochs=2".to_string(),
        "steps_per_epoch=12".to_string(),
    ];
    let mut args = vec!["train", "models/experiments/quality-livec.toml", "--run"];
    let run = at("run");
    args.push(&run);
    for set in &sets {
        args.extend(["--set", set]);
    }
    let (ok, out, err) = absnet_run(&args);
    assert!(ok, "train failed: {out}{err}");
    assert!(
        out.contains("validation quality") && out.contains("srcc"),
        "{out}"
    );

    let model = at("quality.safetensors");
    let (ok, out, err) = absnet_run(&["export", &run, "-o", &model]);
    assert!(ok, "export failed: {out}{err}");
    // A model trained for quality alone scores photos with `predict --quality-only`; a full
    // prediction needs a saliency head and says so.
    let photos: Vec<String> = ["1000.JPG", "1001.JPG", "1002.JPG"]
        .iter()
        .map(|name| {
            livec
                .join("images")
                .join(name)
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let scores = at("scores");
    let mut args = vec![
        "predict",
        "--quality-only",
        "--model",
        &model,
        "--out",
        &scores,
    ];
    args.extend(photos.iter().map(String::as_str));
    let (ok, out, err) = absnet_run(&args);
    assert!(ok, "predict --quality-only failed: {out}{err}");
    let records = std::fs::read_to_string(dir.path().join("scores/summary.jsonl")).unwrap();
    assert_eq!(records.lines().count(), photos.len(), "{records}");
    for line in records.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let score = record["quality"]["score"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&score), "{record}");
    }
    let maps = at("maps");
    let (ok, _, err) = absnet_run(&["predict", &photos[0], "--model", &model, "--out", &maps]);
    assert!(
        !ok && err.contains(&model) && err.contains("no trained saliency head"),
        "{err}"
    );

    let split = at("split.json");
    let (ok, out, err) = absnet_run(&[
        "eval", "quality", &dataset, "--model", &model, "--split", &split, "--part", "test",
        "--json",
    ]);
    assert!(ok, "eval failed: {out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let split: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("split.json")).unwrap())
            .unwrap();
    // The shared folder holds 627 of the 1,169 photos; the test part counts those present.
    let test = report["images"].as_u64().unwrap();
    assert!(test > 100 && test <= split["test"].as_array().unwrap().len() as u64);
    let srcc = report["srcc"].as_f64().unwrap();
    eprintln!(
        "24 steps from 96×96 crops of cached 128×128 features: test SRCC {srcc:.3} on {test} photos"
    );
    assert!(srcc > 0.3, "test SRCC {srcc}");
    // Each scored photo, with its predicted score and its raters' MOS and SD.
    let per_image = report["per_image"].as_array().unwrap();
    assert_eq!(per_image.len() as u64, test);
    for photo in per_image {
        let score = photo["score"].as_f64().unwrap();
        let mos = photo["mos"].as_f64().unwrap();
        assert!(
            (0.0..=100.0).contains(&score) && (0.0..=100.0).contains(&mos),
            "{photo}"
        );
        assert!(
            photo["image"].as_str().unwrap().starts_with("livec/"),
            "{photo}"
        );
        assert!(photo["sd"].as_f64().unwrap() > 0.0, "{photo}");
    }
    for key in [
        "krcc",
        "plcc",
        "plcc_logistic",
        "rmse",
        "emd1",
        "emd2",
        "accuracy",
    ] {
        assert!(report[key].is_f64(), "{key} missing: {report}");
    }

    // Heads move only between models that read the same features: this run's encoder is not
    // the shipped model's.
    let (ok, _, err) = absnet_run(&[
        "export",
        &run,
        "-o",
        &at("refused.safetensors"),
        "--onto",
        "models/absnet/model.safetensors",
    ]);
    assert!(
        !ok && err.contains("heads move only between models of one encoder"),
        "{err}"
    );

    // A saliency set given to the quality task is refused by key, naming a sample.
    let osie = absnet_testkit::shared_data("osie").unwrap();
    let wrong = format!("quality.datasets=[\"osie:{}\"]", osie.display());
    let other = at("other");
    let (ok, out, err) = absnet_run(&[
        "train",
        "models/experiments/quality-livec.toml",
        "--run",
        &other,
        "--set",
        &wrong,
    ]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("quality.datasets") && err.contains("no opinion scores"),
        "{err}"
    );
}

/// A quality head trained on the shipped model's own frozen encoder, put onto the shipped model
/// (how its own quality head was made): one file that predicts the same saliency and a quality
/// score.
#[test]
fn a_quality_head_put_onto_the_shipped_model_keeps_its_saliency() {
    let Some(livec) = absnet_testkit::shared_data("livec") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let dataset = format!("livec:{}", livec.display());
    let run = at("run");
    let sets = [
        format!("quality.datasets=[\"{dataset}\"]"),
        format!("quality.split=\"{}\"", at("split.json")),
        format!("feature_cache=\"{}\"", at("cache")),
        "epochs=1".to_string(),
        "groups.shared.frozen_epochs=1".to_string(),
        "steps_per_epoch=4".to_string(),
        "val_images=16".to_string(),
    ];
    let mut args = vec![
        "train",
        "models/experiments/quality-shipped-encoder.toml",
        "--run",
        &run,
    ];
    for set in &sets {
        args.extend(["--set", set]);
    }
    let (ok, out, err) = absnet_run(&args);
    assert!(ok, "train failed: {out}{err}");

    let merged = at("merged.safetensors");
    let (ok, out, err) = absnet_run(&[
        "export",
        &run,
        "-o",
        &merged,
        "--onto",
        "models/absnet/model.safetensors",
    ]);
    assert!(ok, "export --onto failed: {out}{err}");
    let card: Value =
        serde_json::from_str(&std::fs::read_to_string(at("merged.json")).unwrap()).unwrap();
    assert_eq!(card["heads"]["saliency"]["trained"], true, "{card}");
    assert_eq!(card["heads"]["quality"]["trained"], true, "{card}");
    assert_eq!(card["flip_average"], false, "as the base model: {card}");
    // Onto a model that averages mirror images, the result still does.
    let mirrored = at("mirrored.safetensors");
    let again = at("again.safetensors");
    for (output, base, flag) in [
        (
            &mirrored,
            "models/absnet/model.safetensors",
            Some("--flip-average"),
        ),
        (&again, mirrored.as_str(), None),
    ] {
        let mut args = vec!["export", &run, "-o", output, "--onto", base];
        args.extend(flag);
        let (ok, out, err) = absnet_run(&args);
        assert!(ok, "export --onto failed: {out}{err}");
    }
    let card: Value =
        serde_json::from_str(&std::fs::read_to_string(at("again.json")).unwrap()).unwrap();
    assert_eq!(
        card["flip_average"], true,
        "the base model's mirror averaging kept: {card}"
    );

    let predict = |model: &str, out_dir: &str| {
        let (ok, out, err) = absnet_run(&[
            "predict",
            "samples/chelsea.png",
            "--model",
            model,
            "--out",
            out_dir,
            "--format",
            "npy",
        ]);
        assert!(ok, "predict failed: {out}{err}");
        let record: Value = serde_json::from_str(
            std::fs::read_to_string(format!("{out_dir}/summary.jsonl"))
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        (
            out,
            record,
            std::fs::read(format!("{out_dir}/chelsea.saliency.npy")).unwrap(),
        )
    };
    let (_, shipped, shipped_map) = predict("models/absnet/model.safetensors", &at("shipped"));
    let (said, record, map) = predict(&merged, &at("merged-out"));
    assert_eq!(map, shipped_map, "the saliency map changed");
    assert!(shipped["quality"]["score"].is_f64(), "{shipped}");
    let score = record["quality"]["score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&score), "{record}");
    assert_eq!(
        record["quality"]["distribution"].as_array().unwrap().len(),
        10
    );
    assert!(said.contains("quality"), "{said}");
}
