#!/usr/bin/env bash
# Leave one dataset out: a model trained on two of OSIE, Scene and MIT1003 is scored on every
# image of the third, next to a centre-bias map built from the two training sets' training parts
# (models/splits/) and to the inter-observer consistency of the third set, all with the
# MIT benchmark's conventions and σ = 3 % of the image diagonal. MIT1003 is read without each
# scanpath's central start fixation (pysaliency's convention). Prints each metric and how far the
# model goes from the centre bias to inter-observer consistency.
#
# Usage: bash scripts/evaluate_lodo.sh LEFT_OUT MODEL [WORK_DIR]
#   LEFT_OUT: osie, scene or mit1003
#   e.g. bash scripts/evaluate_lodo.sh mit1003 runs/lodo-mit1003.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
left_out=${1:?usage: evaluate_lodo.sh LEFT_OUT MODEL [WORK_DIR]}
model=${2:?usage: evaluate_lodo.sh LEFT_OUT MODEL [WORK_DIR]}
work=${3:-runs/lodo-evaluation/$left_out}
absnet=${ABSNET:-target/release/absnet}
declare -A specs=(
  [osie]="osie:../shared/data/osie"
  [scene]="scene:../shared/data/scene"
  [mit1003]="fixatons:../shared/data/mit1003?first_fixation=drop"
)
[[ -n "${specs[$left_out]:-}" ]] || { echo "LEFT_OUT must be osie, scene or mit1003" >&2; exit 2; }
from=()
for set in osie scene mit1003; do
  [[ $set == "$left_out" ]] && continue
  from+=(--from "${specs[$set]}" --from-split "models/splits/$set.json")
done
mkdir -p "$work"
# The baselines depend on the left-out set only: computed once per work folder.
if [[ ! -s "$work/centre.json" ]]; then
  "$absnet" eval baselines "${specs[$left_out]}" --centre-bias "$work/centre" "${from[@]}" > "$work/baselines.txt"
  "$absnet" eval saliency "${specs[$left_out]}" "$work/centre" --sigma-fraction 0.03 --json > "$work/centre.json"
fi
cat "$work/baselines.txt"
# The model predicts each image as it is scored (its own log-density; no files written).
"$absnet" eval saliency "${specs[$left_out]}" --model "$model" --sigma-fraction 0.03 --json > "$work/model.json"
python3 scripts/gap_table.py "$left_out (all images, left out)" "$work"
