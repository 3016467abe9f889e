//! The balancing methods follow their papers' update rules: PCGrad removes the conflicting
//! component (hand-made vectors and a tiny model), uncertainty and DWA weights follow their
//! formulas on scripted losses, GradNorm and FAMO take the steps their rules prescribe.

use absnet_mtl::balancing::{Balancing, BalancingConfig, Dwa, PcGrad, TaskStep, project_conflicts};
use absnet_mtl::gradients::GroupGradientBuilder;
use absnet_mtl::groups::GroupConfig;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

fn vector(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

fn values(t: &Tensor<1>) -> Vec<f32> {
    t.clone()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn close(got: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tolerance, "{got:?} vs {want:?}");
    }
}

#[test]
fn pcgrad_projects_out_the_conflicting_component() {
    let device = Device::flex();
    // g1 · g2 = −1 < 0: g1' = g1 − (−1 / 2) g2 = (½, ½); g2' = g2 − (−1 / 1) g1 = (0, 1).
    let (g1, g2) = (vector(&[1.0, 0.0], &device), vector(&[-1.0, 1.0], &device));
    let projected = project_conflicts(&[g1.clone(), g2.clone()], &[vec![1], vec![0]]);
    close(&values(&projected[0]), &[0.5, 0.5], 1e-7);
    close(&values(&projected[1]), &[0.0, 1.0], 1e-7);
    assert!(
        dot(&values(&projected[0]), &values(&g2)).abs() < 1e-7,
        "no component along g2 is left"
    );
    // Agreeing gradients are left alone.
    let g3 = vector(&[1.0, 1.0], &device);
    let kept = project_conflicts(&[g1.clone(), g3.clone()], &[vec![1], vec![0]]);
    close(&values(&kept[0]), &[1.0, 0.0], 0.0);
    close(&values(&kept[1]), &[1.0, 1.0], 0.0);
}

/// A shared layer and two task layers; the task losses are linear in the shared weights, so
/// their gradients there are known exactly.
#[derive(Module, Debug)]
struct Tiny {
    shared: Param<Tensor<2>>,
    first: Param<Tensor<1>>,
    second: Param<Tensor<1>>,
}

#[test]
fn pcgrad_on_a_tiny_model_leaves_no_conflict_with_either_task() {
    let device = Device::flex().autodiff();
    let param = |v: &[f32], shape: [usize; 2]| {
        Param::from_tensor(
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), &device).require_grad(),
        )
    };
    let model = Tiny {
        shared: param(&[0.5, -0.2, 0.1, 0.3, 0.0, 0.7], [2, 3]),
        first: Param::from_tensor(vector(&[1.0, 2.0], &device).require_grad()),
        second: Param::from_tensor(vector(&[0.5, -1.0], &device).require_grad()),
    };
    let a = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 0.0, -1.0, 0.5, 1.0], [2, 3]),
        &device,
    );
    let b = Tensor::<2>::from_data(
        TensorData::new(vec![-3.0f32, -3.0, 1.5, 3.0, 0.0, -6.0], [2, 3]),
        &device,
    );
    // Lᵢ = Σ W ∘ Aᵢ + (task weights)²: ∂L₁/∂W = A, ∂L₂/∂W = B, and A · B = −18 < 0, and B
    // is large enough that the plain sum A + B works against task 1.
    let losses = [
        (model.shared.val() * a).sum() + model.first.val().powi_scalar(2).sum(),
        (model.shared.val() * b).sum() + model.second.val().powi_scalar(2).sum(),
    ];
    let gradients: Vec<Tensor<1>> = losses
        .into_iter()
        .map(|loss| {
            let mut grads = loss.backward();
            GroupGradientBuilder::default()
                .add(&mut grads, &model.shared)
                .build()
                .unwrap()
                .values
        })
        .collect();
    let (g1, g2) = (values(&gradients[0]), values(&gradients[1]));
    close(&g1, &[1.0, 2.0, 0.0, -1.0, 0.5, 1.0], 0.0);
    assert!(dot(&g1, &g2) < 0.0);
    let combined = PcGrad::new(7).combine(&TaskStep {
        tasks: &[0, 1],
        losses: &[1.0, 1.0],
        shared: &gradients,
        lr: 0.0,
    });
    let update = values(&combined.shared);
    let plain: Vec<f32> = g1.iter().zip(&g2).map(|(x, y)| x + y).collect();
    assert!(
        dot(&plain, &g1) < 0.0,
        "the plain sum conflicts with task 1"
    );
    assert!(
        dot(&update, &g1) >= -1e-5 && dot(&update, &g2) >= -1e-5,
        "PCGrad's update conflicts with neither: {update:?}"
    );
    assert_eq!(combined.weights, [1.0, 1.0]);
}

fn step<'a>(
    tasks: &'a [usize],
    losses: &'a [f64],
    shared: &'a [Tensor<1>],
    lr: f64,
) -> TaskStep<'a> {
    TaskStep {
        tasks,
        losses,
        shared,
        lr,
    }
}

