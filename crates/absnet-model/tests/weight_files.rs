//! Reading both PyTorch checkpoint formats, writing and reading model files, and the errors for
//! files that are truncated, empty, of the wrong architecture or not absnet's.

mod common;

use std::path::Path;

use absnet_model::card::{self, ModelCard};
use absnet_model::weights::{self, StoredPrecision};
use absnet_model::{AbsNet, AbsNetConfig, Arch, BackboneConfig, Head, ModelError};
use burn::tensor::Device;
use common::*;

fn temp_dir(name: &str) -> absnet_testkit::TempFolder {
    absnet_testkit::temp_folder(&format!("test-{name}"))
}

#[test]
fn zip_and_legacy_checkpoints_read_the_same_tensors() {
    let zip = weights::read_checkpoint(&fixture("checkpoints/tiny_zip.pth")).unwrap();
    let legacy = weights::read_checkpoint(&fixture("checkpoints/tiny_legacy.pth")).unwrap();
    assert_eq!(zip, legacy);
    let names: Vec<&str> = zip.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "0.bias",
            "0.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.weight",
            "2.bias",
            "2.weight"
        ]
    );
    for (name, tensor) in &zip {
        assert_eq!(tensor, &generated(name, &tensor.shape), "{name}");
    }
}

#[test]
fn truncated_and_empty_files_name_the_file() {
    let dir = temp_dir("truncated");
    for source in [
        "checkpoints/tiny_zip.pth",
        "checkpoints/tiny_legacy.pth",
        "imagenet.safetensors",
    ] {
        let bytes = std::fs::read(fixture(source)).unwrap();
        let name = Path::new(source).file_name().unwrap();
        let cut = dir.join(name);
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = weights::read_checkpoint(&cut).unwrap_err().to_string();
        assert!(err.contains(&*cut.to_string_lossy()), "{source}: {err}");
        std::fs::write(&cut, b"").unwrap();
        let err = weights::read_checkpoint(&cut).unwrap_err().to_string();
        assert!(err.contains("empty"), "{source}: {err}");
    }
    let missing = dir.join("no-such.pth");
    let err = weights::read_checkpoint(&missing).unwrap_err().to_string();
    assert!(err.contains("no-such.pth"), "{err}");
}

#[test]
fn weights_of_another_architecture_are_refused_with_a_listing() {
    let Some(lite) = pretrained("efficientnet-lite0-57934424.pth") else {
        return;
    };
    let device = Device::flex();
    let backbone =
        absnet_model::Backbone::new(&BackboneConfig::new(Arch::MobilenetV2), &device).unwrap();
    let err = absnet_model::absnet::read_backbone_weights(&backbone, &lite).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ModelError::Mismatch { .. }), "{text}");
    assert!(text.contains("efficientnet-lite0-57934424.pth"), "{text}");
    assert!(
        text.contains("missing:     features.0.0.weight: expected [32, 3, 3, 3]"),
        "{text}"
    );
    assert!(text.contains("unexpected:  _blocks.0."), "{text}");
    assert!(
        text.contains("(0 wrong shape, 260 missing, 247 unexpected)"),
        "{text}"
    );
}

#[test]
fn a_mis_shaped_tensor_is_reported_with_both_shapes() {
    let device = Device::flex();
    let config = BackboneConfig::new(Arch::MobilenetV2);
    let backbone = absnet_model::Backbone::new(&config, &device).unwrap();
    let expected = weights::parameter_shapes(&backbone);
    let mut upstream: weights::TensorMap = backbone
        .name_table("")
        .entries()
        .iter()
        .filter_map(|(torch, ours)| Some((torch.clone(), generated(torch, expected.get(ours)?))))
        .collect();
    upstream.insert("features.18.0.weight".into(), generated("x", &[1280, 320]));
    let err = backbone
        .name_table("")
        .apply(upstream, &expected, Path::new("user.pth"), "mobilenet_v2")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "wrong shape: features.18.0.weight: expected [1280, 320, 1, 1], found [1280, 320]"
        ),
        "{err}"
    );
    assert!(
        err.contains("(1 wrong shape, 0 missing, 0 unexpected)"),
        "{err}"
    );
}

