#!/usr/bin/env bash
# Scores a model on the held-out test parts of OSIE, Scene and MIT1003 (models/splits/),
# next to a centre-bias map (the pooled fixations of that dataset's training part) and
# inter-observer consistency (leave one observer out), all with the MIT benchmark's conventions
# and σ = 3 % of the image diagonal. MIT1003 is read without each scanpath's central start
# fixation (pysaliency's convention).
# Usage: bash scripts/evaluate_default.sh [MODEL] [WORK_DIR]   (MODEL: fast, accurate or a model file;
# ABSNET=PATH picks another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-fast}
work=${2:-runs/evaluation}
absnet=${ABSNET:-target/release/absnet}
declare -A specs=(
  [osie]="osie:../shared/data/osie"
  [scene]="scene:../shared/data/scene"
  [mit1003]="fixatons:../shared/data/mit1003?first_fixation=drop"
)
for set in osie scene mit1003; do
  split=models/splits/$set.json
  out=$work/$set
  mkdir -p "$out"
  # The baselines depend on the test part only: computed once per work folder.
  if [[ ! -s "$out/centre.json" ]]; then
    "$absnet" eval baselines "${specs[$set]}" --split "$split" --part test --centre-bias "$out/centre" > "$out/baselines.txt"
    "$absnet" eval saliency "${specs[$set]}" "$out/centre" --sigma-fraction 0.03 --json > "$out/centre.json"
  fi
  # The model predicts each test image as it is scored (its own log-density; no files written).
  "$absnet" eval saliency "${specs[$set]}" --model "$model" --split "$split" --part test \
    --sigma-fraction 0.03 --json > "$out/model.json"
  python3 scripts/gap_table.py "$set (test part)" "$out"
done
