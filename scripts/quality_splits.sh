#!/usr/bin/env bash
# LIVE-C's protocol: ten random splits by image (seeds 1..10): 70/10/20 in
# models/splits/livec-study/ (the validation part picks the epoch), or with SPLITS=
# models/splits/livec-study-80 the same test parts at 80/20 (no validation part: the last epoch
# is kept). The test part is scored once. Trains CONFIG on each from cached frozen features,
# exports it and scores its test part with `absnet eval quality`; one JSON line per split in
# runs/NAME-splits.jsonl, then the median SRCC and PLCC over the splits.
# Usage: bash scripts/quality_splits.sh NAME CONFIG [--set KEY=VALUE …]
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1; config=$2; shift 2
dataset=${LIVEC:?set LIVEC to the full LIVE-C release folder (the public repository yuyi-sd/BAIQA, data/ChallengeDB_release)}

mkdir -p runs
results=runs/$name-splits.jsonl
: > "$results"
for seed in 1 2 3 4 5 6 7 8 9 10; do
  run=runs/$name-$seed
  split=${SPLITS:-models/splits/livec-study}/split-$seed.json
  start=$(date +%s)
  target/release/absnet train "$config" --run "$run" --overwrite \
    --set "quality.datasets=[\"livec:$dataset\"]" --set "quality.split=$split" \
    --set "quality.split_seed=$seed" "$@" > "$run.out" 2>&1
  target/release/absnet export "$run" -o "$run.safetensors" --force > /dev/null
  scores=$(target/release/absnet eval quality "livec:$dataset" --model "$run.safetensors" \
    --split "$split" --part test --json)
  echo "{\"seed\": $seed, \"seconds\": $(( $(date +%s) - start )), \"test\": $(echo "$scores" | tr -d '\n ')}" >> "$results"
  tail -1 "$results"
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for key in ["srcc", "plcc", "plcc_logistic", "krcc", "rmse"]:
    values = [r["test"][key] for r in rows]
    print(f"{key}: median {statistics.median(values):.4f}  (min {min(values):.4f}, max {max(values):.4f}, {len(values)} splits)")
print(f"cost: {sum(r['seconds'] for r in rows)} s in all")
PY
