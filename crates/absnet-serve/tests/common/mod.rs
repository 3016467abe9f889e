#![allow(dead_code)] // Each test binary uses a part of these helpers.
//! A service on a loopback port for the tests, and a small HTTP client.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use absnet_predict::{ModelChoice, Predictor, PredictorOptions};
use absnet_serve::{Batching, Limits, Service};
use burn::tensor::Device;

pub fn repo() -> PathBuf {
    absnet_testkit::repo()
}

pub fn predictor() -> Predictor {
    Predictor::load(
        &ModelChoice::default(),
        &PredictorOptions::default(),
        &Device::flex(),
    )
    .unwrap()
}

pub fn batching() -> Batching {
    Batching {
        max_batch: 8,
        max_wait: Duration::from_millis(20),
        queue: 32,
    }
}

pub fn limits() -> Limits {
    Limits {
        max_body_bytes: 20 << 20,
        max_pixels: 25_000_000,
        timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

/// How long a test server's shutdown waits for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(2);

/// A running service; dropping `stop` (or sending on it) shuts it down gracefully.
pub struct Server {
    pub addr: SocketAddr,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub fn start(batching: Batching, limits: Limits) -> Self {
        Self::with_images(batching, limits, absnet_serve::Images::default())
    }

    /// A service that reads thumbor-style URLs' images as `images` says.
    pub fn with_images(batching: Batching, limits: Limits, images: absnet_serve::Images) -> Self {
        Self::serving(predictor(), batching, limits, images)
    }

    /// A service of `predictor`.
    pub fn serving(
        predictor: Predictor,
        batching: Batching,
        limits: Limits,
        images: absnet_serve::Images,
    ) -> Self {
        let service: Arc<Service> = Service::with_images(predictor, batching, limits, images);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let stop = async {
                let _ = stopped.await;
            };
            runtime.block_on(absnet_serve::run(listener, service, stop, DRAIN))
        });
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts down and waits for the server to finish.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Status, headers' `Retry-After`, content type and body of a POST of `body` to `url`.
pub fn post(url: &str, body: &[u8]) -> (u16, Option<String>, String, Vec<u8>) {
    let mut response = agent()
        .post(url)
        .send(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (retry, kind) = (
        header("retry-after"),
        header("content-type").unwrap_or_default(),
    );
    let body = response.body_mut().read_to_vec().unwrap();
    (response.status().as_u16(), retry, kind, body)
}

/// A connection on which the headers of a POST to `path` declaring `length` bytes are sent.
fn post_headers(server: &Server, path: &str, length: usize) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: image/jpeg\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .unwrap();
    stream
}

/// Status and text of the answer on `stream`.
fn answer(mut stream: std::net::TcpStream) -> (u16, String) {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    // The server closes the connection after answering; a reset after the answer is fine.
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// Status and body of the answer to a POST that declares `length` bytes and sends none of them.
pub fn post_head(server: &Server, path: &str, length: usize) -> (u16, String) {
    answer(post_headers(server, path, length))
}

/// Sends the headers and the first half of `body`, and says whether an answer arrived within
/// `pause`; then sends the rest and returns the status and text of the answer.
pub fn post_in_halves(
    server: &Server,
    path: &str,
    body: &[u8],
    pause: Duration,
) -> (bool, u16, String) {
    use std::io::{ErrorKind, Read, Write};
    let mut stream = post_headers(server, path, body.len());
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).unwrap();
    stream.set_read_timeout(Some(pause)).unwrap();
    let early = match stream.read(&mut [0; 1]) {
        Ok(n) => n > 0,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(_) => true,
    };
    stream.write_all(rest).unwrap();
    let (status, text) = answer(stream);
    (early, status, text)
}

/// `url`'s status, content type and body bytes.
pub fn get_bytes(url: &str) -> (u16, String, Vec<u8>) {
    let mut response = agent().get(url).call().unwrap();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let status = response.status().as_u16();
    (status, kind, response.body_mut().read_to_vec().unwrap())
}

pub fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap(),
    )
}
