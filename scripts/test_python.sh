#!/usr/bin/env bash
# The Python package's tests: builds the wheel (maturin, from PyPI), installs it into a fresh
# virtual environment with what the tests compare against (pysaliency, Ray; see
# python/requirements-test.txt), and runs pytest. Needs target/release/absnet (the tests compare
# with the CLI): run scripts/setup.sh first.
# With ABSNET_BUILT=1 (scripts/test.sh, after its workspace build) the wheel packs the native
# module that build made, with maturin's metadata, instead of compiling it again
# (scripts/wheel_from_build.py says why).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-build
.venv-build/bin/pip install --quiet --disable-pip-version-check maturin==1.16.0
rm -rf target/wheels
if [[ "${ABSNET_BUILT:-}" == 1 ]]; then
  metadata=$(mktemp -d)
  trap 'rm -rf "$metadata"' EXIT
  (cd python && ../.venv-build/bin/maturin pep517 write-dist-info \
    --metadata-directory "$metadata" > /dev/null)
  python3 scripts/wheel_from_build.py python/pyproject.toml "$metadata"/absnet-*.dist-info \
    target/release/lib_absnet.so target/wheels > /dev/null
else
  (cd python && ../.venv-build/bin/maturin build --release --quiet --out ../target/wheels)
fi
python3 -m venv --clear .venv-py
.venv-py/bin/pip install --quiet --disable-pip-version-check target/wheels/absnet-0.1.0-*.whl -r python/requirements-test.txt
.venv-py/bin/python -m pytest -q -p no:cacheprovider python/tests
