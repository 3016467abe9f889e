//! thumbor's URL shape, so that what already builds thumbor URLs can point at absnet:
//! `/unsafe/[meta/][fit-in/][WxH/][left|center|right/][top|middle|bottom/][smart/][filters:…/]IMAGE`,
//! or signed, `/SIGNATURE/…` in place of `/unsafe/`, the signature being thumbor's: the URL-safe
//! base64 of the HMAC-SHA1 of the rest of the path under the security key. A size of 0 keeps the
//! image's aspect on that side; `smart` centres the crop on what people look at; `fit-in` fits
//! the image inside the box uncropped; `meta/` answers the operations as JSON instead of the
//! image. Filters: `format(jpeg|png|webp)` and `quality(1–100)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// A parsed thumbor URL.
#[derive(Clone, Debug, PartialEq)]
pub struct Url {
    /// The signature, or `None` for `/unsafe/`.
    pub signature: Option<String>,
    /// The part of the path the signature covers.
    pub signed: String,
    pub meta: bool,
    pub fit_in: bool,
    /// The asked size; 0 keeps the aspect on that side, both 0 the image's own size.
    pub width: u32,
    pub height: u32,
    pub halign: Align,
    pub valign: Align,
    pub smart: bool,
    pub format: Option<image::ImageFormat>,
    pub quality: Option<u8>,
    /// The image's path (relative to the image root) or URL, as given.
    pub image: String,
}

/// Where a plain (not smart) crop sits along one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Start,
    Centre,
    End,
}

impl Align {
    /// The offset of a window of `window` pixels in `length`.
    pub fn offset(self, length: u32, window: u32) -> u32 {
        let free = length.saturating_sub(window);
        match self {
            Align::Start => 0,
            Align::Centre => free / 2,
            Align::End => free,
        }
    }
}

/// `path` (the request's, without its leading slash) as a thumbor URL, or what is wrong with it.
pub fn parse(path: &str) -> Result<Url, String> {
    let (first, rest) = path
        .split_once('/')
        .ok_or_else(|| format!("/{path}: expected /unsafe/… or /SIGNATURE/… (thumbor's URLs)"))?;
    let signature = (first != "unsafe").then(|| first.to_string());
    let mut url = Url {
        signature,
        signed: rest.to_string(),
        meta: false,
        fit_in: false,
        width: 0,
        height: 0,
        halign: Align::Centre,
        valign: Align::Centre,
        smart: false,
        format: None,
        quality: None,
        image: String::new(),
    };
    let mut segments = rest.split('/').peekable();
    let take = |segments: &mut std::iter::Peekable<std::str::Split<'_, char>>, word: &str| {
        let found = segments.peek() == Some(&word);
        if found {
            segments.next();
        }
        found
    };
    url.meta = take(&mut segments, "meta");
    if segments.peek() == Some(&"trim") || segments.peek().is_some_and(|s| is_manual_crop(s)) {
        return Err(format!(
            "{}: trim and manual crops are not supported; ask for a size and `smart`",
            segments.peek().unwrap_or(&"")
        ));
    }
    url.fit_in = take(&mut segments, "fit-in");
    if let Some((w, h)) = segments.peek().and_then(|s| s.split_once('x')) {
        let size = |v: &str| v.parse::<u32>();
        if let (Ok(w), Ok(h)) = (size(w), size(h)) {
            (url.width, url.height) = (w, h);
            segments.next();
        } else if w.starts_with('-') || h.starts_with('-') {
            return Err(format!("{w}x{h}: flips (negative sizes) are not supported"));
        }
    }
    for (word, align) in [("left", Align::Start), ("right", Align::End)] {
        if take(&mut segments, word) {
            url.halign = align;
        }
    }
    take(&mut segments, "center");
    for (word, align) in [("top", Align::Start), ("bottom", Align::End)] {
        if take(&mut segments, word) {
            url.valign = align;
        }
    }
    take(&mut segments, "middle");
    url.smart = take(&mut segments, "smart");
    if let Some(filters) = segments.peek().and_then(|s| s.strip_prefix("filters:")) {
        for filter in filters.split(':').filter(|f| !f.is_empty()) {
            apply_filter(&mut url, filter)?;
        }
        segments.next();
    }
    url.image = segments.collect::<Vec<_>>().join("/");
    if url.image.is_empty() {
        return Err(format!("/{path}: no image named at the end of the URL"));
    }
    Ok(url)
}

fn is_manual_crop(segment: &str) -> bool {
    segment
        .split_once(':')
        .is_some_and(|(a, b)| [a, b].iter().all(|p| p.split_once('x').is_some()))
        && !segment.starts_with("filters:")
}

