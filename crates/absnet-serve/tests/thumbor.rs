//! thumbor's URLs on `absnet serve --image-root`: smart crops around what people look at, the
//! `meta` answer, fit-in, formats, signed URLs, and paths that leave the image root refused.

mod common;

use absnet_predict::crop::{self, Aspect, CropOptions};
use absnet_serve::thumbor;
use common::*;
use serde_json::Value;

fn images(key: Option<&str>) -> absnet_serve::Images {
    absnet_serve::Images {
        root: Some(repo().join("samples")),
        security_key: key.map(str::to_string),
        ..absnet_serve::Images::default()
    }
}

#[test]
fn smart_crops_hold_what_people_look_at() {
    let server = Server::with_images(batching(), limits(), images(None));
    let photo = image::open(repo().join("samples/chelsea.png"))
        .unwrap()
        .into_rgb8();
    let direct = predictor().predict(&photo);

    // The image: the asked size, cut from the window `absnet crop` chooses.
    let (status, kind, body) = get_bytes(&server.url("/unsafe/300x200/smart/chelsea.png"));
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    let thumbnail = image::load_from_memory(&body).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (300, 200));

    // meta: thumbor's shape, the crop equal to absnet's window, holding the top peak.
    let (status, text) = get(&server.url("/unsafe/meta/120x200/smart/chelsea.png"));
    assert_eq!(status, 200, "{text}");
    let meta: Value = serde_json::from_str(&text).unwrap();
    let meta = &meta["thumbor"];
    assert_eq!(meta["source"]["width"], 451);
    assert_eq!(
        meta["target"],
        serde_json::json!({"width": 120, "height": 200})
    );
    let window = crop::crop(
        &direct.saliency,
        &[Aspect::of_size([120, 200])],
        1.0,
        &CropOptions::default(),
    )
    .unwrap()[0]
        .window;
    let cut = &meta["operations"][0];
    assert_eq!(cut["type"], "crop");
    assert_eq!(
        [&cut["left"], &cut["top"], &cut["right"], &cut["bottom"]].map(|v| v.as_u64().unwrap()),
        [
            window.x,
            window.y,
            window.x + window.width,
            window.y + window.height
        ]
        .map(u64::from)
    );
    let peak = direct.peaks(1)[0];
    assert!(
        (window.x..window.x + window.width).contains(&peak.x)
            && (window.y..window.y + window.height).contains(&peak.y),
        "{window:?} misses {peak:?}"
    );
    let focal = &meta["focal_points"][0];
    assert!(focal["x"].as_f64().unwrap() > 0.0 && focal["origin"] == "absnet focal point");

    // A plain crop is the centre one; fit-in keeps the whole picture; formats are honoured.
    let (_, text) = get(&server.url("/unsafe/meta/120x200/chelsea.png"));
    let meta: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(meta["thumbor"]["operations"][0]["left"], (451 - 180) / 2);
    let (status, kind, body) =
        get_bytes(&server.url("/unsafe/fit-in/200x200/filters:format(webp)/chelsea.png"));
    assert_eq!((status, kind.as_str()), (200, "image/webp"));
    let fitted = image::load_from_memory(&body).unwrap();
    assert_eq!((fitted.width(), fitted.height()), (200, 133));
    let (_, _, body) = get_bytes(&server.url("/unsafe/0x100/filters:format(png)/chelsea.png"));
    let resized = image::load_from_memory(&body).unwrap();
    assert_eq!((resized.width(), resized.height()), (150, 100));

    // Nothing outside the image root, nothing remote, nothing malformed.
    for (path, status, text) in [
        ("/unsafe/300x200/smart/..%2FCargo.toml", 400, "without `..`"),
        ("/unsafe/300x200/smart/missing.png", 404, "no such image"),
        (
            "/unsafe/300x200/smart/https://example.com/a.jpg",
            400,
            "--allow-remote",
        ),
        (
            "/unsafe/300x200/filters:blur(2)/chelsea.png",
            400,
            "not supported",
        ),
        ("/unsafe/99999x99999/chelsea.png", 400, "pixel limit"),
    ] {
        let (got, answer) = get(&server.url(path));
        assert!(
            got == status && answer.contains(text),
            "{path}: {got} {answer}"
        );
    }
}

