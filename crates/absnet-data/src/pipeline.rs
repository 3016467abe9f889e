//! Image decoding and geometry: any image the `image` crate decodes (JPEG, PNG, WebP, GIF, BMP,
//! TIFF) → RGB8 with its EXIF orientation applied, refused past a pixel limit before any pixel
//! is allocated; resized or letterboxed to a model's input; and a map at model resolution sent
//! back onto the original image.

use std::io::{BufRead, Cursor, Seek};
use std::path::{Path, PathBuf};

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::imageops;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageReader, Luma, RgbImage};

/// Refuse images above this many pixels (decompression bombs); 64 MP by default.
pub const DEFAULT_MAX_PIXELS: u64 = 64_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error("{path}: {width}×{height} = {pixels} pixels exceeds the limit of {limit} pixels")]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("{path}: truncated: {reason}")]
    Truncated { path: PathBuf, reason: String },
    #[error("{path}: image has zero width or height ({width}×{height})")]
    Empty {
        path: PathBuf,
        width: u32,
        height: u32,
    },
}

fn unreadable(path: &Path, message: impl std::fmt::Display) -> ImageError {
    ImageError::Unreadable {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Decodes the image file at `path` to RGB8 (see [`decode_bytes`]).
pub fn decode_file(path: &Path, max_pixels: u64) -> Result<RgbImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|e| unreadable(path, e))?;
    decode_bytes(&bytes, path, max_pixels)
}

/// Decodes an image from memory (see [`decode_reader`]) after checking it is complete;
/// `name` is what errors call it (e.g. `<stdin>`).
pub fn decode_bytes(bytes: &[u8], name: &Path, max_pixels: u64) -> Result<RgbImage, ImageError> {
    check_complete(bytes, name)?;
    decode_reader(Cursor::new(bytes), name, max_pixels)
}

/// Refuses a JPEG cut short. JPEG decoders fill a missing end with grey and report success, so
/// the file's structure is checked instead: the last scan (`SOS`, `FF DA`) must be followed by
/// the end-of-image marker (`FF D9`); inside entropy-coded data `FF` is always followed by `00`
/// or a restart marker, so the marker cannot occur by chance. An EXIF thumbnail's own markers
/// come before the main image's scans. Other formats' decoders report truncation themselves.
pub fn check_complete(bytes: &[u8], name: &Path) -> Result<(), ImageError> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(());
    }
    let truncated = |reason: &str| ImageError::Truncated {
        path: name.to_path_buf(),
        reason: reason.to_string(),
    };
    let last_scan = bytes
        .windows(2)
        .rposition(|w| w == [0xFF, 0xDA])
        .ok_or_else(|| truncated("the JPEG has no image data (no start-of-scan marker)"))?;
    if !bytes[last_scan..].windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(truncated(
            "the JPEG data ends before its end-of-image marker",
        ));
    }
    Ok(())
}

/// Decodes to RGB8: the format is guessed from the content, the size checked against
/// `max_pixels` before decoding, the EXIF orientation applied, and grayscale, CMYK, 16-bit and
/// alpha images converted (alpha is dropped, not composited).
pub fn decode_reader<R: BufRead + Seek>(
    reader: R,
    path: &Path,
    max_pixels: u64,
) -> Result<RgbImage, ImageError> {
    let reader = ImageReader::new(reader)
        .with_guessed_format()
        .map_err(|e| unreadable(path, e))?;
    if reader.format().is_none() {
        return Err(unreadable(
            path,
            "not an image in a known format (empty or unrecognised)",
        ));
    }
    let mut decoder = reader.into_decoder().map_err(|e| unreadable(path, e))?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(ImageError::Empty {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    if pixels > max_pixels {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            pixels,
            limit: max_pixels,
        });
    }
    let orientation = decoder.orientation().map_err(|e| unreadable(path, e))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(path, e))?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// `[width, height]` of the image file at `path` as [`decode_file`] would return it (after
/// its EXIF orientation), read from its header without decoding any pixel.
pub fn oriented_size(path: &Path) -> Result<[u32; 2], ImageError> {
    let file = std::fs::File::open(path).map_err(|e| unreadable(path, e))?;
    let reader = ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| unreadable(path, e))?;
    let mut decoder = reader.into_decoder().map_err(|e| unreadable(path, e))?;
    let (width, height) = decoder.dimensions();
    let orientation = decoder.orientation().map_err(|e| unreadable(path, e))?;
    use image::metadata::Orientation::*;
    Ok(match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => [height, width],
        _ => [width, height],
    })
}

