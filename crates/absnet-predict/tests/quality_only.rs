//! The quality-only pass gives the scores the full prediction gives, without the saliency
//! decoder; a quality model gives them in place of the model's own head.

use absnet_model::Head;
use absnet_predict::{
    ModelChoice, PredictError, Predictor, PredictorOptions, QualityScorer, ShippedModel,
};
use burn::tensor::Device;

/// The two sample photos.
fn samples() -> Vec<image::RgbImage> {
    let repo = absnet_testkit::repo();
    ["samples/chelsea.png", "samples/coffee.png"]
        .iter()
        .map(|p| image::open(repo.join(p)).unwrap().into_rgb8())
        .collect()
}

#[test]
fn quality_alone_equals_the_full_predictions_quality() {
    let photos = samples();
    let photos: Vec<&image::RgbImage> = photos.iter().collect();
    for flip_average in [false, true] {
        let options = PredictorOptions {
            flip_average: Some(flip_average),
            ..PredictorOptions::default()
        };
        let predictor =
            Predictor::load(&ModelChoice::default(), &options, &Device::flex()).unwrap();
        let full = predictor.predict_batch(&photos);
        let alone = predictor.quality_batch(&photos).unwrap();
        for (full, alone) in full.iter().zip(&alone) {
            let full = full.quality.as_ref().unwrap();
            assert!(
                (full.score - alone.score).abs() < 1e-4,
                "{full:?} vs {alone:?}"
            );
        }
    }
}

/// With a quality model, the predictor's quality scores are that model's — in the full
/// prediction and alone — and its saliency maps are its own model's, unchanged.
#[test]
fn a_quality_model_scores_in_place_of_the_models_own_head() {
    let photos = samples();
    let photos: Vec<&image::RgbImage> = photos.iter().collect();
    let device = Device::flex();
    let quality = ModelChoice::Shipped(ShippedModel::Quality);
    let paired = PredictorOptions {
        quality_model: Some(quality.clone()),
        ..PredictorOptions::default()
    };
    let predictor = Predictor::load(&ModelChoice::default(), &paired, &device).unwrap();
    let alone = Predictor::load(
        &ModelChoice::default(),
        &PredictorOptions::default(),
        &device,
    )
    .unwrap();
    let scorer = QualityScorer::load(&quality, &PredictorOptions::default(), &device).unwrap();
    assert_eq!(scorer.input_size(), [512, 512]);
    assert_eq!(predictor.quality_model(), Some(quality.label()));
    assert_eq!(alone.quality_model(), None);

    let expected = scorer.quality_batch(&photos);
    let full = predictor.predict_batch(&photos);
    let only = predictor.quality_batch(&photos).unwrap();
    let own = alone.predict_batch(&photos);
    for (((expected, full), only), own) in expected.iter().zip(&full).zip(&only).zip(&own) {
        let score = full.quality.as_ref().unwrap().score;
        assert!(
            (score - expected.score).abs() < 1e-6,
            "{score} {expected:?}"
        );
        assert!((only.score - expected.score).abs() < 1e-6);
        // The saliency model's own head scores differently (another encoder pass, another head).
        assert!((own.quality.as_ref().unwrap().score - score).abs() > 1e-3);
        assert_eq!(full.saliency.as_raw(), own.saliency.as_raw());
    }

    // The quality model has no saliency head: it scores, but does not predict maps.
    let refused = Predictor::load(&quality, &PredictorOptions::default(), &device);
    assert!(
        matches!(
            refused,
            Err(PredictError::NoHead { ref path, head: Head::Saliency }) if path == quality.label()
        ),
        "{:?}",
        refused.err()
    );
}
