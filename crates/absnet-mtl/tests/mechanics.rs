//! The training mechanics are real: losses agree with the metrics' definitions, and one step
//! moves each parameter group by what its own Adam prescribes, frozen groups not at all.

use absnet_model::weights::module_tensors;
use absnet_model::{AbsNet, AbsNetConfig, Arch, BackboneConfig, Head, PerHead};
use absnet_mtl::gradients::step_gradients;
use absnet_mtl::groups::{GroupConfig, GroupOptimizers, Groups};
use absnet_mtl::losses;

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use ndarray::Array2;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn map(values: &[f32], h: usize, w: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values.to_vec(), [1, 1, h, w]), device)
}

fn as_array(values: &[f32], h: usize, w: usize) -> Array2<f64> {
    Array2::from_shape_vec((h, w), values.iter().map(|&v| f64::from(v)).collect()).unwrap()
}

#[test]
fn losses_follow_the_metric_definitions() {
    use absnet_metrics::saliency::{self, KldVariant, NssOptions};
    let device = Device::flex();
    let (h, w) = (12, 16);
    let prediction: Vec<f32> = absnet_testkit::uniform("prediction", h * w)
        .iter()
        .map(|&u| 0.05 + u as f32)
        .collect();
    let density: Vec<f32> = absnet_testkit::uniform("density", h * w)
        .iter()
        .map(|&u| (u * u) as f32)
        .collect();
    let fixated = [(2, 3), (7, 11), (10, 1)];
    let mut mask = vec![0f32; h * w];
    for &(y, x) in &fixated {
        mask[y * w + x] = 1.0;
    }
    let (p, g, f) = (
        map(&prediction, h, w, &device),
        map(&density, h, w, &device),
        map(&mask, h, w, &device),
    );
    let (pa, ga) = (as_array(&prediction, h, w), as_array(&density, h, w));
    let fixations: Vec<absnet_metrics::Fixation> = fixated
        .iter()
        .map(|&(y, x)| absnet_metrics::Fixation::new(x as f64 + 0.5, y as f64 + 0.5))
        .collect();
    let close = |name: &str, got: f32, want: f64| {
        assert!(
            (f64::from(got) - want).abs() < 1e-4,
            "{name}: loss {got} vs metric {want}"
        );
    };
    close(
        "KLD",
        values(losses::kld(p.clone(), g.clone()))[0],
        saliency::kld(pa.view(), ga.view(), KldVariant::Mit).unwrap(),
    );
    close(
        "1 − CC",
        values(losses::cc(p.clone(), g.clone()))[0],
        1.0 - saliency::cc(pa.view(), ga.view()).unwrap(),
    );
    close(
        "−NSS",
        values(losses::nss(p.clone(), f))[0],
        -saliency::nss(pa.view(), &fixations, NssOptions::PYSALIENCY).unwrap(),
    );
    let (sp, sg): (f64, f64) = (pa.sum(), ga.sum());
    let tv = 0.5
        * pa.iter()
            .zip(ga.iter())
            .map(|(a, b)| (a / sp - b / sg).abs())
            .sum::<f64>();
    close("TV", values(losses::tv(p, g))[0], tv);
    // EMD r = 2 against vote counts.
    let predicted = [0.05f32, 0.05, 0.1, 0.1, 0.2, 0.2, 0.1, 0.1, 0.05, 0.05];
    let votes = [2f32, 8., 19., 36., 76., 52., 16., 9., 3., 2.];
    let to64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let want = absnet_metrics::rating::emd(&to64(&predicted), &to64(&votes), 2).unwrap();
    let row = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 10]), &device);
    close(
        "EMD",
        values(losses::emd2(row(&predicted), row(&votes)))[0],
        want,
    );
    // 1 − PLCC of a batch's mean scores.
    let means = [0.31f32, 0.72, 0.55, 0.18, 0.64, 0.47];
    let mos = [0.25f32, 0.81, 0.42, 0.30, 0.52, 0.60];
    let batch = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
    close(
        "1 − PLCC",
        values(losses::plcc(batch(&means), batch(&mos)))[0],
        1.0 - absnet_metrics::rating::plcc(&to64(&means), &to64(&mos)).unwrap(),
    );
    // The fidelity loss over the ordered pairs, Thurstone's model on both sides.
    let predicted_sd = [0.12f32, 0.20, 0.15, 0.10, 0.18, 0.14];
    let sd = [0.16f32, 0.17, 0.21, 0.15, 0.19, 0.18];
    let phi = |x: f64| 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
    let prefer = |m: &[f32], s: &[f32], i: usize, j: usize| {
        let (mi, mj, si, sj) = (m[i] as f64, m[j] as f64, s[i] as f64, s[j] as f64);
        phi((mi - mj) / (si * si + sj * sj).sqrt())
    };
    let mut sum = 0.0;
    for i in 0..means.len() {
        for j in (0..means.len()).filter(|&j| j != i) {
            let (p, q) = (prefer(&means, &predicted_sd, i, j), prefer(&mos, &sd, i, j));
            sum += 1.0 - (p * q).sqrt() - ((1.0 - p) * (1.0 - q)).sqrt();
        }
    }
    let fidelity = values(losses::fidelity(
        batch(&means),
        batch(&predicted_sd),
        batch(&mos),
        batch(&sd),
    ))[0];
    close("fidelity", fidelity, sum / 30.0);
    // Agreeing preferences cost nothing.
    let same = values(losses::fidelity(
        batch(&mos),
        batch(&sd),
        batch(&mos),
        batch(&sd),
    ))[0];
    assert!(same.abs() < 1e-3, "{same}");
}

