//! The routes: each parses its request, calls the libraries, and answers; errors are JSON
//! `{"error": "…"}` with the status that says who must act.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use absnet_predict::crop::{self, Aspect, CropOptions};
use absnet_predict::render::{self, Colormap, Peak};
use absnet_predict::{Aesthetics, Prediction, Quality, Record};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use image::RgbImage;
use image::imageops;
use serde::{Deserialize, Serialize};

use crate::remote::{Remote, RemoteError};
use crate::{Service, thumbor};

/// An answer other than success.
struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Runs `handler`, records its status and latency for `route`, and answers.
async fn timed(
    service: &Service,
    route: &str,
    handler: impl Future<Output = Result<Response, Failure>>,
) -> Response {
    let start = Instant::now();
    let response = handler.await.unwrap_or_else(IntoResponse::into_response);
    service.metrics.request(
        route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

pub async fn page(State(service): State<Arc<Service>>) -> Response {
    timed(&service, "/", async {
        Ok(Html(include_str!("../assets/page.html")).into_response())
    })
    .await
}

pub async fn healthz(State(service): State<Arc<Service>>) -> Response {
    timed(&service, "/healthz", async { Ok("ok\n".into_response()) }).await
}

pub async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let text = service.metrics.encode(service.batcher.waiting());
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    timed(&service, "/metrics", async {
        Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
    })
    .await
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    #[default]
    Json,
    Png,
    Overlay,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaliencyQuery {
    #[serde(default)]
    format: Format,
    colormap: Option<String>,
    opacity: Option<f32>,
    top_k: Option<usize>,
    /// `1` (or `true`): add the focal point to the JSON answer.
    focal: Option<String>,
}

/// What `POST /v1/saliency` answers in JSON.
#[derive(Serialize)]
struct SaliencyAnswer {
    width: u32,
    height: u32,
    model: String,
    peaks: Vec<Peak>,
    aesthetics: Option<Aesthetics>,
    /// Absent when the model has no trained quality head.
    #[serde(skip_serializing_if = "Option::is_none")]
    quality: Option<Quality>,
    /// The model whose quality head scored `quality`, when it is not `model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    quality_model: Option<String>,
    /// With `?focal=1`: where crops of any aspect should be centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    focal_point: Option<crop::FocalPoint>,
    /// Milliseconds from the body's arrival to the answer.
    ms: f64,
}

pub async fn saliency(
    State(service): State<Arc<Service>>,
    query: Result<Query<SaliencyQuery>, QueryRejection>,
    request: Request,
) -> Response {
    let handler = async {
        let body = body(&service, request).await?;
        let start = Instant::now();
        let Query(query) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, format!("{e}: expected format=json|png|overlay, colormap=jet|hot|gray, opacity in [0, 1], top_k ≤ 100")))?;
        let focal = match query.focal.as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    format!("focal={other}: expected 1 or 0"),
                ));
            }
        };
        let (photo, prediction) = predicted(&service, body).await?;
        match query.format {
            Format::Json => {
                let top_k = query.top_k.unwrap_or(5);
                if top_k > 100 {
                    return Err(Failure::new(
                        StatusCode::BAD_REQUEST,
                        format!("top_k = {top_k}: at most 100"),
                    ));
                }
                let record = Record::new("request", &service.model, &prediction, top_k);
                let answer = SaliencyAnswer {
                    width: record.width,
                    height: record.height,
                    model: service.model.clone(),
                    peaks: record.peaks,
                    aesthetics: record.aesthetics,
                    quality: record.quality,
                    quality_model: service.quality_model.clone(),
                    focal_point: focal.then(|| crop::focal_point(&prediction.saliency)),
                    ms: start.elapsed().as_secs_f64() * 1e3,
                };
                Ok(Json(answer).into_response())
            }
            Format::Png => {
                encoded(
                    move || render::gray8(&prediction.display_map()).into(),
                    image::ImageFormat::Png,
                    None,
                    "image/png",
                )
                .await
            }
            Format::Overlay => {
                let colormap: Colormap = query
                    .colormap
                    .as_deref()
                    .unwrap_or("jet")
                    .parse()
                    .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, format!("colormap: {e}")))?;
                let opacity = query.opacity.unwrap_or(0.5);
                if !(0.0..=1.0).contains(&opacity) {
                    return Err(Failure::new(
                        StatusCode::BAD_REQUEST,
                        format!("opacity = {opacity}: expected 0–1"),
                    ));
                }
                encoded(
                    move || {
                        render::overlay(&photo, &prediction.display_map(), colormap, opacity).into()
                    },
                    image::ImageFormat::Jpeg,
                    None,
                    "image/jpeg",
                )
                .await
            }
        }
    };
    timed(&service, "/v1/saliency", handler).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CropQuery {
    aspects: Option<String>,
    scale: Option<f64>,
    /// `absnet` (the default) or `smartcrop`: smartcrop.js's answer shape.
    format: Option<String>,
}

