//! `absnet serve`: the HTTP service and its web page.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use absnet_serve::{Batching, Limits, Service};
use anyhow::{Context, Result, bail};
use burn::tensor::Device;

use crate::args::{ModelInputArgs, QualityModelArgs, load_predictor};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; loopback by default (put a reverse proxy in front to expose it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Most images in one forward pass (1: no batching).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    max_batch: u16,
    /// Longest an image waits for others to join its batch, in milliseconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=1000))]
    max_wait_ms: u64,
    /// Most images waiting for a forward pass; more are answered 503.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    queue: u16,
    /// Largest request body in megabytes (413 above).
    #[arg(long, default_value_t = (Limits::default().max_body_bytes >> 20) as u16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    max_body_mb: u16,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, default_value_t = Limits::default().timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout_s: u64,
    /// Seconds a request's headers may take to arrive (also how long an idle keep-alive
    /// connection is kept open); the connection is then closed.
    #[arg(long, default_value_t = Limits::default().header_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_s: u64,
    /// Seconds a request's body may take to arrive (408 after).
    #[arg(long, default_value_t = Limits::default().body_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout_s: u64,
    /// Most connections open at once; one more is answered 503 at once and closed.
    #[arg(long, default_value_t = Limits::default().max_connections as u32, value_parser = clap::value_parser!(u32).range(1..=65536))]
    max_connections: u32,
    /// On SIGTERM or Ctrl-C, seconds that requests in flight get to finish before the
    /// connections still open are closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    drain_s: u64,
    /// Serve thumbor-style URLs (`GET /unsafe/300x200/smart/IMAGE`) for the images in this
    /// folder (and nowhere else).
    #[arg(long)]
    image_root: Option<PathBuf>,
    /// A file holding thumbor's security key: URLs must then carry its HMAC-SHA1 signature and
    /// `/unsafe/` is refused, so a public deployment is not an open resizer.
    #[arg(long, requires = "image_root")]
    security_key_file: Option<PathBuf>,
    /// Fetch thumbor URLs' remote images (`…/smart/https://HOST/photo.jpg`) from these hosts
    /// only (`images.example.com`, `*.example.com` for sub-domains, `host:port`); the name
    /// must resolve to public addresses only, redirects are not followed, the body is held to
    /// --max-body-mb and the fetch to --remote-timeout-s.
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "HOST")]
    allow_remote: Vec<absnet_serve::HostPattern>,
    /// Also fetch from private, loopback and link-local addresses (an image store on the
    /// service's own network). Never on a service the public can reach.
    #[arg(long, requires = "allow_remote")]
    allow_private_addresses: bool,
    /// The longest one remote fetch may take, in seconds.
    #[arg(long, default_value_t = absnet_serve::Remote::DEFAULT_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=300))]
    remote_timeout_s: u64,
    #[command(flatten)]
    model_input: ModelInputArgs,
    #[command(flatten)]
    quality: QualityModelArgs,
}

pub fn run(args: &ServeArgs, device: &Device) -> Result<()> {
    let predictor = load_predictor(
        &args.model_input,
        args.quality.quality_model.as_ref(),
        device,
    )?;
    let model = predictor.path().display().to_string();
    let batching = Batching {
        max_batch: usize::from(args.max_batch),
        max_wait: Duration::from_millis(args.max_wait_ms),
        queue: usize::from(args.queue),
    };
    let limits = Limits {
        max_body_bytes: usize::from(args.max_body_mb) * 1024 * 1024,
        max_pixels: args.model_input.max_pixels,
        timeout: Duration::from_secs(args.timeout_s),
        header_timeout: Duration::from_secs(args.header_timeout_s),
        body_timeout: Duration::from_secs(args.body_timeout_s),
        max_connections: args.max_connections as usize,
    };
    if let Some(root) = &args.image_root
        && !root.is_dir()
    {
        bail!("--image-root {}: not a folder", root.display());
    }
    let security_key = match &args.security_key_file {
        Some(path) => {
            let key = std::fs::read_to_string(path)
                .with_context(|| format!("--security-key-file {}", path.display()))?;
            let key = key.trim_end_matches(['\r', '\n']).to_string();
            if key.is_empty() {
                bail!("--security-key-file {}: the file is empty", path.display());
            }
            Some(key)
        }
        None => None,
    };
    let images = absnet_serve::Images {
        root: args.image_root.clone(),
        security_key,
        remote: absnet_serve::Remote::new(
            args.allow_remote.clone(),
            args.allow_private_addresses,
            Duration::from_secs(args.remote_timeout_s),
        ),
    };
    let service = Service::with_images(predictor, batching, limits, images);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        println!(
            "absnet serve: http://{} (model {}; Ctrl-C or SIGTERM to stop)",
            listener.local_addr()?,
            model
        );
        let drain = Duration::from_secs(args.drain_s);
        absnet_serve::run(listener, service, absnet_serve::termination(), drain)
            .await
            .context("serving")
    })?;
    println!("absnet serve: stopped; requests in flight were answered");
    Ok(())
}
