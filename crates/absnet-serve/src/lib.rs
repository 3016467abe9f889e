//! `absnet serve`: saliency and crops over HTTP, and a web page, from one binary.
//!
//! - `POST /v1/saliency` (body: image bytes) — JSON with the size, peaks, aesthetics (when the
//!   model has a trained head), model and milliseconds; `?format=png` the grayscale map at the
//!   image's size, `?format=overlay` the heatmap JPEG (`colormap`, `opacity`).
//! - `POST /v1/crop?aspects=1:1,16:9&scale=0.6` — the windows `absnet crop` chooses.
//! - `GET /healthz`, `GET /metrics` (Prometheus text), `GET /` (the page).
//! - `GET /unsafe/300x200/smart/IMAGE` and thumbor's other URLs ([`thumbor`]): `IMAGE` read from
//!   the image root (or fetched from an allowed host, [`remote`]), cropped around what people
//!   look at and resized; `/unsafe/meta/…` the operations and focal points as JSON; signed URLs
//!   with a security key.
//!
//! Requests are gathered into batched forward passes ([`batcher`]). Limits ([`Limits`]): open
//! connections (503 past the cap), the time headers (connection closed) and the body (408) may
//! take to arrive, the body size (413), the pixel limit and undecodable bodies (400), a body
//! that is not an image in a known format, whatever its `Content-Type` (415), a bounded queue
//! (503 with `Retry-After`), a per-request timeout (503). Predictions equal
//! `absnet predict`'s: the same [`Predictor`] and the same records.

pub mod batcher;
mod handlers;
mod metrics;
pub mod remote;
pub mod thumbor;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use absnet_predict::Predictor;
use axum::Router;
use axum::routing::{get, post};

pub use batcher::{Batcher, Batching};
pub use metrics::Metrics;
pub use remote::{HostPattern, Remote};

/// What a request may ask of the service.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest image accepted, in pixels.
    pub max_pixels: u64,
    /// Longest a request may take before it is answered 503.
    pub timeout: Duration,
    /// Longest a request's headers may take to arrive (and an idle keep-alive connection is
    /// kept); the connection is then closed.
    pub header_timeout: Duration,
    /// Longest a request's body may take to arrive (408 after).
    pub body_timeout: Duration,
    /// Most connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
}

impl Default for Limits {
    /// What `absnet serve` uses unless told otherwise.
    fn default() -> Self {
        Self {
            max_body_bytes: 20 * 1024 * 1024,
            max_pixels: absnet_data::pipeline::DEFAULT_MAX_PIXELS,
            timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Where thumbor-style URLs read images from, and how they must be signed.
#[derive(Clone, Debug, Default)]
pub struct Images {
    /// The folder `GET /unsafe/…/IMAGE` reads `IMAGE` from; `None`: no image is read by URL.
    pub root: Option<PathBuf>,
    /// thumbor's security key: with it, URLs must carry its signature and `/unsafe/` is refused.
    pub security_key: Option<String>,
    /// Which remote images (`…/smart/https://HOST/IMAGE`) are fetched: none by default.
    pub remote: Remote,
}

/// The running service's state, shared by every request.
pub struct Service {
    batcher: Batcher,
    metrics: Arc<Metrics>,
    limits: Limits,
    model: String,
    /// The model that scores quality, when it is not `model` (`--quality-model`).
    quality_model: Option<String>,
    images: Images,
}

impl Service {
    /// Starts the batch worker for `predictor`; no image is read by URL.
    pub fn new(predictor: Predictor, batching: Batching, limits: Limits) -> Arc<Self> {
        Self::with_images(predictor, batching, limits, Images::default())
    }

    /// [`Service::new`], reading thumbor-style URLs' images as `images` says.
    pub fn with_images(
        predictor: Predictor,
        batching: Batching,
        limits: Limits,
        images: Images,
    ) -> Arc<Self> {
        let metrics = Arc::new(Metrics::default());
        let model = predictor.path().display().to_string();
        let quality_model = predictor
            .quality_model()
            .map(|path| path.display().to_string());
        let batcher = Batcher::start(predictor, batching, Arc::clone(&metrics));
        Arc::new(Self {
            batcher,
            metrics,
            limits,
            model,
            quality_model,
            images,
        })
    }
}

/// Every route of the service.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(handlers::page))
        .route("/healthz", get(handlers::healthz))
        .route("/metrics", get(handlers::metrics))
        .route("/v1/saliency", post(handlers::saliency))
        .route("/v1/crop", post(handlers::crop))
        .route("/{*path}", get(handlers::thumbor))
        .with_state(service)
}

/// Serves on `listener` until `shutdown` completes; new connections are then refused and
/// requests in flight get up to `drain` to finish, after which the connections still open (a
/// stuck or slow client) are closed.
///
/// Each connection is HTTP/1.1 under the service's [`Limits`]: its request headers must arrive
/// within `header_timeout` (also how long an idle keep-alive connection is kept), at most
/// `max_connections` are open at once — one more is answered 503 and closed at once — and a
/// client that half-closes after a complete request still gets its answer.
pub async fn run(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let limits = service.limits;
    let app = router(service);
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .half_close(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                // Out of descriptors or a connection reset before it was accepted: the listener
                // is fine; wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(app.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out ends only its own connection.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {}
    }
    Ok(())
}

/// The answer to a connection over the cap: 503 with `Retry-After`, then closed.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = "too many open connections; try again shortly\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn termination() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
