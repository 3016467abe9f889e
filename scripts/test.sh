#!/usr/bin/env bash
# The test command: fetch/convert the pretrained weights the tests use, then run every test —
# the Rust workspace's, then the Python package's (scripts/test_python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --release --workspace
bash scripts/test_python.sh