#[derive(Serialize)]
struct CropAnswer {
    width: u32,
    height: u32,
    model: String,
    crops: Vec<CropWindow>,
    ms: f64,
}

#[derive(Serialize)]
struct CropWindow {
    aspect: String,
    #[serde(flatten)]
    window: crop::ScoredWindow,
}

pub async fn crop(
    State(service): State<Arc<Service>>,
    query: Result<Query<CropQuery>, QueryRejection>,
    request: Request,
) -> Response {
    let handler = async {
        let body = body(&service, request).await?;
        let start = Instant::now();
        let Query(query) = query.map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("{e}: expected aspects=W:H,… and scale in (0, 1]"),
            )
        })?;
        let bad = |e: crop::CropError| Failure::new(StatusCode::BAD_REQUEST, e.to_string());
        let aspects: Vec<Aspect> = query
            .aspects
            .as_deref()
            .unwrap_or("1:1,16:9,9:16")
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(bad)?;
        crop::distinct_aspects(&aspects).map_err(bad)?;
        let scale = query.scale.unwrap_or(1.0);
        if !(scale > 0.0 && scale <= 1.0) {
            return Err(bad(crop::CropError::Scale(scale)));
        }
        let smartcrop = match query.format.as_deref() {
            None | Some("absnet") => false,
            Some("smartcrop") => true,
            Some(other) => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    format!("format={other}: expected absnet or smartcrop"),
                ));
            }
        };
        let (_, prediction) = predicted(&service, body).await?;
        let windows = crop::crop(
            &prediction.saliency,
            &aspects,
            scale,
            &CropOptions::default(),
        )
        .map_err(bad)?;
        if smartcrop {
            let result = crop::SmartcropResult::new(&windows).expect("one window per aspect");
            return Ok(Json(result).into_response());
        }
        let crops = aspects
            .iter()
            .zip(windows)
            .map(|(a, window)| CropWindow {
                aspect: a.to_string(),
                window,
            })
            .collect();
        let answer = CropAnswer {
            width: prediction.width(),
            height: prediction.height(),
            model: service.model.clone(),
            crops,
            ms: start.elapsed().as_secs_f64() * 1e3,
        };
        Ok(Json(answer).into_response())
    };
    timed(&service, "/v1/crop", handler).await
}

/// The request's body, read whole within the limit and the body deadline before anything else
/// is checked: an answer sent while the client is still sending would reach it as a broken pipe
/// instead of an answer. A body declared over the limit is answered 413 at once and then read
/// and thrown away in the background (up to [`DISCARD_BYTES`], while it keeps arriving within
/// [`LINGER_IDLE`], within the body deadline), as a lingering close does, so that a client that
/// sends everything before it reads gets the 413 too. A body that ends before its declared
/// length is a 400; one that does not arrive in time a 408.
async fn body(service: &Service, request: Request) -> Result<Bytes, Failure> {
    use http_body_util::BodyExt;
    let limit = service.limits.max_body_bytes;
    let deadline = service.limits.body_timeout;
    let too_large = || {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the limit of {limit} bytes"),
        )
    };
    let too_slow = || {
        Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s",
                deadline.as_secs_f64()
            ),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let mut body = request.into_body();
        tokio::spawn(tokio::time::timeout(deadline, async move {
            let mut read = 0;
            while read < DISCARD_BYTES {
                match tokio::time::timeout(LINGER_IDLE, body.frame()).await {
                    Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
        }));
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(request.into_body(), limit);
    match tokio::time::timeout(deadline, limited.collect()).await {
        Err(_) => Err(too_slow()),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("the body could not be read whole: {e}"),
        )),
    }
}

