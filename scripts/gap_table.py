"""Prints, for scripts/evaluate_default.sh and scripts/evaluate_lodo.sh, a model's scores next to
the centre bias and inter-observer consistency, and how far the model goes from the first to the
second (NSS and AUC-Judd). Reads WORK/model.json and WORK/centre.json (`absnet eval saliency
--json`) and WORK/baselines.txt (`absnet eval baselines`). Python's standard library only.
Usage: python3 scripts/gap_table.py TITLE WORK"""

import json
import re
import sys

title, work = sys.argv[1], sys.argv[2]
model = json.load(open(f"{work}/model.json"))
centre = json.load(open(f"{work}/centre.json"))
text = open(f"{work}/baselines.txt").read()
observers = {name: float(value) for name, value in re.findall(r"(NSS|AUC-Judd|CC|KLD|SIM) (-?[0-9.]+)", text)}
metrics = [("NSS", "nss"), ("AUC-Judd", "auc_judd"), ("CC", "cc"), ("KLD", "kld"), ("SIM", "sim")]
print(f"\n{title}: {model['images']} images")
print("| map | " + " | ".join(name for name, _ in metrics) + " |")
print("|---|" + "---|" * len(metrics))
for label, means in [("centre bias", centre["means"]), ("model", model["means"])]:
    print(f"| {label} | " + " | ".join(f"{means[key]:.3f}" for _, key in metrics) + " |")
print("| inter-observer | " + " | ".join(f"{observers[name]:.3f}" for name, _ in metrics) + " |")
for name, key in metrics[:2]:
    gap = (model["means"][key] - centre["means"][key]) / (observers[name] - centre["means"][key])
    print(f"{name}: {100 * gap:.0f} % of the way from centre bias to inter-observer consistency")
