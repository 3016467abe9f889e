//! Real, small training runs on OSIE with the ImageNet backbone: they learn, and a run stopped
//! after one epoch and resumed ends where an uninterrupted run ends.

use std::path::PathBuf;

use absnet_data::loader::{Loader, LoaderConfig, Skipped};
use absnet_model::weights::module_tensors;
use absnet_mtl::config::TrainConfig;
use absnet_mtl::run::{saliency_samples, train, validate};
use burn::tensor::Device;

fn config(dir: &PathBuf) -> Option<TrainConfig> {
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
    task.datasets = vec![format!("osie:{}", osie.display())];
    task.split = dir.join("split.json");
    Some(config)
}

/// burn seeds its random initialisation per process: runs in one test binary take turns.
static ONE_RUN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("absnet-runs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_short_run_on_osie_improves_kld_and_cc() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("learn");
    let Some(config) = config(&dir) else { return };
    let device = Device::flex();
    // The starting point: the ImageNet backbone with untrained neck and head.
    let val = saliency_samples(&config).unwrap().val;
    let val = &val[..24];
    let loader = Loader::new(val, LoaderConfig { sigma_fraction: 0.03, ..LoaderConfig::new(config.input) });
    let visits: Vec<(usize, bool)> = (0..val.len()).map(|i| (i, false)).collect();
    let examples = loader.batch(&visits, &mut Skipped::default()).unwrap();
    let start_model = absnet_model::AbsNet::new(&config.model, &device)
        .unwrap()
        .load_backbone(config.backbone_weights.as_ref().unwrap())
        .unwrap();
    let before = validate(&start_model, &examples, &config, &device);
    let summary = train(&config, &dir.join("run"), false, &device, &|_| {}).unwrap();
    let after = summary.validations.last().unwrap();
    eprintln!("before {before:?}\nafter  {after:?}");
    assert!(after.kld < before.kld, "KLD {} → {}", before.kld, after.kld);
    assert!(after.cc > before.cc, "CC {} → {}", before.cc, after.cc);
}

#[test]
fn stopping_and_resuming_ends_where_an_uninterrupted_run_ends() {
    let _turn = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("resume");
    let Some(config) = config(&dir) else { return };
    let device = Device::flex();
    let straight = train(&config, &dir.join("straight"), false, &device, &|_| {}).unwrap();
    // The same run stopped after its first epoch (as a kill after the checkpoint would) …
    let mut first = config.clone();
    first.epochs = 1;
    let resumed_dir = dir.join("resumed");
    train(&first, &resumed_dir, false, &device, &|_| {}).unwrap();
    // … and resumed for the second epoch (a changed configuration is refused).
    let latest = resumed_dir.join("checkpoints/latest.json");
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&latest).unwrap()).unwrap();
    assert_eq!(state["epoch"], 1);
    let mut changed = config.clone();
    changed.groups.saliency.lr *= 2.0;
    let err = train(&changed, &resumed_dir, true, &device, &|_| {}).unwrap_err().to_string();
    assert!(err.contains("another configuration"), "{err}");
    let resumed = train(&config, &resumed_dir, true, &device, &|_| {}).unwrap();
    assert_eq!((resumed.epochs, resumed.steps), (straight.epochs, straight.steps));
    let (a, b) = (module_tensors(&straight.model), module_tensors(&resumed.model));
    let worst = a
        .iter()
        .map(|(name, t)| t.data.iter().zip(&b[name].data).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max))
        .fold(0.0f32, f32::max);
    eprintln!("largest weight difference straight vs resumed: {worst:e}");
    assert_eq!(worst, 0.0, "bitwise equal on the CPU backend");
}
