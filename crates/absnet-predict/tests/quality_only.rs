//! The quality-only pass gives the scores the full prediction gives, without the saliency
//! decoder.

use absnet_predict::{ModelChoice, Predictor, PredictorOptions};
use burn::tensor::Device;

#[test]
fn quality_alone_equals_the_full_predictions_quality() {
    let repo = absnet_testkit::repo();
    let photos: Vec<image::RgbImage> = ["samples/chelsea.png", "samples/coffee.png"]
        .iter()
        .map(|p| image::open(repo.join(p)).unwrap().into_rgb8())
        .collect();
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
