#!/usr/bin/env bash
# usage: lodo.sh NAME CONFIG LEFT_OUT [extra --set args...]
set -euo pipefail
cd /work/main
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
target/release/absnet export "$run" -o "$run.safetensors" ${EXPORT_FLAGS:-} > /dev/null
bash scripts/evaluate_lodo.sh "$left" "$run.safetensors" > "$run.eval" 2>&1
end=$(date +%s)
echo "$name $left train $((mid-start)) s eval $((end-mid)) s: $(tail -2 $run.eval | tr '\n' ' ')" | tee -a runs/lodo-results.txt
