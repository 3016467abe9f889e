//! Ground-truth densities against scipy's `gaussian_filter` on real OSIE fixations (values from
//! scripts/reference/metrics_reference.py in tests/fixtures/metrics_reference.json).

use absnet_data::density::{Border, DensityError, density_map};

const W: usize = 800;
const H: usize = 600;
const SIGMA: f64 = 24.0;

fn fixations(sample: &absnet_data::Sample) -> Vec<(f64, f64)> {
    sample
        .fixations()
        .filter(|f| f.x >= 0.0 && f.y >= 0.0 && f.x < W as f64 && f.y < H as f64)
        .map(|f| (f.x, f.y))
        .collect()
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(absnet_testkit::fixture("metrics_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn density_maps_match_scipy_gaussian_filter() {
    let Some(root) = absnet_testkit::shared_data("osie") else {
        return;
    };
    let data = absnet_data::osie::load_dataset(&root).unwrap();
    let reference = reference();
    let fix = fixations(&data[0]);
    for (mode, border) in [("constant", Border::Zero), ("reflect", Border::Reflect)] {
        let map = density_map(W, H, fix.iter().copied(), SIGMA, border).unwrap();
        let want = &reference["density"][mode];
        let sum: f64 = map.sum();
        assert!(
            (sum - want["sum"].as_f64().unwrap()).abs() < 1e-9,
            "{mode}: sum {sum}"
        );
        for probe in want["probes"].as_array().unwrap() {
            let (y, x) = (
                probe[0].as_u64().unwrap() as usize,
                probe[1].as_u64().unwrap() as usize,
            );
            let v = probe[2].as_f64().unwrap();
            assert!(
                (map[(y, x)] - v).abs() < 1e-12,
                "{mode} ({y}, {x}): {} vs {v}",
                map[(y, x)]
            );
        }
    }
    // Many fixations take the separable path: the same map.
    let many: Vec<(f64, f64)> = std::iter::repeat_n(fix.iter().copied(), 60)
        .flatten()
        .collect();
    for border in [Border::Zero, Border::Reflect] {
        let direct = density_map(W, H, fix.iter().copied(), SIGMA, border).unwrap() * 60.0;
        let separable = density_map(W, H, many.iter().copied(), SIGMA, border).unwrap();
        let diff = (direct - separable)
            .mapv(f64::abs)
            .fold(0.0f64, |m, &v| m.max(v));
        assert!(diff < 1e-9, "{border:?}: {diff}");
    }
    // Reflect loses no mass: the map sums to the number of fixations.
    let reflect = density_map(W, H, fix.iter().copied(), SIGMA, Border::Reflect).unwrap();
    assert!((reflect.sum() - fix.len() as f64).abs() < 1e-9);
}

#[test]
fn points_outside_the_map_and_bad_sigmas_are_errors() {
    let err = density_map(30, 20, [(-0.5, 1.0)], 2.0, Border::Zero).unwrap_err();
    assert!(
        matches!(err, DensityError::Outside { index: 0, .. }),
        "{err}"
    );
    assert_eq!(
        density_map(30, 20, [(1.0, 1.0)], 0.0, Border::Zero).unwrap_err(),
        DensityError::Sigma(0.0)
    );
    assert_eq!(
        density_map(30, 20, [], 2.0, Border::Zero).unwrap_err(),
        DensityError::NoFixations
    );
}
