//! Inputs the metrics cannot score give a named error or a documented value, never NaN or a
//! panic.

use absnet_metrics::rating;
use absnet_metrics::saliency::{
    self, AucJuddOptions, KldVariant, NssOptions, SimVariant, SplitRoc,
};
use absnet_metrics::{Duplicates, Fixation, MetricError};
use ndarray::Array2;

fn gradient() -> Array2<f64> {
    Array2::from_shape_fn((20, 30), |(y, x)| (x + 2 * y) as f64)
}

fn fixations() -> Vec<Fixation> {
    vec![
        Fixation::new(29.5, 19.5),
        Fixation::new(28.0, 18.2),
        Fixation::new(1.0, 1.0),
    ]
}

#[test]
fn constant_maps_have_documented_scores() {
    let constant = Array2::from_elem((20, 30), 3.0);
    let fix = fixations();
    let gt = gradient();
    assert_eq!(
        saliency::nss(constant.view(), &fix, NssOptions::MIT).unwrap(),
        0.0
    );
    assert_eq!(saliency::cc(constant.view(), gt.view()).unwrap(), 0.0);
    assert_eq!(
        saliency::cc(gt.view(), constant.view()),
        Err(MetricError::ConstantMap {
            map: "ground-truth",
            metric: "CC"
        })
    );
    assert!(
        (saliency::auc_judd(constant.view(), &fix, AucJuddOptions::default()).unwrap() - 0.5).abs()
            < 1e-12
    );
    assert_eq!(
        saliency::auc_borji(constant.view(), &fix, &SplitRoc::default()).unwrap(),
        0.5
    );
    for variant in [SimVariant::Mit, SimVariant::Pysaliency] {
        let s = saliency::sim(constant.view(), constant.view(), variant).unwrap();
        assert!((s - 1.0).abs() < 1e-9, "{variant:?}: {s}");
    }
    let k = saliency::kld(constant.view(), constant.view(), KldVariant::Mit).unwrap();
    assert!(k.abs() < 1e-9);
    let ig = saliency::information_gain(constant.view(), constant.view(), &fix, Duplicates::Keep)
        .unwrap();
    assert_eq!(ig, 0.0);
}

#[test]
fn missing_or_misplaced_fixations_are_errors() {
    let map = gradient();
    assert_eq!(
        saliency::nss(map.view(), &[], NssOptions::default()),
        Err(MetricError::NoFixations)
    );
    let outside = [Fixation::new(1.0, 1.0), Fixation::new(30.0, 5.0)];
    let err = saliency::auc_judd(map.view(), &outside, AucJuddOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MetricError::FixationOutside {
                index: 1,
                width: 30,
                height: 20,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("(x = 30, y = 5)"), "{err}");
    let nan = [Fixation::new(f64::NAN, 1.0)];
    assert!(matches!(
        saliency::nss(map.view(), &nan, NssOptions::default()),
        Err(MetricError::FixationOutside { index: 0, .. })
    ));
    assert!(matches!(
        saliency::auc_shuffled(map.view(), &fixations(), &[], &SplitRoc::default()),
        Err(MetricError::NoNegatives)
    ));
}

#[test]
fn non_finite_and_mismatched_maps_are_errors() {
    let mut map = gradient();
    map[(3, 4)] = f64::NAN;
    let err = saliency::nss(map.view(), &fixations(), NssOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            MetricError::NonFinite {
                map: "saliency",
                row: 3,
                column: 4,
                ..
            }
        ),
        "{err}"
    );
    map[(3, 4)] = f64::INFINITY;
    let gt = gradient();
    assert!(matches!(
        saliency::cc(gt.view(), map.view()),
        Err(MetricError::NonFinite {
            map: "ground-truth",
            ..
        })
    ));
    let small = Array2::<f64>::ones((10, 10));
    assert!(matches!(
        saliency::kld(small.view(), gt.view(), KldVariant::Mit),
        Err(MetricError::ShapeMismatch { .. })
    ));
    let empty = Array2::<f64>::zeros((0, 0));
    assert_eq!(
        saliency::sim(empty.view(), empty.view(), SimVariant::Mit),
        Err(MetricError::EmptyMap { map: "saliency" })
    );
}

