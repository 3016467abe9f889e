#!/usr/bin/env bash
# Scores a model on the held-out test parts of OSIE, Scene and MIT1003 (models/default/splits/),
# next to a centre-bias map (the pooled fixations of that dataset's training part) and
# inter-observer consistency (leave one observer out), all with the MIT benchmark's conventions
# and σ = 3 % of the image diagonal. MIT1003 is read without each scanpath's central start
# fixation (pysaliency's convention).
# Usage: bash scripts/evaluate_default.sh [MODEL] [WORK_DIR]   (ABSNET=PATH picks another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/default/model.safetensors}
work=${2:-runs/evaluation}
absnet=${ABSNET:-target/release/absnet}
declare -A specs=(
  [osie]="osie:../shared/data/osie"
  [scene]="scene:../shared/data/scene"
  [mit1003]="fixatons:../shared/data/mit1003?first_fixation=drop"
)
declare -A stimuli=(
  [osie]=../shared/data/osie/data/stimuli
  [scene]=../shared/data/scene/data/stimuli
  [mit1003]=../shared/data/mit1003/STIMULI
)
for set in osie scene mit1003; do
  split=models/default/splits/$set.json
  out=$work/$set
  mkdir -p "$out"
  # The test images of this dataset, by file name.
  mapfile -t files < <(python3 - "$split" "${stimuli[$set]}" <<'PY'
import json, os, sys
split, folder = sys.argv[1:]
ids = [i.split("/", 1)[1] for i in json.load(open(split))["test"]]
names = {os.path.splitext(n)[0]: n for n in os.listdir(folder)}
print("\n".join(os.path.join(folder, names[i]) for i in ids))
PY
  )
  "$absnet" predict "${files[@]}" --model "$model" --out "$out/model" --overwrite --overlay-format none > /dev/null
  "$absnet" eval baselines "${specs[$set]}" --split "$split" --part test --centre-bias "$out/centre" > "$out/baselines.txt"
  for kind in model centre; do
    "$absnet" eval saliency "${specs[$set]}" "$out/$kind" --sigma-fraction 0.03 --json > "$out/$kind.json"
  done
  python3 scripts/gap_table.py "$set (test part)" "$out"
done
