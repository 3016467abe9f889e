//! absnet's metrics against pysaliency 0.2.22, scipy and NumPy ports of the MIT benchmark code,
//! on the first 20 real OSIE images with all observers' fixations and on real AVA vote counts.
//! Reference values: tests/fixtures/metrics_reference.json from
//! scripts/reference/metrics_reference.py.

use absnet_data::density::{Border, density_map};
use absnet_metrics::rating;
use absnet_metrics::saliency::{
    self, AucJuddOptions, KldVariant, NssOptions, RocThresholds, SimVariant, SplitRoc,
};
use absnet_metrics::{Duplicates, Fixation};
use ndarray::Array2;
use serde_json::Value;

const W: usize = 800;
const H: usize = 600;
const SIGMA: f64 = 24.0;

/// The ground truth the reference scores against: the fixations blurred with σ = 24 px (zero
/// border), as the data crate draws it.
fn ground_truth(fix: &[Fixation]) -> Array2<f64> {
    density_map(W, H, fix.iter().map(|f| (f.x, f.y)), SIGMA, Border::Zero).unwrap()
}

fn reference() -> Value {
    let text = std::fs::read_to_string(absnet_testkit::fixture("metrics_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every observer's fixations that fall inside the image, as the reference script keeps them.
fn fixations(sample: &absnet_data::Sample) -> Vec<Fixation> {
    sample
        .fixations()
        .filter(|f| f.x >= 0.0 && f.y >= 0.0 && f.x < W as f64 && f.y < H as f64)
        .map(|f| Fixation::new(f.x, f.y))
        .collect()
}

fn first_observers(sample: &absnet_data::Sample, count: usize) -> Vec<Fixation> {
    let mut half = sample.clone();
    half.observers.truncate(count);
    fixations(&half)
}

fn centre() -> Array2<f64> {
    let (cx, cy) = ((W as f64 - 1.0) / 2.0, (H as f64 - 1.0) / 2.0);
    let (sx, sy) = (W as f64 / 6.0, H as f64 / 6.0);
    Array2::from_shape_fn((H, W), |(y, x)| {
        let (dx, dy) = (x as f64 - cx, y as f64 - cy);
        (-(dx * dx / (2.0 * sx * sx) + dy * dy / (2.0 * sy * sy))).exp()
    })
}

fn samples(value: &Value) -> Vec<Vec<(usize, usize)>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|split| {
            split
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_u64().unwrap() as usize,
                        p[1].as_u64().unwrap() as usize,
                    )
                })
                .collect()
        })
        .collect()
}

fn check(label: &str, got: f64, want: &Value, tolerance: f64, worst: &mut f64) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{label}: no reference value"));
    let diff = (got - want).abs();
    *worst = worst.max(if tolerance < 1e-3 { diff } else { 0.0 });
    assert!(
        diff <= tolerance,
        "{label}: absnet {got} vs reference {want} (|Δ| = {diff:e})"
    );
}