fn small_model(device: &Device) -> AbsNet {
    let mut config = AbsNetConfig::reference(BackboneConfig::new(Arch::MobilenetV2));
    config.neck.channels = 16;
    AbsNet::new(&config, device).unwrap()
}

#[test]
fn model_files_round_trip_with_their_card() {
    let device = Device::flex();
    let dir = temp_dir("roundtrip");
    let model = small_model(&device);
    let mut card = ModelCard::new("test", model.config.clone(), "generated");
    card.heads.get_mut(&Head::Saliency).unwrap().trained = true;
    let path = dir.join("m.safetensors");
    card::save_model(&model, &card, &path, StoredPrecision::F32).unwrap();
    let (loaded, loaded_card) = card::load_model(&path, &device).unwrap();
    assert_eq!(loaded_card, card);
    assert!(loaded_card.is_trained(Head::Saliency) && !loaded_card.is_trained(Head::Aesthetics));
    assert_eq!(
        weights::module_tensors(&loaded),
        weights::module_tensors(&model)
    );
    assert!(card::card_path(&path).exists());

    let half = dir.join("h.safetensors");
    card::save_model(&model, &card, &half, StoredPrecision::F16).unwrap();
    let (loaded, _) = card::load_model(&half, &device).unwrap();
    let original = weights::module_tensors(&model);
    for (name, tensor) in weights::module_tensors(&loaded) {
        let diff = max_abs_diff(&tensor.data, &original[&name].data);
        assert!(diff < 2e-3, "{name}: {diff}");
    }
}

#[test]
fn a_plain_safetensors_file_is_not_a_model() {
    let device = Device::flex();
    let err = card::load_model(&fixture("imagenet.safetensors"), &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("imagenet.safetensors") && err.contains("model card"),
        "{err}"
    );
}

#[test]
fn configs_are_checked_before_building() {
    let bad = r#"
        [backbone]
        arch = "mobilenet_v2"
        output_stride = 12
        [heads.saliency]
    "#;
    let err = AbsNetConfig::from_toml(bad).unwrap_err().to_string();
    assert!(err.contains("output_stride = 12"), "{err}");
    let no_heads = "[backbone]\narch = \"vgg16\"\n[heads]\n";
    let err = AbsNetConfig::from_toml(no_heads).unwrap_err().to_string();
    assert!(err.contains("at least one"), "{err}");
    let unknown = "[backbone]\narch = \"resnet18\"\n[heads.saliency]\n";
    let err = AbsNetConfig::from_toml(unknown).unwrap_err().to_string();
    assert!(err.contains("resnet18"), "{err}");
}

#[test]
fn a_model_file_with_a_non_finite_weight_is_refused() {
    let device = Device::flex();
    let dir = temp_dir("nan");
    let model = small_model(&device);
    let mut tensors = weights::module_tensors(&model);
    let (name, tensor) = tensors
        .iter_mut()
        .find(|(n, _)| n.starts_with("saliency."))
        .unwrap();
    let name = name.clone();
    tensor.data[3] = f32::NAN;
    let mut card = ModelCard::new("nan", model.config.clone(), "generated");
    card.heads.get_mut(&Head::Saliency).unwrap().trained = true;
    let metadata = std::collections::HashMap::from([(
        "absnet_card".to_string(),
        serde_json::to_string(&card).unwrap(),
    )]);
    let path = dir.join("nan.safetensors");
    weights::write_safetensors(&path, &tensors, StoredPrecision::F32, Some(metadata)).unwrap();
    let err = card::load_model(&path, &device).unwrap_err().to_string();
    assert!(
        err.contains("nan.safetensors")
            && err.contains(&name)
            && err.contains("NaN")
            && err.contains("finite"),
        "{err}"
    );
}