#[test]
fn duplicate_fixations_count_once_when_collapsed() {
    let map = gradient();
    let twice = [
        Fixation::new(5.2, 5.9),
        Fixation::new(5.7, 5.1),
        Fixation::new(20.0, 10.0),
    ];
    let kept = saliency::nss_values(
        map.view(),
        &twice,
        NssOptions {
            duplicates: Duplicates::Keep,
            ..Default::default()
        },
    )
    .unwrap();
    let collapsed = saliency::nss_values(
        map.view(),
        &twice,
        NssOptions {
            duplicates: Duplicates::Collapse,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((kept.len(), collapsed.len()), (3, 2));
}

#[test]
fn perfect_and_inverted_maps_bound_the_auc() {
    // Fixations on the brightest pixels: AUC-Judd 1. On the two darkest, thresholds at the fixated
    // values only: the curve goes (0, 0) → (1, 1/2) → (1, 1), area 1/4.
    let map = gradient();
    let bright = [Fixation::new(29.0, 19.0), Fixation::new(28.0, 19.0)];
    let dark = [Fixation::new(0.0, 0.0), Fixation::new(1.0, 0.0)];
    assert!(
        (saliency::auc_judd(map.view(), &bright, AucJuddOptions::default()).unwrap() - 1.0).abs()
            < 1e-9
    );
    let judd = saliency::auc_judd(map.view(), &dark, AucJuddOptions::default()).unwrap();
    assert!((judd - 0.25).abs() < 1e-12, "{judd}");
    let negatives: Vec<f64> = map.iter().copied().filter(|&v| v > 1.0).collect();
    let exact = saliency::roc_auc(&[0.0, 1.0], &negatives, saliency::RocThresholds::All).unwrap();
    assert_eq!(exact, 0.0);
    let jittered = saliency::auc_judd(
        map.view(),
        &bright,
        AucJuddOptions {
            jitter: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    assert!((jittered - 1.0).abs() < 1e-6);
}

#[test]
fn bad_distributions_are_errors() {
    let ok = [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 4.0, 3.0, 2.0, 1.0];
    assert!((rating::mean_score(&ok).unwrap() - 5.5).abs() < 1e-12);
    assert_eq!(rating::emd(&ok, &ok, 2).unwrap(), 0.0);
    assert_eq!(
        rating::mean_score(&[0.0; 10]),
        Err(MetricError::ZeroDistribution)
    );
    assert_eq!(
        rating::mean_score(&ok[..9]),
        Err(MetricError::BinCount {
            found: 9,
            expected: 10
        })
    );
    let mut bad = ok;
    bad[4] = -1.0;
    assert_eq!(
        rating::emd(&ok, &bad, 1),
        Err(MetricError::InvalidBin {
            bin: 4,
            value: -1.0
        })
    );
    bad[4] = f64::NAN;
    assert!(matches!(
        rating::score_std(&bad),
        Err(MetricError::InvalidBin { bin: 4, .. })
    ));
    assert!(matches!(
        rating::srcc(&[1.0], &[2.0]),
        Err(MetricError::TooFewValues {
            needed: 2,
            found: 1
        })
    ));
    assert!(matches!(
        rating::plcc(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]),
        Err(MetricError::ConstantValues { .. })
    ));
    assert!(matches!(
        rating::mse(&[1.0, 2.0], &[1.0]),
        Err(MetricError::TooFewValues { .. })
    ));
}

#[test]
fn emd_is_the_cdf_distance() {
    // All mass on score 1 vs all on score 10: the CDFs differ by 1 over 9 of 10 bins.
    let mut low = [0.0; 10];
    let mut high = [0.0; 10];
    low[0] = 1.0;
    high[9] = 1.0;
    assert!((rating::emd(&low, &high, 1).unwrap() - 0.9).abs() < 1e-12);
    assert!((rating::emd(&low, &high, 2).unwrap() - 0.9f64.sqrt()).abs() < 1e-12);
}
