//! Real, small training runs with the ImageNet backbone: saliency on OSIE learns; a run stopped
//! and resumed ends where an uninterrupted run ends; multi-task runs with an aesthetics task on
//! an AVA-format dataset (images generated here, real vote counts from ../shared/data/ava-labels)
//! train both heads under the alternating and joint schedules.

use std::path::PathBuf;

use absnet_data::loader::{Loader, LoaderConfig, Skipped};
use absnet_model::Head;
use absnet_model::weights::module_tensors;
use absnet_mtl::balancing::BalancingConfig;
use absnet_mtl::config::RatingTask;
use absnet_mtl::config::TrainConfig;
use absnet_mtl::run::{Start, train};
use absnet_mtl::schedule::TaskSchedule;
use absnet_mtl::tasks::{Features, Objective, Saliency, load_tasks};
use burn::tensor::Device;

fn config(dir: &std::path::Path) -> Option<TrainConfig> {
    let osie = absnet_testkit::shared_data("osie")?;
    let weights = absnet_testkit::pretrained("mobilenet_v2.safetensors")?;
    let mut config = TrainConfig::default_saliency();
    config.backbone_weights = Some(weights);
    config.input = [96, 72];
    config.batch = 4;
    config.epochs = 2;
    config.steps_per_epoch = Some(8);
    config.val_images = Some(24);
    let task = config.saliency.as_mut().unwrap();
    task.datasets = vec![format!("osie:{}", osie.display()).parse().unwrap()];
    task.split = dir.join("split.json");
    Some(config)
}

/// burn seeds its random initialisation per process: runs in one test binary take turns.
static ONE_RUN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn temp_dir(name: &str) -> absnet_testkit::TempFolder {
    absnet_testkit::temp_folder(&format!("runs-{name}"))
}

#[test]
fn a_short_run_on_osie_improves_kld_and_cc() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("learn");
    let Some(config) = config(&dir) else { return };
    let device = Device::flex();
    // The starting point: the ImageNet backbone with untrained neck and head.
    let val = load_tasks(&config).unwrap().remove(0).val;
    let val = &val[..24];
    let loader = Loader::new(
        val,
        LoaderConfig {
            sigma_fraction: 0.03,
            ..LoaderConfig::new(config.input)
        },
    );
    let visits: Vec<(usize, bool)> = (0..val.len()).map(|i| (i, false)).collect();
    let examples = loader.batch(&visits, &mut Skipped::default()).unwrap();
    let start_model = absnet_model::AbsNet::new(&config.model, &device)
        .unwrap()
        .load_backbone(config.backbone_weights.as_ref().unwrap())
        .unwrap();
    let before = Saliency::new(&config)
        .validate(&start_model, &examples, Features::Live, &device)
        .unwrap();
    let summary = train(&config, &dir.join("run"), Start::New, &device, &|_| {}).unwrap();
    let after = summary.validations.last().unwrap().1[&Head::Saliency].clone();
    eprintln!("before {before:?}\nafter  {after:?}");
    assert!(
        after["kld"] < before["kld"],
        "KLD {} → {}",
        before["kld"],
        after["kld"]
    );
    assert!(
        after["cc"] > before["cc"],
        "CC {} → {}",
        before["cc"],
        after["cc"]
    );
}

