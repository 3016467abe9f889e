#!/usr/bin/env bash
# The test command: fetch/convert the pretrained weights the tests use, then run every test —
# the Rust workspace's, then the Python package's (scripts/test_python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# With ABSNET_FEATURES=gpu (as CI sets it) the GPU backend's tests run too, on whatever Vulkan
# driver the machine has (CI: Mesa's lavapipe, on the CPU).
features=()
[[ "${ABSNET_FEATURES:-}" == gpu ]] && features=(--features absnet/gpu,absnet-mtl/gpu)
# One build of the binary, the Python module and every test with one set of features (the
# setup's own build of the binary alone would resolve other features and compile burn a second
# time; so would maturin's of the module, which scripts/test_python.sh packs instead).
cargo build --release --workspace --lib --bins --tests "${features[@]}"
ABSNET_BUILT=1 bash scripts/setup.sh
cargo test --release --workspace "${features[@]}"
# The Python package around the native module just built.
ABSNET_BUILT=1 bash scripts/test_python.sh
