#!/usr/bin/env bash
# One leave-one-dataset-out experiment: trains CONFIG on the two sets other than LEFT_OUT (its
# `saliency.datasets` replaced), exports the best checkpoint (EXPORT_FLAGS, e.g. --flip-average)
# and scores it on every image of LEFT_OUT with scripts/evaluate_lodo.sh; appends one line with
# the costs and the gap closed to runs/lodo-results.txt.
# Usage: bash scripts/lodo_experiment.sh NAME CONFIG LEFT_OUT [--set KEY=VALUE …]
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1; config=$2; left=$3; shift 3
declare -A train=(
  [mit1003]='["osie:../shared/data/osie", "scene:../shared/data/scene"]'
  [osie]='["scene:../shared/data/scene", "fixatons:../shared/data/mit1003?sigma=35&first_fixation=drop"]'
  [scene]='["osie:../shared/data/osie", "fixatons:../shared/data/mit1003?sigma=35&first_fixation=drop"]'
)
run=runs/$name-$left
start=$(date +%s)
target/release/absnet train "$config" --run "$run" --overwrite --set "saliency.datasets=${train[$left]}" "$@" > "$run.out" 2>&1
mid=$(date +%s)
target/release/absnet export "$run" -o "$run.safetensors" --force ${EXPORT_FLAGS:-} > /dev/null
bash scripts/evaluate_lodo.sh "$left" "$run.safetensors" > "$run.eval" 2>&1
end=$(date +%s)
echo "$name $left train $((mid-start)) s eval $((end-mid)) s: $(tail -2 $run.eval | tr '\n' ' ')" | tee -a runs/lodo-results.txt