#[test]
fn saliency_metrics_match_pysaliency_and_mit_on_osie() {
    let Some(root) = absnet_testkit::shared_data("osie") else {
        return;
    };
    let data = absnet_data::osie::load_dataset(&root).unwrap();
    let reference = reference();
    let centre = centre();
    let mut worst = 0.0f64;
    let mut checked = 0;
    for image in reference["images"].as_array().unwrap() {
        let index = image["index"].as_u64().unwrap() as usize;
        let sample = &data[index];
        assert_eq!(
            image["image"].as_str().unwrap(),
            format!("{}.jpg", sample.id)
        );
        let fix = fixations(sample);
        assert_eq!(fix.len() as u64, image["fixations"].as_u64().unwrap());
        let gt = ground_truth(&fix);
        let others: Vec<Fixation> = image["others"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|k| fixations(&data[k.as_u64().unwrap() as usize]))
            .collect();
        let maps = [
            ("centre", centre.clone()),
            ("half", ground_truth(&first_observers(sample, 8))),
            (
                "noise",
                Array2::from_shape_vec(
                    (H, W),
                    absnet_testkit::uniform(&format!("noise/{index}"), H * W),
                )
                .unwrap(),
            ),
            ("constant", Array2::ones((H, W))),
        ];
        let borji = samples(&image["borji_samples"]);
        let shuffled = samples(&image["shuffled_samples"]);
        for (kind, map) in &maps {
            let want = &image["metrics"][kind];
            let m = map.view();
            let label = |metric: &str| format!("image {index} ({}) {kind} {metric}", sample.id);
            let exact = 1e-5;
            check(
                &label("NSS pysaliency"),
                saliency::nss(m, &fix, NssOptions::PYSALIENCY).unwrap(),
                &want["nss_pysaliency"],
                exact,
                &mut worst,
            );
            check(
                &label("NSS MIT"),
                saliency::nss(m, &fix, NssOptions::MIT).unwrap(),
                &want["nss_mit"],
                exact,
                &mut worst,
            );
            check(
                &label("CC"),
                saliency::cc(m, gt.view()).unwrap(),
                &want["cc"],
                exact,
                &mut worst,
            );
            check(
                &label("KLD MIT"),
                saliency::kld(m, gt.view(), KldVariant::Mit).unwrap(),
                &want["kld_mit"],
                exact,
                &mut worst,
            );
            check(
                &label("KLD pysaliency"),
                saliency::kld(m, gt.view(), KldVariant::Pysaliency).unwrap(),
                &want["kld_pysaliency"],
                exact,
                &mut worst,
            );
            check(
                &label("SIM MIT"),
                saliency::sim(m, gt.view(), SimVariant::Mit).unwrap(),
                &want["sim_mit"],
                exact,
                &mut worst,
            );
            check(
                &label("SIM pysaliency"),
                saliency::sim(m, gt.view(), SimVariant::Pysaliency).unwrap(),
                &want["sim_pysaliency"],
                exact,
                &mut worst,
            );
            check(
                &label("IG"),
                saliency::information_gain(m, centre.view(), &fix, Duplicates::Keep).unwrap(),
                &want["ig_keep"],
                exact,
                &mut worst,
            );
            check(
                &label("IG collapsed"),
                saliency::information_gain(m, centre.view(), &fix, Duplicates::Collapse).unwrap(),
                &want["ig_collapse"],
                exact,
                &mut worst,
            );
            let judd = saliency::auc_judd(m, &fix, AucJuddOptions::default()).unwrap();
            check(
                &label("AUC-Judd"),
                judd,
                &want["auc_judd"],
                exact,
                &mut worst,
            );
            let positives: Vec<f64> = fix
                .iter()
                .map(|f| map[(f.y as usize, f.x as usize)])
                .collect();
            let negatives: Vec<f64> = others
                .iter()
                .map(|f| map[(f.y as usize, f.x as usize)])
                .collect();
            let pys = saliency::roc_auc(&positives, &negatives, RocThresholds::All).unwrap();
            check(
                &label("sAUC pysaliency"),
                pys,
                &want["auc_shuffled_pysaliency"],
                exact,
                &mut worst,
            );
            // Same negatives as the reference: equal up to float rounding.
            let given = saliency::split_auc(m, &fix, &borji, 0.1, Duplicates::Collapse).unwrap();
            check(
                &label("AUC-Borji, same negatives"),
                given,
                &want["auc_borji_given"],
                1e-9,
                &mut worst,
            );
            let given = saliency::split_auc(m, &fix, &shuffled, 0.1, Duplicates::Collapse).unwrap();
            check(
                &label("sAUC, same negatives"),
                given,
                &want["auc_shuffled_given"],
                1e-9,
                &mut worst,
            );
            // absnet's own seeded sampler against the reference's: within 0.005.
            let options = SplitRoc {
                splits: 1000,
                seed: index as u64,
                ..SplitRoc::default()
            };
            let seeded = saliency::auc_borji(m, &fix, &options).unwrap();
            check(
                &label("AUC-Borji, seeded"),
                seeded,
                &want["auc_borji_seeded"],
                0.005,
                &mut worst,
            );
            let seeded = saliency::auc_shuffled(m, &fix, &others, &options).unwrap();
            check(
                &label("sAUC, seeded"),
                seeded,
                &want["auc_shuffled_seeded"],
                0.005,
                &mut worst,
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 80);
    eprintln!("{checked} maps × 15 metrics: largest |Δ| against the exact references {worst:e}");
}

#[test]
fn aesthetics_metrics_match_scipy_on_ava_votes() {
    let Some(path) = absnet_testkit::shared_data("ava-labels/data/AVA/ava_labels_test.json") else {
        return;
    };
    let labels: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let want = &reference()["aesthetics"];
    let n = want["images"].as_u64().unwrap() as usize;
    let votes: Vec<Vec<f64>> = labels.as_array().unwrap()[..n]
        .iter()
        .map(|l| {
            l["label"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    // make_fixtures' perturbation: half the votes moved one bin up (cyclically), plus one vote.
    let predicted: Vec<Vec<f64>> = votes
        .iter()
        .map(|c| {
            (0..10)
                .map(|i| c[i] + 0.5 * c[(i + 9) % 10] + 1.0)
                .collect()
        })
        .collect();
    let mean_gt: Vec<f64> = votes
        .iter()
        .map(|v| rating::mean_score(v).unwrap())
        .collect();
    let mean_pred: Vec<f64> = predicted
        .iter()
        .map(|v| rating::mean_score(v).unwrap())
        .collect();
    let mut worst = 0.0;
    for i in 0..5 {
        check(
            "mean score",
            mean_gt[i],
            &want["mean_score_first"][i],
            1e-12,
            &mut worst,
        );
        let std = rating::score_std(&votes[i]).unwrap();
        check(
            "score std",
            std,
            &want["std_score_first"][i],
            1e-12,
            &mut worst,
        );
    }
    let emd = |r| {
        predicted
            .iter()
            .zip(&votes)
            .map(|(p, t)| rating::emd(p, t, r).unwrap())
            .sum::<f64>()
            / n as f64
    };
    check("EMD r=1", emd(1), &want["emd1_mean"], 1e-12, &mut worst);
    check("EMD r=2", emd(2), &want["emd2_mean"], 1e-12, &mut worst);
    // Means agree to the last bits; ranks of near-ties do not survive a one-ulp difference, so
    // the correlations are checked on scipy's own means.
    let floats = |key: &str| -> Vec<f64> {
        want[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (ref_pred, ref_gt) = (floats("mean_predicted"), floats("mean_target"));
    for (ours, theirs) in mean_pred
        .iter()
        .chain(&mean_gt)
        .zip(ref_pred.iter().chain(&ref_gt))
    {
        assert!(
            (ours - theirs).abs() < 1e-12,
            "mean score {ours} vs {theirs}"
        );
    }
    check(
        "SRCC",
        rating::srcc(&ref_pred, &ref_gt).unwrap(),
        &want["srcc"],
        1e-12,
        &mut worst,
    );
    check(
        "PLCC",
        rating::plcc(&ref_pred, &ref_gt).unwrap(),
        &want["plcc"],
        1e-12,
        &mut worst,
    );
    check(
        "accuracy",
        rating::binary_accuracy(&mean_pred, &mean_gt, 5.0).unwrap(),
        &want["accuracy"],
        1e-12,
        &mut worst,
    );
    check(
        "MSE",
        rating::mse(&mean_pred, &mean_gt).unwrap(),
        &want["mse"],
        1e-12,
        &mut worst,
    );
}

#[test]
fn quality_metrics_match_scipy_on_livec_opinions() {
    let Some(path) = absnet_testkit::shared_data("livec/labels.csv") else {
        return;
    };
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(absnet_testkit::fixture("quality_reference.json")).unwrap(),
    )
    .unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let opinions: Vec<absnet_data::Opinion> = text
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            absnet_data::Opinion {
                mos: fields[1].parse().unwrap(),
                sd: fields[2].parse().unwrap(),
            }
        })
        .collect();
    assert_eq!(opinions.len() as u64, want["images"].as_u64().unwrap());
    let mos: Vec<f64> = opinions.iter().map(|o| o.mos).collect();
    // quality_fixtures.py's predictions: a logistic distortion of the MOS with a wobble.
    let predicted: Vec<f64> = mos
        .iter()
        .enumerate()
        .map(|(i, m)| 100.0 / (1.0 + (-(m - 50.0) / 15.0).exp()) + 8.0 * (i as f64 * 0.7).sin())
        .collect();
    let mut worst = 0.0;
    let exact = [
        ("srcc", rating::srcc(&predicted, &mos).unwrap()),
        ("krcc", rating::krcc(&predicted, &mos).unwrap()),
        ("plcc", rating::plcc(&predicted, &mos).unwrap()),
        ("rmse", rating::rmse(&predicted, &mos).unwrap()),
        (
            "accuracy_50",
            rating::binary_accuracy(&predicted, &mos, 50.0).unwrap(),
        ),
    ];
    for (name, got) in exact {
        check(name, got, &want[name], 1e-12, &mut worst);
    }
    // An iterative fit in a flat valley (the logistic's parameters trade off along it, so
    // scipy's β and ours differ): the fit must be as good as scipy's, and the PLCC after it
    // the same to 1e-4.
    let cost = |f: &rating::Logistic| -> f64 {
        predicted
            .iter()
            .zip(&mos)
            .map(|(&x, &y)| (f.apply(x) - y).powi(2))
            .sum()
    };
    let ours = rating::Logistic::fit(&predicted, &mos).unwrap();
    let scipy = rating::Logistic {
        beta: std::array::from_fn(|i| want["logistic_beta"][i].as_f64().unwrap()),
    };
    let (ours_cost, scipy_cost) = (cost(&ours), cost(&scipy));
    eprintln!(
        "logistic fit: squared error {ours_cost:.4} (β {:?}); scipy's {scipy_cost:.4}",
        ours.beta
    );
    assert!(
        ours_cost <= scipy_cost * (1.0 + 1e-6),
        "logistic fit {ours_cost} worse than scipy's {scipy_cost}"
    );
    check(
        "plcc_logistic",
        rating::plcc_logistic(&predicted, &mos).unwrap(),
        &want["plcc_logistic"],
        1e-4,
        &mut worst,
    );
    for i in 0..5 {
        let target = rating::opinion_distribution(opinions[i].mos, opinions[i].sd);
        for (bin, value) in target.iter().enumerate() {
            check(
                "opinion distribution",
                *value,
                &want["distributions_first"][i][bin],
                1e-12,
                &mut worst,
            );
        }
        let shifted = rating::opinion_distribution(opinions[i].mos + 7.0, opinions[i].sd * 1.2);
        check(
            "emd r=2",
            rating::emd(&shifted, &target, 2).unwrap(),
            &want["emd2_shifted_first"][i],
            1e-12,
            &mut worst,
        );
    }
    eprintln!("LIVE-C opinions: largest |Δ| against scipy {worst:e}");
}
