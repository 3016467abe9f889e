//! `absnet-bench serve`: clients on loopback against `absnet serve` run in this process —
//! sequential single-image requests (the baseline), N concurrent clients with batching on and
//! off, and an overload run (a small queue and many clients: fast 503s, then recovery) —
//! printing requests/s, latency percentiles, errors, batch sizes and peak memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use absnet_predict::{ModelChoice, Predictor, PredictorOptions};
use absnet_serve::{Batching, Limits, Service};
use anyhow::{Context, Result};
use burn::tensor::Device;

#[derive(clap::Args)]
pub struct ServeBenchArgs {
    /// The model: `fast`, `accurate` (built in) or a model file.
    #[arg(long, default_value = "fast")]
    model: ModelChoice,
    /// The image every request sends.
    #[arg(long, default_value = "../shared/data/osie/data/stimuli/1001.jpg")]
    image: PathBuf,
    /// Concurrent clients (1–64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    clients: u16,
    /// Seconds each run lasts (1–600).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
}

/// What one run measured.
struct Run {
    answered: usize,
    refused: usize,
    errors: usize,
    seconds: f64,
    /// Latencies of answered requests, sorted, in ms.
    latencies: Vec<f64>,
    refused_latencies: Vec<f64>,
    /// Whether a request after the run was answered.
    recovered: bool,
}

