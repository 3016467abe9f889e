//! Test support shared by absnet's crates (a dev-dependency only).

use std::path::{Path, PathBuf};

/// A fresh folder of its own under the system's temporary folder, removed with everything in it
/// when dropped — at the end of the test that made it, passed or failed. Reads as a [`Path`].
pub struct TempFolder(tempfile::TempDir);

impl std::ops::Deref for TempFolder {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for TempFolder {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

/// A [`TempFolder`] named `absnet-NAME-…`.
pub fn temp_folder(name: &str) -> TempFolder {
    TempFolder(
        tempfile::Builder::new()
            .prefix(&format!("absnet-{name}-"))
            .tempdir()
            .expect("a temporary folder"),
    )
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// A path a test needs that is not part of the repository: `Some(path)` when it exists.
/// Missing, it fails the test loudly under CI (`CI` set) and elsewhere skips it, saying why.
pub fn required(path: PathBuf, how_to_get_it: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let message = format!("{} is missing: {how_to_get_it}", path.display());
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// `weights/<name>`, made by scripts/setup.sh.
pub fn pretrained(name: &str) -> Option<PathBuf> {
    required(
        repo().join("weights").join(name),
        "run scripts/setup.sh to fetch the pretrained weights",
    )
}

/// `../shared/data/<name>`, the real datasets.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    required(
        repo().join("../shared/data").join(name),
        "the real datasets live in ../shared/data beside the checkout",
    )
}

fn fnv1a64(name: &str) -> u64 {
    use std::hash::Hasher;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(name.as_bytes());
    hasher.finish()
}

/// `n` values in [0, 1) seeded by `name`: splitmix64 from the FNV-1a hash of the name, top 24
/// bits — the generator of scripts/reference/make_fixtures.py (`uniform`).
pub fn uniform(name: &str, n: usize) -> Vec<f64> {
    let seed = fnv1a64(name);
    (1..=n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f64 / (1u64 << 24) as f64
        })
        .collect()
}

/// make_fixtures.py's `generated`: the uniform values mapped by the tensor's role
/// (`running_var` 0.5 + u, `running_mean` and biases 0.2·(u − 0.5), 1-D weights 0.5 + u, other
/// weights (2u − 1)·sqrt(6 / fan_in)), as f32.
pub fn generated(name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let fan_in: usize = shape.iter().skip(1).product();
    uniform(name, n)
        .into_iter()
        .map(|u| {
            let v = match leaf {
                "running_var" => 0.5 + u,
                "running_mean" | "bias" => 0.2 * (u - 0.5),
                "weight" if shape.len() == 1 => 0.5 + u,
                _ => (2.0 * u - 1.0) * (6.0 / fan_in as f64).sqrt(),
            };
            v as f32
        })
        .collect()
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