#[test]
fn stopping_and_resuming_ends_where_an_uninterrupted_run_ends() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("resume");
    let Some(config) = config(&dir) else { return };
    let device = Device::flex();
    let straight = train(&config, &dir.join("straight"), Start::New, &device, &|_| {}).unwrap();
    // The same run stopped after its first epoch (as a kill after the checkpoint would) …
    let mut first = config.clone();
    first.epochs = 1;
    let resumed_dir = dir.join("resumed");
    train(&first, &resumed_dir, Start::New, &device, &|_| {}).unwrap();
    // … and resumed for the second epoch (a changed configuration is refused).
    let latest = resumed_dir.join("checkpoints/latest.json");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&latest).unwrap()).unwrap();
    assert_eq!(state["epoch"], 1);
    let mut changed = config.clone();
    changed.groups.heads.get_mut(&Head::Saliency).unwrap().lr *= 2.0;
    let err = train(&changed, &resumed_dir, Start::Resume, &device, &|_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("another configuration"), "{err}");
    let resumed = train(&config, &resumed_dir, Start::Resume, &device, &|_| {}).unwrap();
    let epochs: Vec<usize> = resumed
        .validations
        .iter()
        .map(|(epoch, _)| *epoch)
        .collect();
    assert_eq!(epochs, [2], "a resumed run numbers its epochs on");

    assert_eq!(
        (resumed.epochs, resumed.steps),
        (straight.epochs, straight.steps)
    );
    let worst = largest_weight_difference(&straight.model, &resumed.model);
    eprintln!("largest weight difference straight vs resumed: {worst:e}");
    assert_eq!(worst, 0.0, "bitwise equal on the CPU backend");
}

/// The largest difference between the two models' weights, over every tensor.
fn largest_weight_difference<M: burn::module::Module>(a: &M, b: &M) -> f32 {
    let (a, b) = (module_tensors(a), module_tensors(b));
    a.iter()
        .map(|(name, t)| {
            t.data
                .iter()
                .zip(&b[name].data)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        })
        .fold(0.0f32, f32::max)
}

/// An AVA-format dataset in `dir`: `count` generated images (brightness rising with the mean
/// score, so there is something to learn) and the first `count` real vote-count rows.
fn ava_fixture(dir: &std::path::Path, count: usize) -> Option<PathBuf> {
    let labels = absnet_testkit::shared_data("ava-labels")?.join("data/AVA/ava_labels_test.json");
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(labels).unwrap()).unwrap();
    let root = dir.join("ava");
    std::fs::create_dir_all(root.join("images")).unwrap();
    let mut rows = String::new();
    for (i, entry) in entries.iter().take(count).enumerate() {
        let id = entry["image_id"].as_str().unwrap();
        let votes: Vec<u64> = entry["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let mean = votes
            .iter()
            .enumerate()
            .map(|(k, v)| (k + 1) as f64 * *v as f64)
            .sum::<f64>()
            / votes.iter().sum::<u64>() as f64;
        let noise = absnet_testkit::uniform(id, 80 * 60);
        let image = image::RgbImage::from_fn(80, 60, |x, y| {
            let level = (mean / 10.0 * 200.0 + 40.0 * noise[(y * 80 + x) as usize]) as u8;
            image::Rgb([level, level / 2 + (x as u8), 255 - level])
        });
        image
            .save(root.join("images").join(format!("{id}.jpg")))
            .unwrap();
        let votes: Vec<String> = votes.iter().map(u64::to_string).collect();
        rows.push_str(&format!("{} {id} {} 0 0 1\n", i + 1, votes.join(" ")));
    }
    std::fs::write(root.join("AVA.txt"), rows).unwrap();
    Some(root)
}

/// Saliency (OSIE) and aesthetics (the AVA fixture) sharing one encoder.
fn multi_task_config(dir: &std::path::Path) -> Option<TrainConfig> {
    let mut config = config(dir)?;
    let ava = ava_fixture(dir, 32)?;
    config.input = [64, 48];
    config.epochs = 2;
    config.steps_per_epoch = Some(6);
    config.val_images = Some(8);
    config.model.heads.aesthetics = Some(absnet_model::heads::RatingHeadConfig::default());
    config.aesthetics = Some(RatingTask {
        datasets: vec![format!("ava:{}", ava.display()).parse().unwrap()],
        split: dir.join("ava-split.json"),
        split_seed: 1,
        split_ratios: [0.75, 0.25, 0.0],
        loss: Default::default(),
        crop: None,
        weight: 1.0,
    });
    Some(config)
}