/// Most bytes of a body over the limit read and thrown away after its 413.
const DISCARD_BYTES: usize = 64 * 1024 * 1024;

/// Longest pause in a body over the limit before the rest is no longer waited for.
const LINGER_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// The image in `bytes`, decoded within the limits, and its prediction from the batcher.
async fn predicted(
    service: &Service,
    bytes: Bytes,
) -> Result<(Arc<RgbImage>, Arc<Prediction>), Failure> {
    let photo = decoded(service, bytes).await?;
    let prediction = prediction(service, Arc::clone(&photo)).await?;
    Ok((photo, prediction))
}

/// The image in `bytes`, decoded within the limits off the async threads.
async fn decoded(service: &Service, bytes: Bytes) -> Result<Arc<RgbImage>, Failure> {
    if bytes.is_empty() {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "the body is empty: send the image's bytes",
        ));
    }
    if image::guess_format(&bytes).is_err() {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is not an image in a known format (JPEG, PNG, WebP, GIF, BMP, TIFF)",
        ));
    }
    let max_pixels = service.limits.max_pixels;
    let photo = tokio::task::spawn_blocking(move || {
        absnet_data::pipeline::decode_bytes(&bytes, Path::new("the image"), max_pixels)
    })
    .await
    .map_err(|e| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("decoding stopped: {e}"),
        )
    })?
    .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Arc::new(photo))
}

/// `photo`'s prediction from the batcher, within the request's time.
async fn prediction(service: &Service, photo: Arc<RgbImage>) -> Result<Arc<Prediction>, Failure> {
    let answer = service
        .batcher
        .submit(Arc::clone(&photo))
        .map_err(|e| Failure::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let timeout = service.limits.timeout;
    match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(prediction)) => Ok(prediction),
        Ok(Err(_)) => Err(Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the model stopped",
        )),
        Err(_) => Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "no answer within {} s; retry shortly",
                timeout.as_secs_f64()
            ),
        )),
    }
}

/// An image made and encoded off the async threads (a JPEG at `jpeg_quality` when given, the
/// encoder's default otherwise).
async fn encoded(
    make: impl FnOnce() -> image::DynamicImage + Send + 'static,
    format: image::ImageFormat,
    jpeg_quality: Option<u8>,
    content_type: &'static str,
) -> Result<Response, Failure> {
    let bytes = tokio::task::spawn_blocking(move || {
        let mut bytes = std::io::Cursor::new(Vec::new());
        let picture = make();
        match (format, jpeg_quality) {
            (image::ImageFormat::Jpeg, Some(quality)) => picture.write_with_encoder(
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality),
            ),
            _ => picture.write_to(&mut bytes, format),
        }
        .map(|()| bytes.into_inner())
    })
    .await
    .map_err(|e| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding stopped: {e}"),
        )
    })?
    .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding: {e}")))?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