impl Run {
    /// Counts and sorted latencies from each request's (status, ms); 0 is a failed request.
    fn from_outcomes(outcomes: &[(u16, f64)], seconds: f64, recovered: bool) -> Self {
        let mut latencies: Vec<f64> = outcomes
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, l)| *l)
            .collect();
        let mut refused_latencies: Vec<f64> = outcomes
            .iter()
            .filter(|(s, _)| *s == 503)
            .map(|(_, l)| *l)
            .collect();
        latencies.sort_by(f64::total_cmp);
        refused_latencies.sort_by(f64::total_cmp);
        Run {
            answered: latencies.len(),
            recovered,
            refused: refused_latencies.len(),
            errors: outcomes
                .iter()
                .filter(|(s, _)| *s != 200 && *s != 503)
                .count(),
            seconds,
            latencies,
            refused_latencies,
        }
    }

    fn percentile(values: &[f64], p: f64) -> f64 {
        values
            .get(((values.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn print(&self, label: &str, batches: &str) {
        println!(
            "| {label} | {:.2} | {:.0} | {:.0} | {:.0} | {} | {} | {batches} |",
            self.answered as f64 / self.seconds,
            Self::percentile(&self.latencies, 0.5),
            Self::percentile(&self.latencies, 0.95),
            Self::percentile(&self.latencies, 0.99),
            self.errors,
            self.refused,
        );
    }
}

pub fn run(args: &ServeBenchArgs, device: &Device) -> Result<()> {
    let body = Arc::new(
        std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?,
    );
    let clients = usize::from(args.clients);
    let seconds = Duration::from_secs(args.seconds);
    let limits = Limits {
        max_body_bytes: 20 << 20,
        max_pixels: 25_000_000,
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let batched = Batching {
        max_batch: 8,
        max_wait: Duration::from_millis(10),
        queue: 64,
    };
    let single = Batching {
        max_batch: 1,
        ..batched
    };
    let overloaded = Batching {
        max_batch: 8,
        max_wait: Duration::from_millis(10),
        queue: 4,
    };
    println!(
        "absnet serve on loopback, {} ({} bytes) per request, {}; {} threads",
        args.image.display(),
        body.len(),
        args.model,
        rayon::current_num_threads()
    );
    println!("| run | requests/s | p50 ms | p95 ms | p99 ms | errors | 503 | batch sizes |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for (label, batching, clients) in [
        ("1 client, sequential".to_string(), single, 1),
        (format!("{clients} clients, batching off"), single, clients),
        (format!("{clients} clients, batching on"), batched, clients),
        (
            format!("{} clients, queue of 4 (overload)", clients * 4),
            overloaded,
            clients * 4,
        ),
    ] {
        let predictor = Predictor::load(&args.model, &PredictorOptions::default(), device)?;
        let (run, batches) = against(
            Service::new(predictor, batching, limits),
            &body,
            clients,
            seconds,
        )?;
        run.print(&label, &batches);
        results.push(run);
    }
    summarise(&results, clients);
    Ok(())
}

/// The ratios the goals are stated in, the overload run's refusals and the peak memory.
fn summarise(results: &[Run], clients: usize) {
    let (sequential, batched) = (&results[0], &results[2]);
    let overload = &results[3];
    let throughput = |run: &Run| run.answered as f64 / run.seconds;
    let (p50, p99) = (
        Run::percentile(&batched.latencies, 0.5),
        Run::percentile(&batched.latencies, 0.99),
    );
    let single_p50 = Run::percentile(&sequential.latencies, 0.5);
    println!(
        "\nbatching on, {clients} clients: {:.2}× the throughput of sequential single images; p99 {p99:.0} ms = {:.1}× the single-image p50 ({single_p50:.0} ms), {:.2}× the run's own p50 ({p50:.0} ms); queueing alone (Little's law, {clients} / throughput) predicts a p50 of {:.0} ms",
        throughput(batched) / throughput(sequential),
        p99 / single_p50,
        p99 / p50,
        clients as f64 / throughput(batched) * 1000.0,
    );
    println!(
        "overload: {} of {} requests refused with 503 (p50 {:.1} ms, p99 {:.1} ms); a request after the run {}",
        overload.refused,
        overload.refused + overload.answered,
        Run::percentile(&overload.refused_latencies, 0.5),
        Run::percentile(&overload.refused_latencies, 0.99),
        if overload.recovered {
            "was answered (recovered)"
        } else {
            "failed"
        },
    );
    println!(
        "peak resident memory of this process (server and clients): {}",
        super::peak_rss_mb().map_or("-".into(), |m| format!("{m:.0} MB"))
    );
}

/// `clients` threads posting `body` for `seconds` against a server of `service`; then one more
/// request (the recovery) and the batch sizes from `/metrics`.
fn against(
    service: Arc<Service>,
    body: &Arc<Vec<u8>>,
    clients: usize,
    seconds: Duration,
) -> Result<(Run, String)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let stop = async {
            let _ = stopped.await;
        };
        runtime.block_on(absnet_serve::run(
            listener,
            service,
            stop,
            std::time::Duration::from_secs(5),
        ))
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |agent: &ureq::Agent| {
        let start = Instant::now();
        let status = agent
            .post(format!("{url}/v1/saliency"))
            .send(body.as_slice())
            .map(|mut r| {
                let _ = r.body_mut().read_to_vec();
                r.status().as_u16()
            });
        (status.unwrap_or(0), start.elapsed().as_secs_f64() * 1e3)
    };
    let start = Instant::now();
    let outcomes: Vec<(u16, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let mut outcomes = Vec::new();
                    while start.elapsed() < seconds {
                        let outcome = post(&agent);
                        outcomes.push(outcome);
                        // A well-behaved client waits as `Retry-After: 1` asks.
                        if outcome.0 == 503 {
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                    outcomes
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let recovered = post(&agent).0 == 200;
    let metrics = agent
        .get(format!("{url}/metrics"))
        .call()
        .map(|mut r| r.body_mut().read_to_string().unwrap_or_default())
        .unwrap_or_default();
    let _ = stop.send(());
    server.join().expect("server thread")?;
    let run = Run::from_outcomes(&outcomes, elapsed, recovered);
    Ok((run, batch_sizes(&metrics)))
}

/// Forward passes by batch size, from the `absnet_batch_size` histogram's cumulative buckets.
fn batch_sizes(metrics: &str) -> String {
    let buckets: Vec<(String, f64)> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("absnet_batch_size_bucket{le=\""))
        .filter_map(|l| {
            let (le, count) = l.split_once("\"} ")?;
            Some((le.to_string(), count.parse().ok()?))
        })
        .collect();
    let mut previous = 0.0;
    let mut parts = Vec::new();
    for (le, count) in buckets {
        if count > previous {
            parts.push(format!(
                "≤{}: {}",
                le.trim_end_matches(".0"),
                count - previous
            ));
        }
        previous = count;
    }
    parts.join(", ")
}
