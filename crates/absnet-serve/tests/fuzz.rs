//! Bounded fuzzing of what parses a request — the routes' query strings, thumbor's URLs, crop
//! specs — through the real router: arbitrary paths and queries (grammar-shaped and raw) never
//! panic and never get a 5xx; whatever is refused is refused with a named problem. CI runs the
//! cases below (`PROPTEST_CASES` raises them locally).

mod common;

use std::sync::{Arc, OnceLock};

use absnet_predict::crop::{self, Aspect};
use absnet_serve::{Images, Service, thumbor};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use proptest::prelude::*;
use tower::ServiceExt;

fn service() -> Arc<Service> {
    static SERVICE: OnceLock<Arc<Service>> = OnceLock::new();
    Arc::clone(SERVICE.get_or_init(|| {
        let runtime = runtime();
        let _entered = runtime.enter();
        let images = Images {
            root: Some(repo().join("samples")),
            security_key: None,
            ..Images::default()
        };
        Service::with_images(predictor(), batching(), limits(), images)
    }))
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Status and body of `method path` with an empty body, through the router.
fn call(method: Method, path: &str) -> Option<(StatusCode, String)> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .ok()?; // Not a URI at all: hyper refuses it before any route sees it.
    let app = absnet_serve::router(service());
    runtime().block_on(async {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        Some((status, String::from_utf8_lossy(&bytes).into_owned()))
    })
}

/// Query strings made of the keys and values the routes know, and some they do not.
fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        proptest::sample::select(vec![
            "format", "colormap", "opacity", "aspects", "scale", "focal", "peaks", "size",
        ])
        .prop_map(str::to_string),
        "[a-z]{1,6}",
    ];
    let value = prop_oneof![
        "[0-9]{1,6}",
        "[0-9]{1,3}:[0-9]{1,3}(,[0-9]{1,3}:[0-9]{1,3}){0,3}",
        Just("png".to_string()),
        Just("overlay".to_string()),
        Just("smartcrop".to_string()),
        "-?[0-9]\\.[0-9]{1,3}",
        "[%&=;:,a-zA-Z0-9]{0,12}",
    ];
    proptest::collection::vec((key, value), 0..5).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// thumbor-shaped paths: mostly the URL's parts in thumbor's order, each present or not and
/// with odd values, some reaching the image; otherwise its parts in any order and number.
fn thumbor_path() -> impl Strategy<Value = String> {
    let size = "-?[0-9]{0,5}x-?[0-9]{0,5}";
    let filters = "filters:[a-z]{0,8}\\([a-z0-9,]{0,6}\\)(:[a-z]{0,8}\\([0-9]{0,3}\\))?";
    let image = prop_oneof![
        4 => Just("chelsea.png".to_string()),
        1 => Just("../Cargo.toml".to_string()),
        1 => "[A-Za-z0-9_.%-]{0,12}",
    ];
    let ordered = (
        prop_oneof![3 => Just("unsafe".to_string()), 1 => "[A-Za-z0-9_=-]{0,28}"],
        proptest::option::of(Just("meta")),
        proptest::option::of(Just("fit-in")),
        proptest::option::of(size),
        proptest::option::of("(left|right|center)"),
        proptest::option::of("(top|bottom|middle)"),
        proptest::option::of(Just("smart")),
        proptest::option::of(filters),
        image,
    )
        .prop_map(|(first, meta, fit, size, h, v, smart, filters, image)| {
            let parts = [
                Some(first),
                meta.map(str::to_string),
                fit.map(str::to_string),
                size,
                h,
                v,
                smart.map(str::to_string),
                filters,
                Some(image),
            ];
            parts.into_iter().flatten().collect::<Vec<_>>().join("/")
        });
    let part = prop_oneof![
        Just("unsafe".to_string()),
        Just("meta".to_string()),
        Just("smart".to_string()),
        "-?[0-9]{0,6}x-?[0-9]{0,6}",
        "[0-9]{1,4}x[0-9]{1,4}:[0-9]{1,4}x[0-9]{1,4}",
        Just("chelsea.png".to_string()),
        Just("..".to_string()),
        "%[0-9A-F]{2}",
    ];
    let shuffled = proptest::collection::vec(part, 0..7).prop_map(|parts| parts.join("/"));
    prop_oneof![3 => ordered, 1 => shuffled]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
    ))]

    #[test]
    fn queries_are_answered_or_refused_by_name(q in query(), crop in any::<bool>()) {
        let route = if crop { "/v1/crop" } else { "/v1/saliency" };
        if let Some((status, body)) = call(Method::POST, &format!("{route}?{q}")) {
            // An empty body: every request is refused, by its query or by the empty body.
            prop_assert!(status.is_client_error(), "{route}?{q}: {status} {body}");
            prop_assert!(body.contains("\"error\""), "{route}?{q}: {body}");
        }
    }

    #[test]
    fn thumbor_urls_never_fail_the_service(path in thumbor_path()) {
        if let Some((status, body)) = call(Method::GET, &format!("/{path}")) {
            prop_assert!(!status.is_server_error(), "/{path}: {status} {body}");
            if status.is_client_error() {
                prop_assert!(!body.is_empty(), "/{path}: {status} with no reason");
            }
        }
    }

    #[test]
    fn raw_paths_never_fail_the_service(path in "[ -~]{0,80}") {
        for method in [Method::GET, Method::POST] {
            if let Some((status, body)) = call(method.clone(), &format!("/{path}")) {
                prop_assert!(!status.is_server_error(), "{method} /{path}: {status} {body}");
            }
        }
    }

    #[test]
    fn thumbor_urls_parse_or_say_why_and_targets_stay_positive(
        path in thumbor_path(),
        w in 1u32..20_000,
        h in 1u32..20_000,
    ) {
        match thumbor::parse(&path) {
            Ok(url) => {
                let [tw, th] = thumbor::target(&url, [w, h]);
                prop_assert!(tw >= 1 && th >= 1, "{path} on {w}×{h}: {tw}×{th}");
            }
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn crop_specs_parse_or_name_the_spec(spec in "[0-9:, x.-]{0,16}", w in 1u32..20_000, h in 1u32..20_000, scale in 0.0f64..1.5) {
        match spec.parse::<Aspect>() {
            Ok(aspect) => {
                if let Ok([cw, ch]) = crop::window_size([w, h], aspect, scale) {
                    prop_assert!(cw >= 1 && ch >= 1 && cw <= w && ch <= h, "{spec} {scale} on {w}×{h}: {cw}×{ch}");
                }
            }
            Err(e) => prop_assert!(e.to_string().contains(spec.as_str()), "{e}"),
        }
    }
}

/// Found by `thumbor_urls_never_fail_the_service`: a width past JPEG's 65,535 reached the
/// encoder and came back as a 500. It is a request the format cannot answer: 400, with why.
#[test]
fn a_size_past_the_formats_limit_is_refused_by_name() {
    for (path, limit) in [
        ("/unsafe/70000x100/chelsea.png", "65535"),
        (
            "/unsafe/100x20000/filters:format(webp)/chelsea.png",
            "16383",
        ),
    ] {
        let (status, body) = call(Method::GET, path).expect("a valid URI");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body.contains(limit), "{path}: {body}");
    }
}