fn apply_filter(url: &mut Url, filter: &str) -> Result<(), String> {
    let (name, argument) = filter
        .strip_suffix(')')
        .and_then(|f| f.split_once('('))
        .ok_or_else(|| format!("filter `{filter}`: expected NAME(ARGUMENT)"))?;
    match name {
        "format" => {
            url.format = Some(match argument {
                "jpeg" | "jpg" => image::ImageFormat::Jpeg,
                "png" => image::ImageFormat::Png,
                "webp" => image::ImageFormat::WebP,
                other => return Err(format!("format({other}): expected jpeg, png or webp")),
            })
        }
        "quality" => {
            url.quality = Some(
                argument
                    .parse::<u8>()
                    .ok()
                    .filter(|q| (1..=100).contains(q))
                    .ok_or_else(|| format!("quality({argument}): expected 1–100"))?,
            )
        }
        other => {
            return Err(format!(
                "filter `{other}` is not supported (format, quality are)"
            ));
        }
    }
    Ok(())
}

/// thumbor's signature of `signed` under `key`.
pub fn sign(key: &[u8], signed: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(signed.as_bytes());
    URL_SAFE.encode(mac.finalize().into_bytes())
}

/// Whether `signature` is `signed`'s under `key`, compared in constant time.
pub fn verify(key: &[u8], signed: &str, signature: &str) -> bool {
    let Ok(bytes) = URL_SAFE.decode(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(signed.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// The box `(width, height)` a request asks for an image of `[w, h]`: zeros filled in from the
/// image's aspect.
pub fn target(url: &Url, [w, h]: [u32; 2]) -> [u32; 2] {
    let scaled = |a: u32, b: u32, c: u32| {
        ((f64::from(a) * f64::from(b) / f64::from(c)).round() as u32).max(1)
    };
    match (url.width, url.height) {
        (0, 0) => [w, h],
        (0, th) => [scaled(th, w, h), th],
        (tw, 0) => [tw, scaled(tw, h, w)],
        (tw, th) if url.fit_in => {
            let scale = (f64::from(tw) / f64::from(w)).min(f64::from(th) / f64::from(h));
            [
                ((f64::from(w) * scale).round() as u32).max(1),
                ((f64::from(h) * scale).round() as u32).max(1),
            ]
        }
        (tw, th) => [tw, th],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_thumbor_reads_them() {
        let url = parse("unsafe/300x200/smart/photos/cat.jpg").unwrap();
        assert_eq!(url.signature, None);
        assert_eq!(
            (url.width, url.height, url.smart, url.meta),
            (300, 200, true, false)
        );
        assert_eq!(url.image, "photos/cat.jpg");
        let url =
            parse("unsafe/meta/fit-in/0x100/left/bottom/filters:format(webp):quality(80)/a.png")
                .unwrap();
        assert!(url.meta && url.fit_in && !url.smart);
        assert_eq!((url.width, url.height), (0, 100));
        assert_eq!((url.halign, url.valign), (Align::Start, Align::End));
        assert_eq!(
            (url.format, url.quality),
            (Some(image::ImageFormat::WebP), Some(80))
        );
        let url = parse("c2lnbmF0dXJl/300x200/smart/a.png").unwrap();
        assert_eq!(url.signature.as_deref(), Some("c2lnbmF0dXJl"));
        assert_eq!(url.signed, "300x200/smart/a.png");
        // An image with no size or options.
        assert_eq!(parse("unsafe/a.png").unwrap().image, "a.png");
        for (bad, why) in [
            ("unsafe/300x200/smart/", "no image"),
            ("unsafe/10x10:90x90/a.png", "manual crops"),
            ("unsafe/-300x200/a.png", "flips"),
            ("unsafe/filters:blur(3)/a.png", "blur"),
            ("unsafe/filters:format(gif)/a.png", "format(gif)"),
            ("unsafe/filters:quality(0)/a.png", "quality(0)"),
            ("nothing", "expected /unsafe/"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn signatures_are_thumbors() {
        // As thumbor signs (Python's `hmac` with SHA-1, then `base64.urlsafe_b64encode`):
        // computed with Python 3 for this key and URL.
        let signed = "300x200/smart/thumbor.org/logo.png";
        let signature = sign(b"MY_SECURE_KEY", signed);
        assert_eq!(signature, "JWdttSFyE1rxzb_Q1si4_PsV0Ys=");
        assert!(verify(b"MY_SECURE_KEY", signed, &signature));
        assert!(!verify(b"ANOTHER_KEY", signed, &signature));
        assert!(!verify(
            b"MY_SECURE_KEY",
            "300x201/smart/thumbor.org/logo.png",
            &signature
        ));
        assert!(!verify(b"MY_SECURE_KEY", signed, "not base64!"));
    }

    #[test]
    fn zero_sides_keep_the_aspect_and_fit_in_fits() {
        let url = |w, h, fit_in| Url {
            width: w,
            height: h,
            fit_in,
            ..parse("unsafe/a.png").unwrap()
        };
        assert_eq!(target(&url(0, 0, false), [400, 300]), [400, 300]);
        assert_eq!(target(&url(200, 0, false), [400, 300]), [200, 150]);
        assert_eq!(target(&url(0, 150, false), [400, 300]), [200, 150]);
        assert_eq!(target(&url(200, 200, false), [400, 300]), [200, 200]);
        assert_eq!(target(&url(200, 200, true), [400, 300]), [200, 150]);
    }
}
