//! Shared by the parity tests: fixture paths, the pretrained weights, and the deterministic
//! weight generator that scripts/reference/make_fixtures.py also implements.

#![allow(dead_code)]

use absnet_model::weights::{NamedTensor, TensorMap};

pub use absnet_testkit::{fixture, pretrained};

/// make_fixtures.py's generated weights for tensor `name`.
pub fn generated(name: &str, shape: &[usize]) -> NamedTensor {
    NamedTensor {
        shape: shape.to_vec(),
        data: absnet_testkit::generated(name, shape),
    }
}

pub use absnet_testkit::max_abs_diff;

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
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}