fn log_records(run: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn alternating_rounds_train_both_heads_on_their_own_data() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("alternating");
    let Some(mut config) = multi_task_config(&dir) else {
        return;
    };
    config.task_schedule = TaskSchedule::Alternating {
        round_steps: Some(2),
        round_epochs: None,
    };
    let run = dir.join("run");
    let summary = train(&config, &run, Start::New, &Device::flex(), &|_| {}).unwrap();
    // Rounds of two steps: saliency, saliency, aesthetics, aesthetics, …
    let trained: Vec<String> = log_records(&run)
        .iter()
        .filter_map(|r| {
            r["losses"]
                .as_object()
                .map(|l| l.keys().cloned().collect::<Vec<_>>().join("+"))
        })
        .collect();
    assert_eq!(
        trained[..6],
        [
            "saliency",
            "saliency",
            "aesthetics",
            "aesthetics",
            "saliency",
            "saliency"
        ]
    );
    assert_eq!(trained.len(), 12);
    let (_, last) = summary.validations.last().unwrap();
    let (s, a) = (&last[&Head::Saliency], &last[&Head::Aesthetics]);
    eprintln!("{s:?}\n{a:?}");
    assert!(s["cc"].is_finite() && a["emd"].is_finite() && a["emd"] > 0.0);
    assert!(run.join("curves.png").exists());
    // The exported model says both heads are trained, and on what.
    let options = absnet_mtl::export::ExportOptions {
        precision: absnet_model::weights::StoredPrecision::F32,
        flip_average: false,
        force: false,
        onto: None,
        checkpoint: absnet_mtl::export::Checkpoint::Best,
    };
    let output = dir.join("model.safetensors");
    let card = absnet_mtl::export::export(&run, &output, options, &Device::flex()).unwrap();
    // Nothing there is replaced without `force`, and a model file's name is checked.
    let user_card = std::fs::read(dir.join("model.json")).unwrap();
    let err = absnet_mtl::export::export(&run, &output, options, &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    let err = absnet_mtl::export::export(&run, &dir.join("model.json"), options, &Device::flex())
        .unwrap_err();
    assert!(err.to_string().contains(".safetensors"), "{err}");
    assert_eq!(std::fs::read(dir.join("model.json")).unwrap(), user_card);
    let forced = absnet_mtl::export::ExportOptions {
        force: true,
        ..options
    };
    absnet_mtl::export::export(&run, &output, forced, &Device::flex()).unwrap();
    // The last epoch's checkpoint on request, whatever its validation score.
    let latest = absnet_mtl::export::ExportOptions {
        checkpoint: absnet_mtl::export::Checkpoint::Latest,
        ..forced
    };
    let last = absnet_mtl::export::export(&run, &output, latest, &Device::flex()).unwrap();
    let notes = &last.heads[&Head::Saliency].notes;
    let epoch = format!("epoch-{}", summary.epochs);
    assert!(
        notes.contains(&epoch) && notes.contains("as asked"),
        "{notes}"
    );
    assert!(card.heads[&Head::Saliency].trained && card.heads[&Head::Aesthetics].trained);
    assert!(
        card.heads[&Head::Aesthetics].data[0].starts_with("ava:"),
        "{:?}",
        card.heads[&Head::Aesthetics].data
    );
}

#[test]
fn joint_steps_with_learned_balancing_resume_mid_epoch_bitwise() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("joint");
    let Some(mut config) = multi_task_config(&dir) else {
        return;
    };
    config.task_schedule = TaskSchedule::Joint {};
    config.balancing = BalancingConfig::Uncertainty {};
    // Uncertainty weighting reads the losses' scale: no −NSS in the saliency loss.
    config.saliency.as_mut().unwrap().loss.nss = 0.0;
    config.checkpoint_steps = Some(4);
    let device = Device::flex();
    let straight = train(&config, &dir.join("straight"), Start::New, &device, &|_| {}).unwrap();
    let records = log_records(&dir.join("straight"));
    let first = &records[0];
    assert_eq!(
        first["losses"].as_object().unwrap().len(),
        2,
        "both tasks every step: {first}"
    );
    // The learned weights start at exp(0) / 2 and move.
    assert_eq!(first["weights"]["saliency"], 0.5);
    let last_step = records
        .iter()
        .rev()
        .find(|r| r["weights"].is_object())
        .unwrap();
    assert_ne!(last_step["weights"]["aesthetics"], 0.5);
    // A run killed after step 5 (its step-4 checkpoint committed) and resumed from there.
    let killed = dir.join("killed");
    let kill = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train(&config, &killed, Start::New, &device, &|p| {
            assert!(p.step < 5, "killed at step {}", p.step)
        })
    }));
    assert!(kill.is_err());
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(killed.join("checkpoints/latest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (state["step"].as_u64(), state["epoch"].as_u64()),
        (Some(4), Some(0))
    );
    let resumed = train(&config, &killed, Start::Resume, &device, &|_| {}).unwrap();
    assert_eq!(resumed.steps, straight.steps);
    let worst = largest_weight_difference(&straight.model, &resumed.model);
    assert_eq!(worst, 0.0, "bitwise equal on the CPU backend");
    let final_weights = |run: &std::path::Path| {
        log_records(run)
            .iter()
            .rev()
            .find(|r| r["weights"].is_object())
            .unwrap()["weights"]
            .clone()
    };
    assert_eq!(
        final_weights(&dir.join("straight")),
        final_weights(&killed),
        "the balancing state resumes too"
    );
}

