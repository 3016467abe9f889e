//! The GPU backend (burn's wgpu: Vulkan, Metal or DirectX 12) computes what Flex computes: the
//! full ABSNet forward (MobileNetV2 at output stride 8, the neck, both heads) and one saliency
//! training step's gradients of the shared encoder and the saliency head. CI runs it on Mesa's
//! lavapipe, a Vulkan driver that runs on the CPU, so the GPU code path is exercised on every
//! change without a GPU: `cargo test --release -p absnet-mtl --features gpu --test gpu`.
//!
//! One test at a time (`ONE_AT_A_TIME`): two threads running graphs on one wgpu device at once
//! get wrong gradients (‖Δ‖/‖g‖ ≈ 1 instead of 1e-3), so absnet drives a GPU from one thread.
//! Not covered because it does not hold yet: gradients through the aesthetics head (SPP, L2
//! normalisation, FC, softmax, EMD) differ from Flex's on wgpu by ‖Δ‖/‖g‖ ≈ 7e-2, although each
//! of those operations' backward matches alone; `absnet train --device gpu` refuses an
//! aesthetics task until it does.
#![cfg(feature = "gpu")]

use std::sync::Mutex;

use absnet_model::{AbsNet, AbsNetConfig, Arch, BackboneConfig, Head};
use absnet_mtl::gradients::{GroupGradient, step_gradients};
use absnet_mtl::losses;
use absnet_testkit::max_abs_diff;
use burn::module::Module;
use burn::tensor::{Device, DeviceKind, Distribution, Tensor};

/// Held by each test while it uses the GPU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn gpu() -> Device {
    Device::wgpu(DeviceKind::DefaultDevice)
}

/// The reference architecture with seeded random weights, on `device` (Flex, with or without
/// autodiff).
fn model_on(device: &Device) -> AbsNet {
    device.seed(2020);
    let config = AbsNetConfig::reference(BackboneConfig::new(Arch::MobilenetV2));
    let model = AbsNet::new(&config, device).unwrap();
    // burn draws a parameter's initial values when it is first used: one forward pass here, or
    // moving the model would draw them on the other device, from its own generator.
    let _ = model.forward(Tensor::zeros([1, 3, 64, 64], device));
    model
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// `‖a − b‖ / ‖b‖`.
fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        diff += f64::from(x - y).powi(2);
        norm += f64::from(y).powi(2);
    }
    (diff / norm).sqrt()
}

#[test]
fn absnet_forward_on_the_gpu_matches_flex() {
    let _gpu = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let flex = Device::flex();
    let model = model_on(&flex);
    let x = Tensor::<4>::random([2, 3, 160, 224], Distribution::Normal(0.0, 1.0), &flex);
    let want = model.forward(x.clone());
    let gpu = gpu();
    let got = model.to_device(&gpu).forward(x.to_device(&gpu));
    let (saliency, want_saliency) = (
        values(got.saliency.unwrap()),
        values(want.saliency.unwrap()),
    );
    let diff = max_abs_diff(&saliency, &want_saliency);
    eprintln!(
        "saliency: max |Δ| = {diff:.2e} over {} values",
        saliency.len()
    );
    assert!(diff <= 1e-4, "saliency: max |Δ| = {diff}");
    let aesthetics = values(got.aesthetics.unwrap());
    let diff = max_abs_diff(&aesthetics, &values(want.aesthetics.unwrap()));
    eprintln!("aesthetics: max |Δ| = {diff:.2e}");
    assert!(diff <= 1e-4, "aesthetics: max |Δ| = {diff}");
}

/// One backward pass of the saliency losses (KLD + CC + 0.1·NSS) on `device`: the shared
/// encoder's and the saliency head's flattened gradients. Tolerance 5e-3 relative: KLD + CC
/// alone agree to 1e-5; NSS divides by the map's standard deviation, which carries the GPU's
/// other order of summation into the gradient (1.1e-3 – 1.5e-3).
fn gradients(model: AbsNet, device: &Device) -> Vec<(String, Vec<f32>)> {
    let flex = Device::flex();
    flex.seed(7);
    let x = Tensor::<4>::random([2, 3, 96, 128], Distribution::Normal(0.0, 1.0), &flex);
    let density = Tensor::<4>::random([2, 1, 96, 128], Distribution::Uniform(0.0, 1.0), &flex);
    let fixations = Tensor::<4>::random([2, 1, 96, 128], Distribution::Bernoulli(0.01), &flex);
    // A model moved after its parameters were drawn keeps them tracked by autodiff.
    let model = model.fork(device);
    let saliency = model.forward(x.to_device(device)).saliency.unwrap();
    let density = density.to_device(device);
    let loss = losses::kld(saliency.clone(), density.clone())
        + losses::cc(saliency.clone(), density)
        + losses::nss(saliency, fixations.to_device(device)) * 0.1;
    let mut grads = loss.backward();
    let step = step_gradients(&mut grads, &model);
    let flat = |g: &GroupGradient| values(g.values.clone());
    vec![
        ("shared".to_string(), flat(step.shared.as_ref().unwrap())),
        ("saliency".to_string(), flat(&step.heads[&Head::Saliency])),
    ]
}

#[test]
fn one_saliency_training_steps_gradients_on_the_gpu_match_flex() {
    let _gpu = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let flex = Device::flex().autodiff();
    let want = gradients(model_on(&flex), &flex);
    let got = gradients(model_on(&flex), &gpu().autodiff());
    let mut errors = Vec::new();
    for ((group, got), (_, want)) in got.iter().zip(&want) {
        let error = relative_error(got, want);
        eprintln!(
            "{group}: {} gradients, ‖Δ‖/‖g‖ = {error:.2e}, max |Δ| = {:.2e}",
            got.len(),
            max_abs_diff(got, want)
        );
        errors.push((group.clone(), error));
    }
    assert!(
        errors.iter().all(|(_, e)| *e <= 5e-3),
        "‖Δ‖/‖g‖ per group: {errors:?}"
    );
}
