#!/usr/bin/env bash
# The multi-task ablation of docs/multi-task.md: each configuration trained from
# models/experiments/multitask-ablation.toml (saliency on OSIE + Scene, LIVE-C quality on
# study split 1, one MobileNetV2 whose layers past c4 the tasks share), exported at its best
# epoch (by the first task's validation score), then scored on all of MIT1003 (left out; gap
# closed with scripts/evaluate_lodo.sh) and on split 1's LIVE-C test part. One JSON line per run
# in runs/ablation/results.jsonl.
# Usage: LIVEC=DIR bash scripts/multitask_ablation.sh SEED CONFIGURATION…
#   configurations: frozen saliency quality shared summed alternating, saliency-one-rate
#   (saliency alone at summed's one learning rate, 1e-3 for every group), and the balancing
#   methods uncertainty dwa gradnorm pcgrad famo (equal is "shared"; fixed with its default
#   weights of 1 is the same run)
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=${LIVEC:?set LIVEC to the full LIVE-C release folder (the public repository yuyi-sd/BAIQA, data/ChallengeDB_release)}
seed=$1; shift
absnet=${ABSNET:-target/release/absnet}
base=models/experiments/multitask-ablation.toml
split=models/splits/livec-study/split-1.json
mkdir -p runs/ablation
# summed's one learning rate, 1e-3, for the shared blocks and the saliency head
one_rate=(--set "groups.shared.lr=0.001" --set "groups.saliency.lr=0.001")
for configuration in "$@"; do
  run=runs/ablation/$configuration-$seed
  config=$base
  sets=(--set "seed=$seed" --set "quality.datasets=[\"livec:$dataset\"]")
  case $configuration in
    frozen) sets+=(--set "groups.shared.frozen_epochs=100") ;;   # nothing past c4 trains either
    saliency | quality | saliency-one-rate)
      # The other task's sections left out of a copy of the config.
      other=$([[ $configuration == quality ]] && echo saliency || echo quality)
      config=runs/ablation/$configuration-only.toml
      python3 - "$base" "$other" > "$config" <<'PY'
import re, sys
text, other = open(sys.argv[1]).read(), sys.argv[2]
drop = {other, f"{other}.loss", f"model.heads.{other}", f"groups.{other}"}
sections = re.split(r"(?m)^(?=\[)", text)
print("".join(s for s in sections if not (s.startswith("[") and s[1:s.index("]")] in drop)), end="")
PY
      if [[ $configuration != quality ]]; then sets=(--set "seed=$seed"); fi
      # saliency alone at summed's rate: what summed's saliency owes to the rate
      if [[ $configuration == saliency-one-rate ]]; then sets+=("${one_rate[@]}"); fi ;;
    shared) ;;                                                    # one optimizer and rate per group
    summed) sets+=("${one_rate[@]}" --set "groups.quality.lr=0.001") ;;
    alternating) sets+=(--set 'task_schedule={kind="alternating", round_steps=10}') ;;
    uncertainty | dwa | pcgrad | famo) sets+=(--set "balancing.method=\"$configuration\"") ;;
    gradnorm) sets+=(--set 'balancing.method="grad_norm"') ;;
    *) echo "unknown configuration $configuration" >&2; exit 2 ;;
  esac
  start=$(date +%s)
  "$absnet" train "$config" --run "$run" --overwrite "${sets[@]}" > "$run.out" 2>&1
  mid=$(date +%s)
  "$absnet" export "$run" -o "$run.safetensors" --force --flip-average > /dev/null
  saliency=null; quality=null
  if [[ $configuration != quality ]]; then
    bash scripts/evaluate_lodo.sh mit1003 "$run.safetensors" > "$run.eval" 2>&1
    saliency=$(cat runs/lodo-evaluation/mit1003/model.json | tr -d '\n ')
  fi
  if [[ $configuration != saliency* ]]; then
    quality=$("$absnet" eval quality "livec:$dataset" --model "$run.safetensors" \
      --split "$split" --part test --json | tr -d '\n ')
  fi
  end=$(date +%s)
  gap=$(grep -h "of the way" "$run.eval" 2>/dev/null | tr '\n' ' ' || true)
  echo "{\"configuration\": \"$configuration\", \"seed\": $seed, \"train_s\": $((mid-start)), \"eval_s\": $((end-mid)), \"mit1003\": $saliency, \"gap\": \"$gap\", \"livec_test\": $quality}" >> runs/ablation/results.jsonl
  tail -1 runs/ablation/results.jsonl | cut -c1-400
done
