//! absnet against PyTorch: ImageNet logits with the registry weights on real photos, the full
//! ABSNet forward at two input sizes, and torchvision's ResNet-50 / VGG16 with generated weights.
//! Reference values come from scripts/reference/make_fixtures.py (committed fixtures).

mod common;

use std::collections::BTreeMap;

use absnet_data::pipeline;
use absnet_model::backbone::Backbone;
use absnet_model::weights::{self, TensorMap};
use absnet_model::{AbsNet, AbsNetConfig, Arch, BackboneConfig, Engine, Tap};
use burn::tensor::{Device, Tensor};
use common::*;

fn photo(name: &str, arch: Arch, device: &Device) -> Tensor<4> {
    let image = pipeline::decode_file(&fixture(&format!("photos/{name}")), u64::MAX).unwrap();
    let (w, h) = image.dimensions();
    arch.normalization()
        .batch(&[image.as_raw()], h as usize, w as usize, device)
}

fn pretrained_backbone(arch: Arch, output_stride: usize, device: &Device) -> Option<Backbone> {
    let path = pretrained(&format!("{}.safetensors", arch.name()))?;
    let config = BackboneConfig {
        classifier: true,
        output_stride,
        ..BackboneConfig::new(arch)
    };
    let backbone = Backbone::new(&config, device).unwrap();
    let tensors = absnet_model::absnet::read_backbone_weights(&backbone, &path).unwrap();
    Some(weights::load_tensors(backbone, tensors, &path, arch.name()).unwrap())
}

#[test]
fn imagenet_logits_match_pytorch_on_real_photos() {
    let device = Device::flex();
    let reference = read_fixture("imagenet.safetensors");
    for arch in [Arch::MobilenetV2, Arch::EfficientnetLite0] {
        let Some(backbone) = pretrained_backbone(arch, 32, &device) else {
            return;
        };
        let folded = pretrained_backbone(arch, 32, &device).unwrap().fold_norms();
        for name in ["astronaut", "chelsea", "coffee"] {
            let want = &reference[&format!("{}/{name}", arch.name())].data;
            let x = photo(&format!("{name}_224.png"), arch, &device);
            for (label, model) in [("unfolded", &backbone), ("folded", &folded)] {
                let got = to_vec(model.classify(x.clone()).unwrap());
                let diff = max_abs_diff(&got, want);
                eprintln!("{arch} {label} {name}: max |Δlogit| = {diff:.2e}");
                assert!(diff <= 1e-3, "{arch} {label} {name}: max |Δlogit| = {diff}");
                assert_eq!(
                    top_k(&got, 5),
                    top_k(want, 5),
                    "{arch} {label} {name}: top-5"
                );
            }
        }
    }
}

