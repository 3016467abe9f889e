#!/usr/bin/env bash
# Scores a model on the held-out test part of models/default/split.json (OSIE and Scene), next to
# the centre-bias baseline (pooled training fixations) and inter-observer consistency (leave one
# observer out), all with the MIT benchmark's conventions and σ = 3 % of the image diagonal.
# Usage: bash scripts/evaluate_default.sh [MODEL] [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/default/model.safetensors}
work=${2:-runs/evaluation}
absnet=target/release/absnet
split=models/default/split.json
declare -A roots=([osie]=../shared/data/osie [scene]=../shared/data/scene)
declare -A stimuli=([osie]=data/stimuli [scene]=data/stimuli)
mkdir -p "$work"
for set in osie scene; do
  root=${roots[$set]}
  # The test images of this dataset, by file name.
  mapfile -t files < <(python3 -c "
import json, os, sys
ids = [i.split('/', 1)[1] for i in json.load(open('$split'))['test'] if i.startswith('$set/')]
folder = os.path.join('$root', '${stimuli[$set]}')
names = {os.path.splitext(n)[0]: n for n in os.listdir(folder)}
print('\n'.join(os.path.join(folder, names[i]) for i in ids))")
  echo "== $set: ${#files[@]} test images"
  "$absnet" predict "${files[@]}" --model "$model" --out "$work/$set-model" > /dev/null
  "$absnet" eval baselines "$set:$root" --split "$split" --part test --centre-bias "$work/$set-centre"
  for kind in model centre; do
    echo "-- $kind"
    "$absnet" eval saliency "$set:$root" "$work/$set-$kind" --sigma-fraction 0.03 | grep -v '^skipped\|more skipped'
  done
done