/// How an image is fitted to the model's input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Stretch to the input size (aspect ratio not kept).
    Resize,
    /// Scale to fit inside the input size keeping the aspect ratio, pad the rest with black,
    /// image centred.
    Letterbox,
}

impl std::str::FromStr for Fit {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "resize" => Ok(Fit::Resize),
            "letterbox" => Ok(Fit::Letterbox),
            other => Err(format!("`{other}`: expected resize or letterbox")),
        }
    }
}

/// Where the original image sits inside the model input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    pub original: [u32; 2],
    pub input: [u32; 2],
    /// Top-left corner and size of the image content inside the input, in input pixels.
    pub offset: [u32; 2],
    pub content: [u32; 2],
}

impl Placement {
    /// Maps a point of the original image (pixel coordinates, centre of the top-left pixel at
    /// 0.5) to input coordinates.
    pub fn to_input(&self, x: f64, y: f64) -> (f64, f64) {
        let sx = f64::from(self.content[0]) / f64::from(self.original[0]);
        let sy = f64::from(self.content[1]) / f64::from(self.original[1]);
        (
            x * sx + f64::from(self.offset[0]),
            y * sy + f64::from(self.offset[1]),
        )
    }
}

/// Where an image of size `original` goes inside a model input of `size`.
pub fn placement(original: [u32; 2], size: [u32; 2], fit: Fit) -> Placement {
    let (offset, content) = match fit {
        Fit::Resize => ([0, 0], size),
        Fit::Letterbox => {
            let scale = f64::min(
                f64::from(size[0]) / f64::from(original[0]),
                f64::from(size[1]) / f64::from(original[1]),
            );
            let content =
                [0, 1].map(|i| ((f64::from(original[i]) * scale).round() as u32).clamp(1, size[i]));
            ([0, 1].map(|i| (size[i] - content[i]) / 2), content)
        }
    };
    Placement {
        original,
        input: size,
        offset,
        content,
    }
}

/// `pixels` (a row-major `from[0]` × `from[1]` image of `kind` pixels) resampled to `to` by
/// the triangle (bilinear) filter, widened by the scale when shrinking so every source pixel
/// counts (Pillow's `BILINEAR`, image's `FilterType::Triangle`), with fast_image_resize's SIMD
/// kernels.
fn resample<T: bytemuck::Pod>(
    pixels: &[T],
    from: [u32; 2],
    to: [u32; 2],
    kind: PixelType,
) -> Vec<T> {
    let mut out =
        vec![T::zeroed(); pixels.len() / (from[0] * from[1]) as usize * (to[0] * to[1]) as usize];
    let source = ImageRef::new(from[0], from[1], bytemuck::cast_slice(pixels), kind)
        .expect("a buffer of the image's size, aligned for its type");
    let mut target = Image::from_slice_u8(to[0], to[1], bytemuck::cast_slice_mut(&mut out), kind)
        .expect("a buffer of the image's size, aligned for its type");
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new()
        .resize(&source, &mut target, &options)
        .expect("source and target of one pixel type");
    out
}

/// Fits `image` into `[width, height]` with bilinear (triangle) filtering.
pub fn fit(image: &RgbImage, size: [u32; 2], fit: Fit) -> (RgbImage, Placement) {
    let original = [image.width(), image.height()];
    let placement = placement(original, size, fit);
    let Placement {
        offset, content, ..
    } = placement;
    let resized = if content == original {
        image.clone()
    } else {
        let pixels = resample(image.as_raw(), original, content, PixelType::U8x3);
        RgbImage::from_raw(content[0], content[1], pixels).expect("the resampled size")
    };
    let placed = if content == size {
        resized
    } else {
        let mut canvas = RgbImage::new(size[0], size[1]);
        imageops::replace(&mut canvas, &resized, offset[0].into(), offset[1].into());
        canvas
    };
    (placed, placement)
}