#[test]
fn absnet_forward_matches_pytorch_at_two_sizes() {
    let device = Device::flex();
    let Some(backbone_path) = pretrained("mobilenet_v2.safetensors") else {
        return;
    };
    let config = AbsNetConfig::reference(BackboneConfig::new(Arch::MobilenetV2));
    let model = AbsNet::new(&config, &device).unwrap();
    let backbone =
        absnet_model::absnet::read_backbone_weights(&model.backbone, &backbone_path).unwrap();
    let tensors: TensorMap = weights::parameter_shapes(&model)
        .into_iter()
        .map(|(path, shape)| {
            let tensor = match path.strip_prefix("backbone.") {
                Some(inner) => backbone[inner].clone(),
                None => generated(&path, &shape),
            };
            (path, tensor)
        })
        .collect();
    let model = weights::load_tensors(model, tensors, &backbone_path, "absnet").unwrap();
    // Folded, the encoder, the neck and the 7×7 head run on the channels-last engine.
    let folded = model.clone().fold_norms();
    let reference = read_fixture("absnet.safetensors");
    let sizes = [(224, 224), (180, 244)];
    for ((h, w), (label, model)) in sizes
        .into_iter()
        .flat_map(|size| [(size, ("flex", &model)), (size, ("channels-last", &folded))])
    {
        eprint!("{label}: ");
        let x = photo(&format!("coffee_{h}x{w}.png"), Arch::MobilenetV2, &device);
        let out = model.forward(x);
        let saliency = out.saliency.unwrap();
        assert_eq!(saliency.dims(), [1, 1, h, w]);
        let want = &reference[&format!("saliency_{h}x{w}")].data;
        let diff = max_abs_diff(&to_vec(saliency), want);
        eprintln!("absnet saliency {h}×{w}: max |Δ| = {diff:.2e}");
        assert!(diff <= 1e-4, "saliency {h}×{w}: max |Δ| = {diff}");
        let want = &reference[&format!("aesthetics_{h}x{w}")].data;
        let got = to_vec(out.aesthetics.unwrap());
        let diff = max_abs_diff(&got, want);
        eprintln!("absnet aesthetics {h}×{w}: max |Δ| = {diff:.2e}");
        assert!(diff <= 1e-4, "aesthetics {h}×{w}: max |Δ| = {diff}");
        assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn torchvision_resnet50_and_vgg16_load_and_match() {
    let device = Device::flex();
    let names: BTreeMap<String, Vec<(String, Vec<usize>)>> =
        serde_json::from_str(&std::fs::read_to_string(fixture("torchvision_names.json")).unwrap())
            .unwrap();
    let reference = read_fixture("torchvision.safetensors");
    for (label, arch, output_stride) in [
        ("resnet50", Arch::Resnet50, 32),
        ("resnet50_os8", Arch::Resnet50, 8),
        ("vgg16", Arch::Vgg16, 32),
    ] {
        let upstream: TensorMap = names[arch.name()]
            .iter()
            .map(|(name, shape)| (name.clone(), generated(name, shape)))
            .collect();
        let config = BackboneConfig {
            classifier: true,
            output_stride,
            ..BackboneConfig::new(arch)
        };
        let backbone = Backbone::new(&config, &device).unwrap();
        let expected = weights::parameter_shapes(&backbone);
        let path = fixture("torchvision_names.json");
        let tensors = backbone
            .name_table("")
            .apply(upstream, &expected, &path, arch.name())
            .unwrap();
        let backbone = weights::load_tensors(backbone, tensors, &path, arch.name()).unwrap();
        let x = photo("astronaut_96x128.png", arch, &device);
        let got = to_vec(backbone.classify(x).unwrap());
        let want = &reference[label].data;
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = max_abs_diff(&got, want);
        eprintln!("{label}: max |Δlogit| = {diff:.2e}, largest |logit| {scale:.2}");
        assert!(
            diff <= 1e-4 * scale.max(1.0),
            "{label}: max |Δlogit| = {diff} (largest logit {scale})"
        );
        assert_eq!(top_k(&got, 5), top_k(want, 5), "{label}: top-5");
    }
}

/// Lite1 and Lite2 have no PyTorch fixtures (their packages ship only weights); every tensor
/// name and shape is checked on import, and here the imported networks must name what is in
/// the photos: a cat (ImageNet 281–285) and a coffee (967 espresso, 968 cup, 504 coffee mug).
#[test]
fn efficientnet_lite1_and_lite2_recognise_real_photos() {
    let device = Device::flex();
    for arch in [Arch::EfficientnetLite1, Arch::EfficientnetLite2] {
        let Some(backbone) = pretrained_backbone(arch, 32, &device) else {
            return;
        };
        for (name, classes) in [
            ("chelsea", &[281, 282, 283, 284, 285][..]),
            ("coffee", &[967, 968, 504][..]),
        ] {
            let x = photo(&format!("{name}_224.png"), arch, &device);
            let logits = to_vec(backbone.classify(x).unwrap());
            let top = top_k(&logits, 1)[0];
            eprintln!("{arch} {name}: top-1 class {top}");
            assert!(
                classes.contains(&top),
                "{arch} {name}: top-1 class {top}, expected one of {classes:?}"
            );
        }
    }
}

/// The channels-last engine (the default for a folded model on Flex) against Flex's own
/// convolutions on the same folded weights: every tap of both mobile families, at plain and
/// dilated strides, from the image and from `c3`'s features, on two real photos.
#[test]
fn channels_last_encoder_matches_flex_on_real_photos() {
    let device = Device::flex();
    for (arch, output_stride) in [
        (Arch::MobilenetV2, 32),
        (Arch::MobilenetV2, 8),
        (Arch::EfficientnetLite2, 32),
    ] {
        let Some(backbone) = pretrained_backbone(arch, output_stride, &device) else {
            return;
        };
        let channels_last = backbone.fold_norms();
        let flex = channels_last.clone().with_engine(Engine::Flex);
        let x = Tensor::cat(
            vec![
                photo("coffee_180x244.png", arch, &device),
                photo("coffee_180x244.png", arch, &device).flip([3]),
            ],
            0,
        );
        let ours = channels_last.forward_taps(x.clone(), &Tap::ALL);
        let theirs = flex.forward_taps(x, &Tap::ALL);
        let c3 = theirs[1].clone();
        let deeper = [Tap::C4, Tap::C5];
        let ours_after = channels_last.forward_taps_after(c3.clone(), Some(Tap::C3), &deeper);
        let theirs_after = flex.forward_taps_after(c3, Some(Tap::C3), &deeper);
        let pairs = ours
            .into_iter()
            .zip(theirs)
            .chain(ours_after.into_iter().zip(theirs_after));
        for (i, (a, b)) in pairs.enumerate() {
            assert_eq!(a.dims(), b.dims());
            let (a, b) = (to_vec(a), to_vec(b));
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let diff = max_abs_diff(&a, &b);
            eprintln!(
                "{arch} os{output_stride} output {i}: max |Δ| = {diff:.2e} (largest {scale:.1})"
            );
            assert!(
                diff <= 1e-5 * scale.max(1.0),
                "{arch} os{output_stride} output {i}: max |Δ| = {diff}"
            );
        }
    }
}
