#!/usr/bin/env bash
# The test command: fetch/convert the pretrained weights the tests use, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --release --workspace