/// `GET /unsafe/…` and `GET /SIGNATURE/…`: thumbor's URLs ([`crate::thumbor`]).
pub async fn thumbor(State(service): State<Arc<Service>>, uri: axum::http::Uri) -> Response {
    let handler = async {
        let raw = uri.path().trim_start_matches('/');
        let url = thumbor::parse(raw).map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e))?;
        authorise(&service, &url)?;
        let bytes = image_bytes(&service, &url.image).await?;
        let photo = decoded(&service, bytes).await?;
        let [w, h] = [photo.width(), photo.height()];
        // A crop is cut when both sides are asked for and the picture is not fitted in; the
        // model runs once, when a smart crop or the meta answer needs it.
        let cropping = !url.fit_in && url.width > 0 && url.height > 0;
        let prediction = if url.meta || (url.smart && cropping) {
            Some(prediction(&service, Arc::clone(&photo)).await?)
        } else {
            None
        };
        let window = match (url.width, url.height) {
            (tw, th) if cropping => {
                let aspect = Aspect::of_size([tw, th]);
                let size = crop::window_size([w, h], aspect, 1.0)
                    .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.to_string()))?;
                Some(
                    if let Some(prediction) = prediction.as_ref().filter(|_| url.smart) {
                        crop::crop(
                            &prediction.saliency,
                            &[aspect],
                            1.0,
                            &CropOptions::default(),
                        )
                        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.to_string()))?[0]
                            .window
                    } else {
                        crop::Window {
                            x: url.halign.offset(w, size[0]),
                            y: url.valign.offset(h, size[1]),
                            width: size[0],
                            height: size[1],
                        }
                    },
                )
            }
            _ => None,
        };
        let cropped = window.map_or([w, h], |c| [c.width, c.height]);
        let [tw, th] = thumbor::target(&url, cropped);
        if u64::from(tw) * u64::from(th) > service.limits.max_pixels {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "{tw}×{th} is over the pixel limit of {}",
                    service.limits.max_pixels
                ),
            ));
        }
        if let (true, Some(prediction)) = (url.meta, &prediction) {
            return Ok(Json(meta(&url, [w, h], window, [tw, th], prediction)).into_response());
        }
        let format = url.format.unwrap_or(image::ImageFormat::Jpeg);
        // The formats' own limits on a side (JPEG's 16-bit sizes, WebP's 14-bit ones).
        let max_side = match format {
            image::ImageFormat::Jpeg => Some(65_535),
            image::ImageFormat::WebP => Some(16_383),
            _ => None,
        };
        if let Some(max_side) = max_side.filter(|&m| tw.max(th) > m) {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                format!("{tw}×{th}: a {format:?} image is at most {max_side} pixels a side"),
            ));
        }
        let content_type = match format {
            image::ImageFormat::Png => "image/png",
            image::ImageFormat::WebP => "image/webp",
            _ => "image/jpeg",
        };
        let region = window.unwrap_or(crop::Window {
            x: 0,
            y: 0,
            width: w,
            height: h,
        });
        let make = move || {
            let part = imageops::crop_imm(&*photo, region.x, region.y, region.width, region.height)
                .to_image();
            imageops::resize(&part, tw, th, imageops::FilterType::Lanczos3).into()
        };
        encoded(make, format, Some(url.quality.unwrap_or(80)), content_type).await
    };
    timed(&service, "/unsafe", handler).await
}

/// Refuses a URL the service's security settings do not allow.
fn authorise(service: &Service, url: &thumbor::Url) -> Result<(), Failure> {
    let forbidden = |message: &str| Err(Failure::new(StatusCode::FORBIDDEN, message));
    match (&service.images.security_key, &url.signature) {
        (None, None) => Ok(()),
        (Some(key), Some(signature)) => {
            if thumbor::verify(key.as_bytes(), &url.signed, signature) {
                Ok(())
            } else {
                forbidden("the URL's signature does not match its path under the security key")
            }
        }
        (Some(_), None) => {
            forbidden("unsafe URLs are refused: this service takes URLs signed with its key")
        }
        (None, Some(_)) => {
            forbidden("a signed URL, but this service has no security key: use /unsafe/")
        }
    }
}

