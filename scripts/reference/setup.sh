#!/usr/bin/env bash
# The reference side's environment, .venv-ref at the repository's root: PyTorch, torchvision,
# ONNX Runtime, pysaliency, scikit-image and the rest pinned in requirements.txt — everything
# the fixture generators and `absnet-bench … --reference .venv-ref/bin/python` import. Not
# needed to build, run or test absnet. Usage: bash scripts/reference/setup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m venv .venv-ref
.venv-ref/bin/pip install --quiet --disable-pip-version-check -r scripts/reference/requirements.txt
.venv-ref/bin/python - <<'PY'
import onnxruntime, pysaliency, skimage, torch, torchvision
print(f"reference environment ready: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"onnxruntime {onnxruntime.__version__}, scikit-image {skimage.__version__}")
PY