#[test]
fn a_missing_dataset_fails_before_training_starts() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("missing");
    let Some(mut config) = config(&dir) else {
        return;
    };
    config.saliency.as_mut().unwrap().datasets = vec!["osie:/nonexistent/osie".parse().unwrap()];
    let err = train(
        &config,
        &dir.join("run"),
        Start::New,
        &Device::flex(),
        &|_| panic!("no step may run"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/osie"), "{err}");
    assert!(!dir.join("run/checkpoints/latest.json").exists());
}

#[test]
fn a_non_finite_loss_stops_the_run_or_skips_the_step_and_the_last_checkpoint_stays() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("non-finite");
    let Some(mut config) = config(&dir) else {
        return;
    };
    // A learning rate this large sends the encoder's weights to ±1e30 in one step: the next
    // forward pass overflows.
    config.groups.shared.lr = 1e30;
    config.checkpoint_steps = Some(1);
    config.epochs = 1;
    let device = Device::flex();
    let run = dir.join("stop");
    let err = train(&config, &run, Start::New, &device, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not finite") && err.contains("step 2") && err.contains("step-1, is kept"),
        "{err}"
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("checkpoints/latest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["step"], 1);
    assert!(run.join("checkpoints/step-1/model.bpk").exists());
    // Skipping instead: the run finishes, and every skipped step is in the log.
    config.non_finite = absnet_mtl::config::NonFinite::Skip;
    let run = dir.join("skip");
    let summary = train(&config, &run, Start::New, &device, &|_| {}).unwrap();
    assert_eq!(summary.steps, 8);
    let skipped = log_records(&run)
        .iter()
        .filter(|r| r["skipped"].is_string())
        .count();
    assert!(skipped >= 1, "skipped steps are logged");
}

#[test]
fn a_run_folder_is_never_appended_to_by_mistake() {
    let dir = temp_dir("folders");
    let Some(config) = config(&dir) else {
        return;
    };
    let device = Device::flex();
    let never = |_: &absnet_mtl::run::Progress| panic!("no step may run");
    // --resume where no run was started is refused, not a silent fresh start.
    let err = train(
        &config,
        &dir.join("nothing"),
        Start::Resume,
        &device,
        &never,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no run to resume"), "{err}");
    // A folder holding a run needs --resume or --overwrite.
    let run = dir.join("earlier");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("log.jsonl"), "{}\n").unwrap();
    let err = train(&config, &run, Start::New, &device, &never)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--resume") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(run.join("log.jsonl")).unwrap(),
        "{}\n",
        "left untouched"
    );
    // A folder another `absnet train` holds is refused, --overwrite included.
    let held = std::fs::File::create(run.join("lock")).unwrap();
    held.lock().unwrap();
    let err = train(&config, &run, Start::Overwrite, &device, &never)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another `absnet train`"), "{err}");
    assert_eq!(
        std::fs::read_to_string(run.join("log.jsonl")).unwrap(),
        "{}\n",
        "left untouched"
    );
}

/// The fast model's recipe, small: a readout on the frozen, plain-stride MobileNetV2 trained by
/// the fixations' log-likelihood.
fn readout_config(dir: &std::path::Path) -> Option<TrainConfig> {
    let mut config = config(dir)?;
    config.model = toml::from_str(
        r#"
        [backbone]
        arch = "mobilenet_v2"
        output_stride = 32
        [heads.saliency]
        kind = "readout"
        "#,
    )
    .unwrap();
    config.input = [128, 96];
    config.steps_per_epoch = Some(4);
    config.val_images = Some(8);
    config.groups.shared.frozen_epochs = config.epochs;
    config.saliency.as_mut().unwrap().loss = toml::from_str("nll = 1.0").unwrap();
    Some(config)
}

fn step_losses(run: &std::path::Path) -> Vec<f64> {
    log_records(run)
        .iter()
        .filter(|r| r["record"] == "step")
        .map(|r| r["losses"]["saliency"].as_f64().unwrap())
        .collect()
}

/// The runs `live` and `cached` in `dir` took the same 8 steps on the same batches: only the
/// cached features' float16 rounding may differ.
fn same_steps(dir: &std::path::Path) {
    let (a, b) = (
        step_losses(&dir.join("live")),
        step_losses(&dir.join("cached")),
    );
    assert_eq!(a.len(), 8);
    for (step, (a, b)) in a.iter().zip(&b).enumerate() {
        assert!(
            (a - b).abs() < 2e-3,
            "step {}: {a} live, {b} cached",
            step + 1
        );
    }
}

#[test]
fn cached_features_train_the_readout_as_the_backbone_does() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("cache");
    let Some(mut config) = readout_config(&dir) else {
        return;
    };
    let device = Device::flex();
    let live = train(&config, &dir.join("live"), Start::New, &device, &|_| {}).unwrap();
    let cache = dir.join("features");
    config.feature_cache = Some(cache.clone());
    let cached = train(&config, &dir.join("cached"), Start::New, &device, &|_| {}).unwrap();
    same_steps(&dir);
    let (a, b) = (&live.validations[1].1, &cached.validations[1].1);
    let (a, b) = (&a[&Head::Saliency], &b[&Head::Saliency]);
    assert!((a["nss"] - b["nss"]).abs() < 1e-2, "{a:?} vs {b:?}");

    // One entry per training image and flip, and per validation image, all kept: a second run
    // computes nothing (the entries' times stay as they were).
    let entries = |cache: &std::path::Path| -> Vec<(PathBuf, std::time::SystemTime)> {
        let folder = std::fs::read_dir(cache)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut entries: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "f16"))
            .map(|p| {
                let modified = std::fs::metadata(&p).unwrap().modified().unwrap();
                (p, modified)
            })
            .collect();
        entries.sort();
        entries
    };
    let before = entries(&cache);
    let tasks = load_tasks(&config).unwrap();
    assert_eq!(before.len(), 2 * tasks[0].train.len() + tasks[0].val.len());
    train(&config, &dir.join("again"), Start::New, &device, &|_| {}).unwrap();
    assert_eq!(entries(&cache), before);

    // A damaged entry is an error that names it, not a silently wrong batch.
    for (entry, _) in &before {
        let bytes = std::fs::read(entry).unwrap();
        std::fs::write(entry, &bytes[..bytes.len() / 2]).unwrap();
    }
    let err = train(&config, &dir.join("damaged"), Start::New, &device, &|_| {}).unwrap_err();
    let message = err.to_string();
    assert!(
        before
            .iter()
            .any(|(entry, _)| message.contains(&entry.display().to_string()))
            && message.contains("bytes of features"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_feature_cache_needs_an_encoder_frozen_for_the_whole_run() {
    let dir = temp_dir("cache-frozen");
    let Some(mut config) = readout_config(&dir) else {
        return;
    };
    config.feature_cache = Some(dir.join("features"));
    config.groups.shared.frozen_epochs = 1;
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("feature_cache") && err.contains("frozen_epochs"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_encoder_frozen_through_c4_trains_only_its_last_blocks_cached_or_not() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("frozen-through");
    let Some(mut config) = readout_config(&dir) else {
        return;
    };
    config.frozen_through = Some(absnet_model::Tap::C4);
    config.groups.shared.frozen_epochs = 0;
    // A gentle rate: a steep one amplifies the features' float16 rounding step by step.
    config.groups.shared.lr = 1e-4;
    let device = Device::flex();
    let live = train(&config, &dir.join("live"), Start::New, &device, &|_| {}).unwrap();
    config.feature_cache = Some(dir.join("features"));
    let cached = train(&config, &dir.join("cached"), Start::New, &device, &|_| {}).unwrap();
    same_steps(&dir);

    // MobileNetV2's c4 is the output of block 12 (torchvision's features.13): the stem and
    // blocks 0–12 keep their ImageNet weights, blocks 13–16 and the 1×1 head conv train.
    let start = absnet_model::AbsNet::new(&config.model, &device)
        .unwrap()
        .load_backbone(config.backbone_weights.as_ref().unwrap())
        .unwrap();
    let start = module_tensors(&start);
    for model in [&live.model, &cached.model] {
        let trained = module_tensors(model);
        let mut moved = Vec::new();
        for (name, t) in start.iter().filter(|(n, _)| n.starts_with("backbone.")) {
            if t.data != trained[name].data {
                moved.push(name.clone());
            }
        }
        let block = |name: &str| -> Option<usize> { name.split('.').nth(2)?.parse().ok() };
        assert!(
            moved
                .iter()
                .all(|n| n.starts_with("backbone.head.") || block(n).is_some_and(|b| b >= 13)),
            "{moved:?}"
        );
        assert!(moved.iter().any(|n| n.starts_with("backbone.head.")));
        assert!(moved.iter().any(|n| block(n) == Some(13)), "{moved:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// LIVE-C's 80/20 protocol: a split file without a validation part trains on everything else,
/// scores nothing, and exports its last epoch.
#[test]
fn a_split_without_a_validation_part_keeps_the_last_epoch() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("no-validation");
    let Some(config) = readout_config(&dir) else {
        return;
    };
    let drawn = load_tasks(&config).unwrap().remove(0);
    let path = dir.join("split.json");
    let mut split = absnet_data::split::Split::read(&path).unwrap();
    split.train.append(&mut split.val);
    split.ratios = None;
    split.origin = Some("validation moved into training".into());
    split.write(&path).unwrap();
    let task = load_tasks(&config).unwrap().remove(0);
    assert!(task.val.is_empty());
    assert_eq!(task.train.len(), drawn.train.len() + drawn.val.len());

    let run = dir.join("run");
    let summary = train(&config, &run, Start::New, &Device::flex(), &|_| {}).unwrap();
    assert_eq!(summary.validations.len(), config.epochs);
    assert!(summary.validations.iter().all(|(_, v)| v.is_empty()));
    // The curves leave out the empty validation panel: losses and weights, 500 px each.
    let curves = image::image_dimensions(run.join("curves.png")).unwrap();
    assert_eq!(curves, (1000, 450));
    let options = absnet_mtl::export::ExportOptions {
        precision: absnet_model::weights::StoredPrecision::F32,
        flip_average: false,
        force: false,
        onto: None,
        checkpoint: absnet_mtl::export::Checkpoint::Best,
    };
    let card = absnet_mtl::export::export(
        &run,
        &dir.join("model.safetensors"),
        options,
        &Device::flex(),
    )
    .unwrap();
    let notes = &card.heads[&Head::Saliency].notes;
    assert!(
        notes.contains(&format!(
            "checkpoint {}",
            run.join("checkpoints")
                .join(format!("epoch-{}", config.epochs))
                .display()
        )) && notes.contains("no validation part"),
        "{notes}"
    );

    // A split with no training images is refused by key.
    split.train.clear();
    split.write(&path).unwrap();
    let Err(err) = load_tasks(&config) else {
        panic!("a split without training images was accepted")
    };
    let err = err.to_string();
    assert!(
        err.contains("saliency.split") && err.contains("no training images"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