/// The bytes of a URL's image: a file under the image root, or a remote image from an allowed
/// host ([`crate::remote`]).
async fn image_bytes(service: &Arc<Service>, image: &str) -> Result<Bytes, Failure> {
    let decoded = percent_encoding::percent_decode_str(image).decode_utf8_lossy();
    if !Remote::is_remote(&decoded) {
        let path = image_path(service, image)?;
        return read_image(service, path).await;
    }
    let (url, limit) = (decoded.into_owned(), service.limits.max_body_bytes as u64);
    let remote = service.images.remote.clone();
    tokio::task::spawn_blocking(move || remote.fetch(&url, limit))
        .await
        .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")))?
        .map(Bytes::from)
        .map_err(|e| {
            let status = match e {
                RemoteError::Disabled { .. } | RemoteError::Malformed { .. } => {
                    StatusCode::BAD_REQUEST
                }
                RemoteError::HostNotAllowed { .. } | RemoteError::AddressNotPublic { .. } => {
                    StatusCode::FORBIDDEN
                }
                RemoteError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
                RemoteError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                RemoteError::Status { .. } | RemoteError::Unreachable { .. } => {
                    StatusCode::BAD_GATEWAY
                }
            };
            Failure::new(status, e.to_string())
        })
}

/// The file a URL's image names, inside the image root and nowhere else.
fn image_path(service: &Service, image: &str) -> Result<std::path::PathBuf, Failure> {
    let Some(root) = &service.images.root else {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "this service reads no images by URL (start it with --image-root DIR)",
        ));
    };
    let name = percent_encoding::percent_decode_str(image)
        .decode_utf8()
        .map_err(|_| Failure::new(StatusCode::BAD_REQUEST, format!("{image}: not UTF-8")))?;
    let relative = Path::new(name.as_ref());
    let inside = relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside || name.contains('\0') {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{image}: a path inside the image root, without `..`, expected"),
        ));
    }
    let not_found = || Failure::new(StatusCode::NOT_FOUND, format!("{image}: no such image"));
    let path = root
        .join(relative)
        .canonicalize()
        .map_err(|_| not_found())?;
    let root = root.canonicalize().map_err(|_| not_found())?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(not_found());
    }
    Ok(path)
}

/// The file's bytes, refused past the body limit.
async fn read_image(service: &Service, path: std::path::PathBuf) -> Result<Bytes, Failure> {
    let limit = service.limits.max_body_bytes as u64;
    tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size > limit {
            return Err(Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the image is over the limit of {limit} bytes"),
            ));
        }
        std::fs::read(&path).map(Bytes::from).map_err(|e| {
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the image: {e}"),
            )
        })
    })
    .await
    .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}")))?
}

/// thumbor's `meta` answer: the source, the operations, the target and the focal points (the
/// focal point of [`crop::focal_point`] first, then the map's peaks, in source pixels).
fn meta(
    url: &thumbor::Url,
    [w, h]: [u32; 2],
    window: Option<crop::Window>,
    [tw, th]: [u32; 2],
    prediction: &Prediction,
) -> serde_json::Value {
    let mut operations = Vec::new();
    if let Some(c) = window {
        operations.push(serde_json::json!({
            "type": "crop", "left": c.x, "top": c.y,
            "right": c.x + c.width, "bottom": c.y + c.height,
        }));
    }
    operations.push(serde_json::json!({"type": "resize", "width": tw, "height": th}));
    let focal = crop::focal_point(&prediction.saliency);
    let mut focal_points = vec![serde_json::json!({
        "x": focal.x * f64::from(w), "y": focal.y * f64::from(h),
        "z": focal.score, "width": 1, "height": 1, "origin": "absnet focal point",
    })];
    focal_points.extend(prediction.peaks(5).into_iter().map(|p| {
        serde_json::json!({
            "x": p.x, "y": p.y, "z": p.value, "width": 1, "height": 1,
            "origin": "absnet saliency peak",
        })
    }));
    serde_json::json!({"thumbor": {
        "source": {"url": url.image, "width": w, "height": h, "frameCount": 1},
        "operations": operations,
        "target": {"width": tw, "height": th},
        "focal_points": focal_points,
    }})
}