/// A map predicted on the model input (`input[1]` rows × `input[0]` columns, row-major) sent back
/// onto the original image: the content region is cropped and resized bilinearly to the
/// original size.
pub fn map_to_original(map: &[f32], placement: &Placement) -> ImageBuffer<Luma<f32>, Vec<f32>> {
    let [iw, ih] = placement.input;
    assert_eq!(map.len(), (iw * ih) as usize, "map of the input size");
    let full: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(iw, ih, map.to_vec()).expect("length checked");
    let [ox, oy] = placement.offset;
    let [cw, ch] = placement.content;
    let content = imageops::crop_imm(&full, ox, oy, cw, ch).to_image();
    let [w, h] = placement.original;
    if [cw, ch] == [w, h] {
        content
    } else {
        let pixels = resample(content.as_raw(), [cw, ch], [w, h], PixelType::F32);
        ImageBuffer::from_raw(w, h, pixels).expect("the resampled size")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD resampler against image's own triangle filter, which it replaced: a real photo
    /// shrunk, and a map grown.
    #[test]
    fn resampling_agrees_with_images_triangle_filter() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let photo = image::open(repo.join("samples/chelsea.png"))
            .unwrap()
            .into_rgb8();
        let (w, h) = photo.dimensions();
        let ours = resample(photo.as_raw(), [w, h], [160, 120], PixelType::U8x3);
        let theirs = imageops::resize(&photo, 160, 120, imageops::FilterType::Triangle);
        let worst = ours
            .iter()
            .zip(theirs.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst <= 2, "photo: largest difference {worst} levels");

        // A saliency map's values lie in [0, 1] (image clamps its f32 pixels to that range).
        let map: Vec<f32> = (0..48 * 36)
            .map(|i| (((i % 48) as f32 * 0.3).sin() * ((i / 48) as f32 * 0.2).cos() + 1.0) / 2.0)
            .collect();
        let ours = resample(&map, [48, 36], [400, 300], PixelType::F32);
        let map = ImageBuffer::<Luma<f32>, _>::from_raw(48, 36, map).unwrap();
        let theirs = imageops::resize(&map, 400, 300, imageops::FilterType::Triangle);
        let worst = ours
            .iter()
            .zip(theirs.as_raw())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-4, "map: largest difference {worst}");
    }

    fn path() -> PathBuf {
        PathBuf::from("test.img")
    }

    #[test]
    fn zero_bytes_and_garbage_are_named_errors() {
        let err = decode_bytes(&[], &path(), DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(err.to_string().contains("test.img"), "{err}");
        let err =
            decode_bytes(b"definitely not an image", &path(), DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(err.to_string().contains("test.img"), "{err}");
    }

    #[test]
    fn truncated_png_is_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        RgbImage::from_pixel(64, 64, image::Rgb([10, 200, 30]))
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes.truncate(bytes.len() / 2);
        assert!(decode_bytes(&bytes, &path(), DEFAULT_MAX_PIXELS).is_err());
    }

    #[test]
    fn a_truncated_jpeg_is_an_error_and_a_whole_one_is_not() {
        let mut bytes = Vec::new();
        RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]))
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
            .unwrap();
        assert!(decode_bytes(&bytes, &path(), DEFAULT_MAX_PIXELS).is_ok());
        // Cut anywhere in the scan: the decoder alone would fill the rest with grey.
        for keep in [bytes.len() - 2, bytes.len() * 3 / 4, bytes.len() / 2] {
            let err = decode_bytes(&bytes[..keep], &path(), DEFAULT_MAX_PIXELS).unwrap_err();
            assert!(matches!(err, ImageError::Truncated { .. }), "{keep}: {err}");
            assert!(err.to_string().contains("test.img: truncated"), "{err}");
        }
    }

    #[test]
    fn pixel_limit_is_checked_before_decoding() {
        let mut bytes = Vec::new();
        RgbImage::new(300, 200)
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let err = decode_bytes(&bytes, &path(), 59_999).unwrap_err();
        assert!(
            matches!(err, ImageError::TooLarge { pixels: 60_000, .. }),
            "{err}"
        );
        assert_eq!(
            decode_bytes(&bytes, &path(), 60_000).unwrap().dimensions(),
            (300, 200)
        );
    }

    #[test]
    fn letterbox_keeps_aspect_and_maps_back() {
        let image = RgbImage::from_pixel(400, 100, image::Rgb([255, 255, 255]));
        let (input, placement) = fit(&image, [200, 200], Fit::Letterbox);
        assert_eq!(placement.content, [200, 50]);
        assert_eq!(placement.offset, [0, 75]);
        assert_eq!(input.get_pixel(100, 10).0, [0, 0, 0]);
        assert_eq!(input.get_pixel(100, 100).0, [255, 255, 255]);
        assert_eq!(placement.to_input(200.0, 50.0), (100.0, 100.0));
        let map = vec![0.5f32; 200 * 200];
        let back = map_to_original(&map, &placement);
        assert_eq!(back.dimensions(), (400, 100));
        assert!((back.get_pixel(399, 99)[0] - 0.5).abs() < 1e-6);
    }
}
