//! What the image commands (`predict`, `crop`) read: files, folders of images, quoted file-name
//! patterns and standard input, each decoded with a cap on the bytes read and the pixel limit
//! checked from the header before any pixel is allocated.

use std::io::Read;
use std::path::{Path, PathBuf};

use absnet_data::pipeline;
use anyhow::{Context, Result, bail};
use image::RgbImage;

/// Largest input read by default, in bytes (no photo format needs more for 64 MP).
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// One input image: a file, or standard input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    /// How records and messages name it.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".into(),
        }
    }

    /// The stem its outputs are named after.
    pub fn stem(&self) -> String {
        match self {
            Source::File(p) => p
                .file_stem()
                .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned()),
            Source::Stdin => "stdin".into(),
        }
    }

    /// The decoded RGB image (EXIF orientation applied), refused past `max_bytes` bytes or
    /// `max_pixels` pixels.
    pub fn decode(&self, max_bytes: u64, max_pixels: u64) -> Result<RgbImage> {
        let bytes = match self {
            Source::File(path) => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("{}: cannot open", path.display()))?;
                read_capped(file, max_bytes).with_context(|| path.display().to_string())?
            }
            Source::Stdin => read_capped(std::io::stdin().lock(), max_bytes).context("<stdin>")?,
        };
        Ok(pipeline::decode_bytes(
            &bytes,
            Path::new(&self.name()),
            max_pixels,
        )?)
    }
}

/// Everything `reader` holds, refused once it passes `max_bytes` (so `/dev/zero` or a huge file
/// is never read whole).
fn read_capped(reader: impl Read, max_bytes: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        bail!("more than {max_bytes} bytes (raise --max-bytes to read it)");
    }
    Ok(bytes)
}

/// An input that could not be listed, or an entry of an input folder that is not an image absnet
/// reads (a sub-folder, an entry that cannot be read): reported like an image that failed.
pub struct Unlisted {
    pub input: PathBuf,
    pub error: anyhow::Error,
    /// An entry of an input folder, which `--skip-bad` lets a run pass over.
    pub entry: bool,
}

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "gif"];

/// The images `inputs` name, in order: `-` is standard input, a folder its image files
/// (sorted), a quoted pattern its matches. A folder or pattern that cannot be read is returned
/// as [`Unlisted`] so the others still run; missing files are left for decoding to report.
pub fn collect(inputs: &[PathBuf]) -> (Vec<Source>, Vec<Unlisted>) {
    let mut sources = Vec::new();
    let mut unlisted = Vec::new();
    for input in inputs {
        let listed = if input.as_os_str() == "-" {
            Ok(vec![Source::Stdin])
        } else if input.is_dir() {
            folder_images(input).map(|(images, passed)| {
                unlisted.extend(passed);
                images
            })
        } else {
            match expand_pattern(input) {
                Ok(Some(matches)) => Ok(matches),
                Ok(None) => Ok(vec![Source::File(input.clone())]),
                Err(e) => Err(e),
            }
        };
        match listed {
            Ok(found) => sources.extend(found),
            Err(error) => unlisted.push(Unlisted {
                input: input.clone(),
                error,
                entry: false,
            }),
        }
    }
    (sources, unlisted)
}

/// The image files of `folder` (sorted), and its entries that are neither images nor other files
/// — sub-folders (not descended into), entries that cannot be read — as [`Unlisted`]; files of
/// other kinds are not inputs.
fn folder_images(folder: &Path) -> Result<(Vec<Source>, Vec<Unlisted>)> {
    let mut files = Vec::new();
    let mut passed = Vec::new();
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("{}: cannot read the folder", folder.display()))?;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                passed.push(Unlisted {
                    input: folder.to_path_buf(),
                    error: anyhow::anyhow!("{}: an entry cannot be read: {e}", folder.display()),
                    entry: true,
                });
                continue;
            }
        };
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => passed.push(Unlisted {
                error: anyhow::anyhow!(
                    "{}: a sub-folder; its images are not read (name it as an input to include them)",
                    path.display()
                ),
                input: path,
                entry: true,
            }),
            Ok(_) if is_image_name(&path) => files.push(path),
            Ok(_) => {}
            Err(e) => passed.push(Unlisted {
                error: anyhow::anyhow!("{}: cannot be read: {e}", path.display()),
                input: path,
                entry: true,
            }),
        }
    }
    if files.is_empty() && passed.is_empty() {
        bail!(
            "{}: the folder holds no images ({})",
            folder.display(),
            IMAGE_EXTENSIONS.join(", ")
        );
    }
    files.sort();
    passed.sort_by(|a, b| a.input.cmp(&b.input));
    Ok((files.into_iter().map(Source::File).collect(), passed))
}

fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// A quoted pattern such as `photos/*.jpg` (wildcards `*` and `?` in the file name only), for
/// shells that pass it through unexpanded: the matching files, sorted; `None` if `input` has no
/// wildcard.
fn expand_pattern(input: &Path) -> Result<Option<Vec<Source>>> {
    let Some(name) = input.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    if !name.contains(['*', '?', '[']) {
        return Ok(None);
    }
    let pattern = globset::GlobBuilder::new(name)
        .literal_separator(true)
        .build()
        .with_context(|| format!("{}: not a file-name pattern", input.display()))?
        .compile_matcher();
    let dir = match input.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut matches: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| {
            format!(
                "{}: cannot read the folder for the pattern {name}",
                dir.display()
            )
        })?
        .filter_map(Result::ok)
        .filter(|e| pattern.is_match(e.file_name()))
        .map(|e| e.path())
        .collect();
    if matches.is_empty() {
        bail!("{}: no file matches", input.display());
    }
    matches.sort();
    Ok(Some(matches.into_iter().map(Source::File).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_file_names_in_linear_time() {
        let dir = tempfile::tempdir().unwrap();
        let long = "a".repeat(200);
        for name in ["a.jpg", "a.jpeg", "cat-1.png", "dog.png", long.as_str()] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let names = |pattern: &str| -> Vec<String> {
            match expand_pattern(&dir.path().join(pattern)) {
                Ok(Some(sources)) => sources.iter().map(|s| s.stem()).collect(),
                Ok(None) => panic!("{pattern} is a pattern"),
                Err(e) => vec![e.to_string()],
            }
        };
        assert_eq!(names("*.jpg"), ["a"]);
        assert_eq!(names("c?t*.png"), ["cat-1"]);
        assert_eq!(names("[cd]*.png"), ["cat-1", "dog"]);
        // A backtracking matcher takes exponential time on this name; a compiled one does not.
        let pathological = format!("{}b", "*a".repeat(40));
        assert!(names(&pathological)[0].contains("no file matches"));
        assert!(names("[z.png")[0].contains("not a file-name pattern"));
    }

    #[test]
    fn reading_stops_past_the_byte_cap() {
        let err = read_capped(std::io::repeat(0), 1000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 1000 bytes"), "{err}");
        assert_eq!(read_capped(&[1u8, 2, 3][..], 3).unwrap(), [1, 2, 3]);
    }
}
