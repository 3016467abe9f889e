#!/usr/bin/env bash
# The Python package's tests: builds the wheel (maturin, from PyPI), installs it into a fresh
# virtual environment with what the tests compare against (pysaliency, Ray; see
# python/requirements-test.txt), and runs pytest. Needs target/release/absnet (the tests compare
# with the CLI): run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-build
.venv-build/bin/pip install --quiet --disable-pip-version-check maturin==1.16.0
(cd python && ../.venv-build/bin/maturin build --release --quiet --out ../target/wheels)
python3 -m venv --clear .venv-py
.venv-py/bin/pip install --quiet --disable-pip-version-check target/wheels/absnet-0.1.0-*.whl -r python/requirements-test.txt
.venv-py/bin/python -m pytest -q -p no:cacheprovider python/tests
