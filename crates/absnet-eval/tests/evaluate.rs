//! End to end: prediction files on disk scored against the real OSIE fixations and AVA votes,
//! compared with the pysaliency / scipy reference values.

use absnet_eval::predictions::PredictionFolder;
use absnet_eval::{aesthetics, saliency};
use image::{ImageBuffer, Luma};
use serde_json::Value;

fn temp_dir(name: &str) -> absnet_testkit::TempFolder {
    absnet_testkit::temp_folder(&format!("eval-{name}"))
}

fn reference() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(absnet_testkit::fixture("metrics_reference.json")).unwrap(),
    )
    .unwrap()
}

/// The reference's centre-bias map as a 16-bit PNG of `w × h`.
fn centre_png(w: u32, h: u32) -> ImageBuffer<Luma<u16>, Vec<u16>> {
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let (sx, sy) = (w as f64 / 6.0, h as f64 / 6.0);
    ImageBuffer::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f64 - cx, y as f64 - cy);
        let v = (-(dx * dx / (2.0 * sx * sx) + dy * dy / (2.0 * sy * sy))).exp();
        Luma([(v * 65535.0).round() as u16])
    })
}

/// The scores of the maps in `dir` against `samples`.
fn evaluate_folder(
    samples: &[absnet_data::Sample],
    dir: &std::path::Path,
    options: &saliency::SaliencyEvalOptions,
) -> saliency::SaliencyReport {
    saliency::evaluate(
        samples,
        &PredictionFolder::open(dir).unwrap(),
        options,
        &|| {},
    )
    .unwrap()
}

/// The first `count` OSIE images with their fixations (`None`, said why, outside CI without
/// the shared data).
fn osie_samples(count: usize) -> Option<Vec<absnet_data::Sample>> {
    let root = absnet_testkit::shared_data("osie")?;
    let samples = absnet_data::osie::load_dataset(&root).unwrap();
    Some(samples.into_iter().take(count).collect())
}

#[test]
fn saliency_maps_on_disk_score_like_pysaliency_on_osie() {
    let Some(samples) = osie_samples(20) else {
        return;
    };
    let dir = temp_dir("osie");
    for (i, sample) in samples.iter().enumerate() {
        let path = dir.join(format!("{}.png", sample.id));
        match i {
            // A map at half resolution is resized to the image.
            3 => centre_png(400, 300).save(&path).unwrap(),
            // A corrupt file is reported and skipped.
            5 => std::fs::write(&path, b"not a png").unwrap(),
            // No prediction at all for image 7.
            7 => {}
            _ => centre_png(800, 600).save(&path).unwrap(),
        }
    }
    let options = saliency::SaliencyEvalOptions::pysaliency(24.0);
    let report = evaluate_folder(&samples, &dir, &options);
    assert_eq!(report.images, 18);
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.image.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped.iter().any(
            |(id, why)| *id == samples[5].id && why.contains(&format!("{}.png", samples[5].id))
        ),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|(id, why)| *id == samples[7].id && *why == "no prediction"),
        "{skipped:?}"
    );
    let reference = reference();
    for scores in &report.per_image {
        let index = samples.iter().position(|s| s.id == scores.image).unwrap();
        let want = &reference["images"][index]["metrics"]["centre"];
        // 16-bit quantisation (and, for image 3, resampling) moves the scores slightly.
        let tolerance = if index == 3 { 2e-2 } else { 2e-3 };
        for (name, got, key) in [
            ("NSS", scores.nss, "nss_pysaliency"),
            ("CC", scores.cc, "cc"),
            ("KLD", scores.kld, "kld_pysaliency"),
            ("SIM", scores.sim, "sim_pysaliency"),
            ("AUC-Judd", scores.auc_judd, "auc_judd"),
        ] {
            let want = want[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < tolerance,
                "image {index} {name}: {got} vs {want}"
            );
        }
        // Random negatives: close to the reference's own draws, not equal. The shuffled AUC's
        // other images are drawn at random here (the next ten there), so it varies more.
        let borji = want["auc_borji_seeded"].as_f64().unwrap();
        assert!(
            (scores.auc_borji - borji).abs() < 0.02,
            "image {index} AUC-Borji: {} vs {borji}",
            scores.auc_borji
        );
        let shuffled = want["auc_shuffled_seeded"].as_f64().unwrap();
        assert!(
            (scores.sauc - shuffled).abs() < 0.1,
            "image {index} sAUC: {} vs {shuffled}",
            scores.sauc
        );
    }
    // The fixation-weighted mean NSS is the weighted mean of the per-image values.
    let total: usize = report.per_image.iter().map(|s| s.fixations).sum();
    let weighted: f64 = report
        .per_image
        .iter()
        .map(|s| s.nss * s.fixations as f64)
        .sum::<f64>()
        / total as f64;
    assert!((report.means["nss"] - weighted).abs() < 1e-12);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["per_image"].as_array().unwrap().len(), 18);
}

#[test]
fn a_prediction_folder_that_matches_nothing_is_an_error() {
    let Some(samples) = osie_samples(3) else {
        return;
    };
    let dir = temp_dir("empty");
    let err = saliency::evaluate(
        &samples,
        &PredictionFolder::open(&dir).unwrap(),
        &saliency::SaliencyEvalOptions::mit(24.0),
        &|| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("no prediction"), "{err}");
    let missing = dir.join("does-not-exist");
    let err = PredictionFolder::open(&missing).err().unwrap();
    assert!(err.to_string().contains("does-not-exist"), "{err}");
}