#[test]
fn with_a_security_key_only_signed_urls_are_served() {
    let server = Server::with_images(batching(), limits(), images(Some("MY_SECURE_KEY")));
    let signed = "300x200/smart/chelsea.png";
    let signature = thumbor::sign(b"MY_SECURE_KEY", signed);
    let (status, kind, _) = get_bytes(&server.url(&format!("/{signature}/{signed}")));
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    for (path, text) in [
        (format!("/unsafe/{signed}"), "unsafe URLs are refused"),
        (
            format!("/{signature}/300x201/smart/chelsea.png"),
            "does not match",
        ),
    ] {
        let (got, answer) = get(&server.url(&path));
        assert!(
            got == 403 && answer.contains(text),
            "{path}: {got} {answer}"
        );
    }
    // Without a key, a signed URL is refused and /unsafe/ is served; without a root, nothing is.
    let open = Server::with_images(batching(), limits(), images(None));
    let (got, answer) = get(&open.url(&format!("/{signature}/{signed}")));
    assert!(got == 403 && answer.contains("no security key"), "{answer}");
    let closed = Server::start(batching(), limits());
    let (got, answer) = get(&closed.url(&format!("/unsafe/{signed}")));
    assert!(got == 404 && answer.contains("--image-root"), "{answer}");
}

/// An image host on loopback, a real HTTP/1.1 server on its own thread: `/chelsea.png` the
/// sample photo, `/large.png` more bytes than the service takes, `/slow.png` no answer for 5 s,
/// `/moved.png` a redirect, anything else 404.
fn image_host() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let photo = std::fs::read(repo().join("samples/chelsea.png")).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (Ok(mut stream), photo) = (stream, photo.clone()) else {
                continue;
            };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let n = stream.read(&mut request).unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).to_string();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, extra, body) = match path.as_str() {
                    "/chelsea.png" => ("200 OK", String::new(), photo),
                    "/large.png" => ("200 OK", String::new(), vec![0u8; 3 << 20]),
                    "/slow.png" => {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        ("200 OK", String::new(), photo)
                    }
                    "/moved.png" => (
                        "302 Found",
                        "Location: /chelsea.png\r\n".to_string(),
                        Vec::new(),
                    ),
                    _ => ("404 Not Found", String::new(), Vec::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            });
        }
    });
    address
}

#[test]
fn remote_images_come_only_from_allowed_hosts_at_public_addresses() {
    let host = image_host();
    let remote = |hosts: &[&str], private_addresses| absnet_serve::Images {
        remote: absnet_serve::Remote::new(
            hosts.iter().map(|h| h.parse().unwrap()).collect(),
            private_addresses,
            std::time::Duration::from_secs(2),
        ),
        ..images(None)
    };
    let small = absnet_serve::Limits {
        max_body_bytes: 2 << 20,
        ..limits()
    };
    let photo = |name: &str| format!("/unsafe/meta/120x200/smart/http://{host}/{name}");

    // Allowed, on an address the operator opened: the remote photo crops as the local file does.
    let open = Server::with_images(batching(), small, remote(&["127.0.0.1"], true));
    let (status, remote_meta) = get(&open.url(&photo("chelsea.png")));
    assert_eq!(status, 200, "{remote_meta}");
    let (_, local_meta) = get(&open.url("/unsafe/meta/120x200/smart/chelsea.png"));
    let operations =
        |text: &str| serde_json::from_str::<Value>(text).unwrap()["thumbor"]["operations"].clone();
    assert_eq!(operations(&remote_meta), operations(&local_meta));
    // Percent-encoded, as thumbor's clients write it, and as an image.
    let encoded = format!("/unsafe/300x200/smart/http%3A%2F%2F{host}%2Fchelsea.png");
    let (status, kind, _) = get_bytes(&open.url(&encoded));
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    for (name, status, text) in [
        ("large.png", 413, "over the limit of 2097152 bytes"),
        ("slow.png", 504, "no answer within 2 s"),
        ("moved.png", 502, "redirects are not followed"),
        ("missing.png", 502, "answered 404"),
    ] {
        let (got, answer) = get(&open.url(&photo(name)));
        assert!(
            got == status && answer.contains(text),
            "{name}: {got} {answer}"
        );
    }

    // By default a loopback (or private) address is refused, even for an allowed name.
    let guarded = Server::with_images(
        batching(),
        small,
        remote(&["127.0.0.1", "localhost"], false),
    );
    for url in [
        photo("chelsea.png"),
        photo("chelsea.png").replace("127.0.0.1", "localhost"),
    ] {
        let (got, answer) = get(&guarded.url(&url));
        assert!(
            got == 403 && answer.contains("only public addresses are fetched"),
            "{url}: {got} {answer}"
        );
    }
    // A host not listed, and a service that lists none.
    let (got, answer) = get(&guarded.url(&photo("chelsea.png").replace("127.0.0.1", "[::1]")));
    assert!(
        got == 403 && answer.contains("not among the hosts"),
        "{got} {answer}"
    );
    let closed = Server::with_images(batching(), small, images(None));
    let (got, answer) = get(&closed.url(&photo("chelsea.png")));
    assert!(
        got == 400 && answer.contains("--allow-remote"),
        "{got} {answer}"
    );
}