#[test]
fn uncertainty_weights_settle_at_one_over_twice_the_loss() {
    let device = Device::flex();
    let group = GroupConfig::adam(0.05);
    let mut method =
        BalancingConfig::Uncertainty {}.build(&[1.0, 1.0], &group, &device.clone().autodiff(), 0);
    let shared = [vector(&[1.0], &device), vector(&[1.0], &device)];
    let losses = [4.0, 0.25];
    // sₜ = 0: weights e⁰ / 2; ∂/∂sₜ = ½ − Lₜ/2 is −1.5 and +0.375, so Adam's first step moves
    // s by +lr and −lr.
    let first = method.combine(&step(&[0, 1], &losses, &shared, 0.05));
    assert_eq!(first.weights, [0.5, 0.5]);
    let after_one: Vec<f64> = method.task_weights();
    close(
        &[after_one[0] as f32, after_one[1] as f32],
        &[(-0.05f32).exp() / 2.0, 0.05f32.exp() / 2.0],
        1e-6,
    );
    for _ in 0..600 {
        method.combine(&step(&[0, 1], &losses, &shared, 0.05));
    }
    let settled = method.task_weights();
    close(
        &[settled[0] as f32, settled[1] as f32],
        &[1.0 / 8.0, 2.0],
        0.02,
    );
}

#[test]
fn dwa_weights_follow_the_loss_ratio_of_the_last_two_epochs() {
    let device = Device::flex();
    let mut method = Dwa::new(2, 2.0);
    let shared = [vector(&[1.0, 0.0], &device), vector(&[0.0, 1.0], &device)];
    assert_eq!(
        method
            .combine(&step(&[0, 1], &[1.0, 1.0], &shared, 0.0))
            .weights,
        [1.0, 1.0]
    );
    method.end_epoch(&[Some(1.0), Some(2.0)]);
    assert_eq!(
        method.task_weights(),
        [1.0, 1.0],
        "λ = 1 for the first two epochs"
    );
    method.end_epoch(&[Some(0.5), Some(1.8)]);
    // wₜ = (0.5 / 1.0, 1.8 / 2.0) = (0.5, 0.9); λ = 2 softmax(w / 2).
    let (e1, e2) = ((0.5f64 / 2.0).exp(), (0.9f64 / 2.0).exp());
    let want = [2.0 * e1 / (e1 + e2), 2.0 * e2 / (e1 + e2)];
    let got = method.task_weights();
    assert!(
        (got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12,
        "{got:?} vs {want:?}"
    );
    // The slower-improving task gets more weight, and the step uses these weights.
    let combined = method.combine(&step(&[0, 1], &[1.0, 1.0], &shared, 0.0));
    close(
        &values(&combined.shared),
        &[want[0] as f32, want[1] as f32],
        1e-6,
    );
    // The history survives a checkpoint.
    let mut restored = Dwa::new(2, 2.0);
    assert!(restored.restore(&method.state()));
    assert!(
        !Dwa::new(2, 2.0).restore(&absnet_mtl::balancing::BalancerState::Pcgrad { steps: 3 }),
        "another method's state is refused"
    );
    assert_eq!(restored.task_weights(), got);
}

#[test]
fn gradnorm_moves_weights_towards_equal_gradient_norms() {
    let device = Device::flex();
    let mut method = BalancingConfig::GradNorm { alpha: 1.5 }.build(
        &[1.0, 1.0],
        &GroupConfig::adam(0.1),
        &device.clone().autodiff(),
        0,
    );
    // ‖g₁‖ = 3, ‖g₂‖ = 1, first losses: rₜ = 1, target Ḡ = 2 for both; ∂L_grad/∂w = (+3, −1):
    // Adam's first step gives (0.9, 1.1), which already sums to 2.
    let shared = [vector(&[3.0, 0.0], &device), vector(&[0.0, 1.0], &device)];
    let combined = method.combine(&step(&[0, 1], &[2.0, 0.5], &shared, 0.1));
    assert_eq!(
        combined.weights,
        [1.0, 1.0],
        "this step uses the weights before the update"
    );
    let w = method.task_weights();
    assert!(
        (w[0] - 0.9).abs() < 1e-6 && (w[1] - 1.1).abs() < 1e-6,
        "{w:?}"
    );
    close(&values(&combined.shared), &[3.0, 1.0], 1e-6);
}

#[test]
fn famo_weights_the_losses_by_softmax_over_loss_and_shifts_to_the_task_that_improved_least() {
    let device = Device::flex();
    let mut method = BalancingConfig::Famo {}.build(
        &[1.0, 1.0],
        &GroupConfig::adam(0.025),
        &device.clone().autodiff(),
        0,
    );
    let shared = [vector(&[1.0, 0.0], &device), vector(&[0.0, 1.0], &device)];
    // z = (½, ½), L = (2, 0.5): λₜ = zₜ / (c Lₜ), c = Σ z / L = 1.25 → (0.2, 0.8).
    let combined = method.combine(&step(&[0, 1], &[2.0, 0.5], &shared, 0.025));
    close(
        &[combined.weights[0] as f32, combined.weights[1] as f32],
        &[0.2, 0.8],
        1e-6,
    );
    assert!(method.needs_losses_after_step());
    // Task 0 halved its loss, task 1 did not move: δ = (ln 2, 0); ∂(z · δ)/∂ξ₀ > 0, so ξ₀
    // steps down by lr and ξ₁ up (Adam's first step), and task 1 gains weight.
    method.after_step(&[0, 1], &[1.0, 0.5], 0.025);
    let z = method.task_weights();
    let want = 1.0 / (1.0 + (0.05f64).exp());
    assert!((z[0] - want).abs() < 1e-6 && z[1] > z[0], "{z:?}");
}
