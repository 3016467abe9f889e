//! The service over 127.0.0.1: every route, every error status, batching (answers equal to
//! `absnet predict`'s), overload and recovery, timeouts and graceful shutdown.

mod common;

use std::time::Duration;

use absnet_predict::crop::{self, Aspect, CropOptions};
use absnet_predict::render;
use absnet_predict::{ModelChoice, Predictor, PredictorOptions, ShippedModel};
use burn::tensor::Device;
use common::*;
use serde_json::Value;

/// A 200×133 version of the sample, under the test's pixel limit.
fn small() -> Vec<u8> {
    let photo = image::load_from_memory(&chelsea()).unwrap().resize_exact(
        200,
        133,
        image::imageops::FilterType::Triangle,
    );
    let mut bytes = std::io::Cursor::new(Vec::new());
    photo.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

fn chelsea() -> Vec<u8> {
    std::fs::read(repo().join("samples/chelsea.png")).unwrap()
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn peaks(answer: &Value) -> Vec<render::Peak> {
    serde_json::from_value(answer["peaks"].clone()).unwrap()
}

#[test]
fn every_route_answers_as_predict_does() {
    let server = Server::start(batching(), limits());
    let (status, page) = get(&server.url("/"));
    assert!(
        status == 200 && page.contains("<title>absnet") && page.contains("type=\"file\""),
        "{status}"
    );
    assert_eq!(get(&server.url("/healthz")), (200, "ok\n".to_string()));
    // The same image predicted directly, as `absnet predict` does.
    let photo = image::load_from_memory(&chelsea()).unwrap().into_rgb8();
    let direct = predictor().predict(&photo);
    let (status, _, kind, body) = post(&server.url("/v1/saliency"), &chelsea());
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let answer = json(&body);
    assert_eq!(
        (answer["width"].as_u64(), answer["height"].as_u64()),
        (Some(451), Some(300))
    );
    assert_eq!(peaks(&answer), direct.peaks(5));
    let quality = answer["quality"]["score"].as_f64().unwrap();
    assert_eq!(quality, direct.quality.as_ref().unwrap().score);
    assert!(
        answer["aesthetics"].is_null()
            && answer["model"]
                .as_str()
                .unwrap()
                .ends_with("model.safetensors (built in)")
    );
    let (status, _, kind, body) = post(&server.url("/v1/saliency?format=png"), &chelsea());
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    let served = image::load_from_memory(&body).unwrap().into_luma8();
    assert_eq!(
        served,
        render::gray8(&direct.display_map()),
        "the map predict writes"
    );
    let (status, _, kind, body) = post(
        &server.url("/v1/saliency?format=overlay&colormap=hot&opacity=0.7"),
        &chelsea(),
    );
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    assert_eq!(image::load_from_memory(&body).unwrap().width(), 451);
    let (status, _, _, body) = post(
        &server.url("/v1/crop?aspects=1:1,16:9&scale=0.6"),
        &chelsea(),
    );
    assert_eq!(status, 200);
    let aspects = ["1:1".parse::<Aspect>().unwrap(), "16:9".parse().unwrap()];
    let windows = crop::crop(&direct.saliency, &aspects, 0.6, &CropOptions::default()).unwrap();
    let crops = json(&body)["crops"].clone();
    for (served, window) in crops.as_array().unwrap().iter().zip(windows) {
        assert_eq!(
            served["x"].as_u64(),
            Some(u64::from(window.window.x)),
            "{served}"
        );
        assert_eq!(
            served["width"].as_u64(),
            Some(u64::from(window.window.width)),
            "{served}"
        );
    }
    // The focal point, on request, as the library finds it.
    let (status, _, _, body) = post(&server.url("/v1/saliency?focal=1"), &chelsea());
    assert_eq!(status, 200);
    let focal = crop::focal_point(&direct.saliency);
    let served = &json(&body)["focal_point"];
    assert_eq!(served["x"].as_f64(), Some(focal.x), "{served}");
    assert_eq!(served["y"].as_f64(), Some(focal.y), "{served}");
    // The same windows in smartcrop.js's shape.
    let (status, _, _, body) = post(
        &server.url("/v1/crop?aspects=1:1,16:9&scale=0.6&format=smartcrop"),
        &chelsea(),
    );
    assert_eq!(status, 200);
    let answer = json(&body);
    assert_eq!(answer["topCrop"], answer["crops"][0]);
    for (served, window) in answer["crops"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&crops_served(&crops))
    {
        assert_eq!(&served_window(served), window, "{served}");
    }
    let (_, metrics) = get(&server.url("/metrics"));
    for line in [
        "absnet_requests_total{route=\"/v1/saliency\",status=\"200\"} 4",
        "absnet_batch_size_count",
        "absnet_queue_depth",
        "absnet_images_per_second",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
}

/// With a quality model (`serve --quality-model quality`) the answer's quality is that model's,
/// and names it; without one the answer names none.
#[test]
fn a_quality_model_scores_the_answers_quality_and_is_named() {
    let quality = ModelChoice::Shipped(ShippedModel::Quality);
    let options = PredictorOptions {
        quality_model: Some(quality.clone()),
        ..PredictorOptions::default()
    };
    let paired = || Predictor::load(&ModelChoice::default(), &options, &Device::flex()).unwrap();
    let photo = image::load_from_memory(&chelsea()).unwrap().into_rgb8();
    let direct = paired().predict(&photo);
    let server = Server::serving(paired(), batching(), limits(), Default::default());
    let (status, _, _, body) = post(&server.url("/v1/saliency"), &chelsea());
    assert_eq!(status, 200);
    let answer = json(&body);
    assert_eq!(
        answer["quality_model"].as_str(),
        Some(quality.label().to_str().unwrap()),
        "{answer}"
    );
    let score = answer["quality"]["score"].as_f64().unwrap();
    assert_eq!(score, direct.quality.as_ref().unwrap().score);
    assert_eq!(peaks(&answer), direct.peaks(5));

    let plain = Server::start(batching(), limits());
    let (_, _, _, body) = post(&plain.url("/v1/saliency"), &chelsea());
    assert!(json(&body).get("quality_model").is_none());
}

#[test]
fn bad_requests_get_their_status_and_a_named_problem() {
    let limits = absnet_serve::Limits {
        max_body_bytes: 1_000_000,
        max_pixels: 100_000,
        ..limits()
    };
    let server = Server::start(batching(), limits);
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        (server.url("/v1/saliency"), Vec::new(), 400, "body is empty"),
        (
            server.url("/v1/crop?aspects=16:9,1:1,32:18"),
            chelsea(),
            400,
            "`16:9` is asked for twice (as `32:18`)",
        ),
        (
            server.url("/v1/saliency"),
            b"definitely not an image".to_vec(),
            415,
            "not an image in a known format",
        ),
        (
            server.url("/v1/saliency"),
            chelsea()[..20_000].to_vec(),
            400,
            "the image",
        ),
        (
            server.url("/v1/saliency?format=gif"),
            chelsea(),
            400,
            "format",
        ),
        (
            server.url("/v1/saliency?opacity=3&format=overlay"),
            small(),
            400,
            "opacity",
        ),
        (
            server.url("/v1/crop?aspects=16x9"),
            chelsea(),
            400,
            "aspect `16x9`",
        ),
        (server.url("/v1/crop?scale=0"), chelsea(), 400, "scale 0"),
        (
            server.url("/v1/saliency?top-k=3"),
            chelsea(),
            400,
            "unknown field `top-k`",
        ),
        (
            server.url("/v1/crop?scale=0.5&scale=0.6"),
            chelsea(),
            400,
            "duplicate field `scale`",
        ),
        (
            server.url("/v1/saliency?focal=yes"),
            chelsea(),
            400,
            "focal=yes",
        ),
        (
            server.url("/v1/crop?format=thumbor"),
            chelsea(),
            400,
            "expected absnet or smartcrop",
        ),
    ];
    for (url, body, want, text) in cases {
        let (status, _, _, answer) = post(&url, &body);
        let message = json(&answer)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            status == want && message.contains(text),
            "{url}: {status} {message}"
        );
    }
    // A declared length over the limit: refused from the headers, so a client still sending the
    // body reads the answer instead of a broken pipe.
    let (status, answer) = post_head(&server, "/v1/saliency", 1_500_000);
    assert!(
        status == 413 && answer.contains("over the limit of 1000000 bytes"),
        "{status} {answer}"
    );
    // Over the pixel limit (451 × 300 = 135,300 pixels > 100,000): refused before decoding.
    let (status, _, _, answer) = post(&server.url("/v1/saliency"), &chelsea());
    assert!(
        status == 400
            && json(&answer)["error"]
                .as_str()
                .unwrap()
                .contains("exceeds the limit"),
        "{status}"
    );
}

#[test]
fn a_bad_query_is_answered_only_after_the_whole_body_arrived() {
    // Answering while the client still sends would reach it as a broken pipe, not as the answer.
    let server = Server::start(batching(), limits());
    for path in ["/v1/crop?scale=0", "/v1/saliency?format=gif"] {
        let (early, status, answer) =
            post_in_halves(&server, path, &chelsea(), Duration::from_millis(500));
        assert!(!early, "{path}: answered before the body was read");
        assert!(status == 400, "{path}: {answer}");
    }
}

#[test]
fn concurrent_requests_share_forward_passes_and_get_their_own_answers() {
    let batching = absnet_serve::Batching {
        max_batch: 8,
        max_wait: Duration::from_millis(300),
        queue: 32,
    };
    let server = Server::start(batching, limits());
    let photos = [
        repo().join("samples/chelsea.png"),
        repo().join("samples/coffee.png"),
    ];
    let expected: Vec<Vec<render::Peak>> = photos
        .iter()
        .map(|p| {
            predictor()
                .predict(&image::open(p).unwrap().into_rgb8())
                .peaks(5)
        })
        .collect();
    let answers: Vec<(usize, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (url, body) = (
                    server.url("/v1/saliency"),
                    std::fs::read(&photos[i % 2]).unwrap(),
                );
                scope.spawn(move || (i, json(&post(&url, &body).3)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, answer) in answers {
        assert_eq!(peaks(&answer), expected[i % 2], "request {i}");
    }
    let (_, metrics) = get(&server.url("/metrics"));
    let single: f64 = metrics
        .lines()
        .find(|l| l.starts_with("absnet_batch_size_bucket{le=\"1.0\"}"))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        single < 8.0,
        "some requests shared a forward pass:\n{metrics}"
    );
}

#[test]
fn overload_is_refused_fast_and_the_service_recovers() {
    let batching = absnet_serve::Batching {
        max_batch: 1,
        max_wait: Duration::ZERO,
        queue: 1,
    };
    let server = Server::start(batching, limits());
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let url = server.url("/v1/saliency");
                scope.spawn(move || {
                    let (status, retry, _, _) = post(&url, &chelsea());
                    (status, retry)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().any(|(s, _)| *s == 200));
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!refused.is_empty(), "{statuses:?}");
    assert!(
        refused
            .iter()
            .all(|(_, retry)| retry.as_deref() == Some("1"))
    );
    assert_eq!(
        post(&server.url("/v1/saliency"), &chelsea()).0,
        200,
        "recovered"
    );
}

#[test]
fn a_request_past_its_time_is_answered_503() {
    let limits = absnet_serve::Limits {
        timeout: Duration::from_millis(1),
        ..limits()
    };
    let server = Server::start(batching(), limits);
    let (status, retry, _, body) = post(&server.url("/v1/saliency"), &chelsea());
    assert!(
        status == 503
            && retry.is_some()
            && json(&body)["error"]
                .as_str()
                .unwrap()
                .contains("no answer within"),
        "{status}"
    );
}

#[test]
fn shutdown_answers_requests_in_flight_and_then_refuses() {
    let batching = absnet_serve::Batching {
        max_batch: 8,
        max_wait: Duration::from_millis(500),
        queue: 32,
    };
    let mut server = Server::start(batching, limits());
    let url = server.url("/v1/saliency");
    let in_flight = std::thread::spawn(move || post(&url, &chelsea()).0);
    std::thread::sleep(Duration::from_millis(150));
    server.shutdown();
    assert_eq!(
        in_flight.join().unwrap(),
        200,
        "the request in flight was answered"
    );
    assert!(
        std::net::TcpStream::connect(server.addr).is_err(),
        "new connections are refused"
    );
}

#[test]
fn a_stuck_client_holds_shutdown_no_longer_than_the_drain_time() {
    use std::io::Write;
    let mut server = Server::start(batching(), limits());
    // Headers promising a body that never comes.
    let mut stuck = std::net::TcpStream::connect(server.addr).unwrap();
    stuck
        .write_all(b"POST /v1/saliency HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let start = std::time::Instant::now();
    server.shutdown();
    let waited = start.elapsed();
    assert!(
        waited >= DRAIN - Duration::from_millis(100) && waited < DRAIN + Duration::from_secs(3),
        "shutdown took {waited:?} with a drain time of {DRAIN:?}"
    );
    drop(stuck);
}

fn served_window(c: &Value) -> [u64; 4] {
    ["x", "y", "width", "height"].map(|k| c[k].as_u64().unwrap())
}

fn crops_served(crops: &Value) -> Vec<[u64; 4]> {
    crops
        .as_array()
        .unwrap()
        .iter()
        .map(served_window)
        .collect()
}
