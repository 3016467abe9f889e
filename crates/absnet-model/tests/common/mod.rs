//! Shared by the parity tests: fixture paths, the pretrained weights, and the deterministic
//! weight generator that scripts/reference/make_fixtures.py also implements.

#![allow(dead_code)]

use std::path::PathBuf;

use absnet_model::weights::{NamedTensor, TensorMap};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// `weights/<name>` made by scripts/setup.sh. Missing: a loud failure under CI, a skip
/// (returning `None` after saying why) elsewhere.
pub fn pretrained(name: &str) -> Option<PathBuf> {
    let path = repo().join("weights").join(name);
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "{} is missing: run scripts/setup.sh to fetch the pretrained weights",
        path.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

fn fnv1a64(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

/// The generator of make_fixtures.py: splitmix64 from the FNV-1a hash of the tensor's name,
/// mapped by the tensor's role.
pub fn generated(name: &str, shape: &[usize]) -> NamedTensor {
    let n: usize = shape.iter().product();
    let seed = fnv1a64(name);
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let fan_in: usize = shape.iter().skip(1).product();
    let data = (1..=n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let u = (z >> 40) as f64 / (1u64 << 24) as f64;
            let v = match leaf {
                "running_var" => 0.5 + u,
                "running_mean" | "bias" => 0.2 * (u - 0.5),
                "weight" if shape.len() == 1 => 0.5 + u,
                _ => (2.0 * u - 1.0) * (6.0 / fan_in as f64).sqrt(),
            };
            v as f32
        })
        .collect();
    NamedTensor {
        shape: shape.to_vec(),
        data,
    }
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

pub fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order.truncate(k);
    order
}

pub fn read_fixture(name: &str) -> TensorMap {
    absnet_model::weights::read_safetensors(&fixture(name)).expect("fixture readable")
}

pub fn to_vec<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 tensor")
}