fn small_model(device: &Device) -> AbsNet {
    let mut config = AbsNetConfig::reference(BackboneConfig::new(Arch::MobilenetV2));
    config.neck.channels = 16;
    AbsNet::new(&config, device).unwrap()
}

/// Largest |Δ| of each group's parameters after one step, and whether any frozen statistic moved.
fn one_step(shared: GroupConfig) -> ([f32; 3], bool) {
    let device = Device::flex().autodiff();
    let model = small_model(&device);
    let before = module_tensors(&model);
    let x = Tensor::<4>::random([2, 3, 48, 64], Distribution::Normal(0.0, 1.0), &device);
    let density = Tensor::<4>::random([2, 1, 48, 64], Distribution::Uniform(0.0, 1.0), &device);
    let votes = Tensor::<2>::random([2, 10], Distribution::Uniform(0.0, 1.0), &device);
    let out = model.forward(x);
    let loss =
        losses::tv(out.saliency.unwrap(), density) + losses::emd2(out.aesthetics.unwrap(), votes);
    let mut grads = loss.backward();
    let gradients = step_gradients(&mut grads, &model);
    let groups = Groups {
        shared,
        balancing: GroupConfig::adam(1.0),
        heads: PerHead::from([
            (Head::Saliency, GroupConfig::adam(1e-2)),
            (Head::Aesthetics, GroupConfig::adam(1e-1)),
        ]),
    };
    let mut optimizers = GroupOptimizers::new(&model, &groups);
    let rates = groups.rates(0, 1, 0, &absnet_mtl::groups::LrSchedule::Constant);
    let model = optimizers.step(model, gradients, &rates);
    let after = module_tensors(&model);
    let mut largest = [0f32; 3];
    let mut statistics_moved = false;
    for (name, old) in &before {
        let new = &after[name];
        let delta = old
            .data
            .iter()
            .zip(&new.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        if name.contains("running_") {
            statistics_moved |= delta > 0.0;
            continue;
        }
        let group = if name.starts_with("saliency.") {
            1
        } else if name.starts_with("aesthetics.") {
            2
        } else {
            0
        };
        largest[group] = largest[group].max(delta);
    }
    (largest, statistics_moved)
}

#[test]
fn each_group_moves_by_its_own_adam_step() {
    // Adam's first step is lr · g / (|g| + ε): at most lr, and lr wherever |g| ≫ ε.
    let (largest, statistics_moved) = one_step(GroupConfig::adam(1e-3));
    for (group, lr) in [(0, 1e-3f32), (1, 1e-2), (2, 1e-1)] {
        let d = largest[group];
        assert!(
            (d - lr).abs() <= lr * 1e-3,
            "group {group}: largest change {d}, learning rate {lr}"
        );
    }
    assert!(!statistics_moved, "BatchNorm statistics are frozen");
}

#[test]
fn a_frozen_group_does_not_change() {
    let frozen = GroupConfig {
        frozen_epochs: 1,
        ..GroupConfig::adam(1e-3)
    };
    let (largest, _) = one_step(frozen);
    assert_eq!(largest[0], 0.0, "shared encoder frozen at epoch 0");
    assert!(largest[1] > 0.0 && largest[2] > 0.0, "heads still train");
}