#[test]
fn aesthetic_predictions_in_csv_score_like_scipy_on_ava() {
    let Some(labels_path) = absnet_testkit::shared_data("ava-labels/data/AVA/ava_labels_test.json")
    else {
        return;
    };
    let labels = aesthetics::read_distributions(&labels_path).unwrap();
    assert_eq!(labels.len(), 25_551);
    let want = &reference()["aesthetics"];
    let entries: Value =
        serde_json::from_str(&std::fs::read_to_string(&labels_path).unwrap()).unwrap();
    let dir = temp_dir("ava");
    let csv = dir.join("predictions.csv");
    let mut text = String::from("image_id,p1,p2,p3,p4,p5,p6,p7,p8,p9,p10\n");
    for entry in &entries.as_array().unwrap()[..2000] {
        let c: Vec<f64> = entry["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let p: Vec<String> = (0..10)
            .map(|i| (c[i] + 0.5 * c[(i + 9) % 10] + 1.0).to_string())
            .collect();
        text.push_str(&format!(
            "{},{}\n",
            entry["image_id"].as_str().unwrap(),
            p.join(",")
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let predictions = aesthetics::read_distributions(&csv).unwrap();
    let report = aesthetics::evaluate(&labels, &predictions).unwrap();
    assert_eq!(
        (
            report.images,
            report.missing_predictions,
            report.unlabelled_predictions
        ),
        (2000, 23_551, 0)
    );
    for (name, got, key, tolerance) in [
        ("EMD r=1", report.scores.emd1, "emd1_mean", 1e-12),
        ("EMD r=2", report.scores.emd2, "emd2_mean", 1e-12),
        ("PLCC", report.scores.plcc.unwrap(), "plcc", 1e-9),
        ("SRCC", report.scores.srcc.unwrap(), "srcc", 1e-6),
        ("accuracy", report.scores.accuracy, "accuracy", 1e-12),
        ("MSE", report.scores.mse, "mse", 1e-12),
    ] {
        let want = want[key].as_f64().unwrap();
        assert!((got - want).abs() <= tolerance, "{name}: {got} vs {want}");
    }
}

#[test]
fn malformed_label_files_name_the_problem() {
    let dir = temp_dir("bad-labels");
    let cases: [(&str, &str, &str); 4] = [
        ("short.csv", "1,1,2,3\n", "line 1: 3 values, expected 10"),
        (
            "word.csv",
            "image_id,p1,p2,p3,p4,p5,p6,p7,p8,p9,p10\n1,1,2,3,4,5,6,7,8,9,x\n",
            "line 2: `x` is not a number",
        ),
        (
            "twice.json",
            r#"[{"image_id":"7","label":[1,1,1,1,1,1,1,1,1,1]},{"image_id":"7","label":[1,1,1,1,1,1,1,1,1,1]}]"#,
            "entry 1 (7): image id appears twice",
        ),
        (
            "nolabel.json",
            r#"[{"image_id":"9"}]"#,
            "missing field `label`",
        ),
    ];
    for (name, content, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let err = aesthetics::read_distributions(&path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(name) && err.contains(expected),
            "{name}: {err}"
        );
    }
}

/// Each sample's own fixation density (σ 24 px) as a 16-bit PNG in `dir`: a near-perfect map.
fn write_density_maps(samples: &[absnet_data::Sample], dir: &std::path::Path) {
    use absnet_data::density::{Border, density_map};
    for sample in samples {
        let [w, h] = sample.image_size().unwrap();
        let map = density_map(
            w as usize,
            h as usize,
            sample.fixations().map(|f| (f.x, f.y)),
            24.0,
            Border::Zero,
        )
        .unwrap();
        let max = map.iter().copied().fold(0.0, f64::max);
        let png = ImageBuffer::<Luma<u16>, Vec<u16>>::from_fn(w, h, |x, y| {
            Luma([(map[(y as usize, x as usize)] / max * 65535.0).round() as u16])
        });
        png.save(dir.join(format!("{}.png", sample.id))).unwrap();
    }
}

#[test]
fn an_osie_format_set_of_another_image_size_is_scored_at_its_own_size() {
    // 1024×768 stimuli in OSIE's layout: a reader assuming 800×600 dropped most fixations and
    // scored good maps as poor ones.
    let spec: absnet_data::DatasetSpec = format!(
        "osie:{}",
        absnet_testkit::fixture("datasets/osie-1024").display()
    )
    .parse()
    .unwrap();
    let samples = spec.load().unwrap();
    let dir = temp_dir("osie-1024");
    write_density_maps(&samples, &dir);
    let options = saliency::SaliencyEvalOptions::mit(24.0);
    let report = evaluate_folder(&samples, &dir, &options);
    assert_eq!(report.images, 2);
    assert!(report.per_image.iter().all(|s| s.dropped_fixations == 0));
    assert!(
        report.means["nss"] > 5.0 && report.means["auc_judd"] > 0.95,
        "{:?}",
        report.means
    );
    // Labels stating another size than the image's are refused, not scored.
    let mut wrong = samples.clone();
    wrong[0].labelled_size = Some([800, 600]);
    let err = saliency::evaluate(
        &wrong,
        &PredictionFolder::open(&dir).unwrap(),
        &options,
        &|| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("crowd1.jpg") && err.contains("labels say 800×600"),
        "{err}"
    );
    // Two maps of one image are refused, not picked at random.
    std::fs::copy(dir.join("crowd1.png"), dir.join("crowd1.saliency.png")).unwrap();
    let err = PredictionFolder::open(&dir).err().unwrap().to_string();
    assert!(err.contains("both maps of `crowd1`"), "{err}");
}
