//! `GET /metrics` in the Prometheus text format: requests by route and status, latency per
//! route, queue depth, batch sizes, images predicted and the images per second of the last ten
//! seconds.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

const RATE_WINDOW: Duration = Duration::from_secs(10);

pub struct Metrics {
    registry: Registry,
    requests: Family<Request, Counter>,
    latency: Family<Route, Histogram>,
    queue_depth: Gauge,
    batch_sizes: Histogram,
    images: Counter,
    images_per_second: Gauge<f64, std::sync::atomic::AtomicU64>,
    recent: Mutex<VecDeque<(Instant, usize)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Request, Counter>::default();
        let latency = Family::<Route, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        let queue_depth = Gauge::default();
        let batch_sizes = Histogram::new([1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0]);
        let images = Counter::default();
        let images_per_second = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "absnet_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "absnet_request_seconds",
            "Request latency by route",
            latency.clone(),
        );
        registry.register(
            "absnet_queue_depth",
            "Images waiting for a forward pass",
            queue_depth.clone(),
        );
        registry.register(
            "absnet_batch_size",
            "Images per forward pass",
            batch_sizes.clone(),
        );
        registry.register("absnet_images", "Images predicted", images.clone());
        registry.register(
            "absnet_images_per_second",
            "Images predicted per second over the last 10 s",
            images_per_second.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            queue_depth,
            batch_sizes,
            images,
            images_per_second,
            recent: Mutex::new(VecDeque::new()),
        }
    }
}

impl Metrics {
    /// One answered request.
    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&Request {
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&Route {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// One forward pass of `size` images.
    pub fn batch(&self, size: usize) {
        self.batch_sizes.observe(size as f64);
        self.images.inc_by(size as u64);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.push_back((Instant::now(), size));
    }

    /// The text exposition, with the queue depth as it is now.
    pub fn encode(&self, queue_depth: usize) -> String {
        self.queue_depth.set(queue_depth as i64);
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        while recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW)
        {
            recent.pop_front();
        }
        let images: usize = recent.iter().map(|(_, n)| n).sum();
        self.images_per_second
            .set(images as f64 / RATE_WINDOW.as_secs_f64());
        drop(recent);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a string");
        text
    }
}
