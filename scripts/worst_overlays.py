"""The leave-out images a model misses most, as one picture: its heatmap over each photo with the
human fixations as dots (the first, central one of each scanpath left out, as scored).

Usage: python scripts/worst_overlays.py RESULTS_JSONL CONFIGURATION PREDICTIONS_DIR DATASET_DIR OUT.jpg
  RESULTS_JSONL: runs/ablation/results.jsonl (per-image MIT1003 scores of each run)
  PREDICTIONS_DIR: `absnet predict` output for those images (NAME.overlay.jpg)
  DATASET_DIR: the FixaTons folder (STIMULI/, SCANPATHS/)
(matplotlib; the reference side only)
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, configuration, predictions, dataset, out = sys.argv[1:6]
rows = [json.loads(l) for l in open(results)]
row = next(r for r in rows if r["configuration"] == configuration)
worst = sorted(row["mit1003"]["per_image"], key=lambda p: p["nss"])[:20]
fig, axes = plt.subplots(4, 5, figsize=(20, 13))
for ax, image in zip(axes.flat, worst):
    name = image["image"]
    ax.imshow(plt.imread(Path(predictions) / f"{name}.overlay.jpg"))
    xs, ys = [], []
    for observer in (Path(dataset) / "SCANPATHS" / name).iterdir():
        lines = [l.split() for l in observer.read_text().splitlines() if l.strip()]
        for x, y, *_ in lines[1:]:
            xs.append(float(x))
            ys.append(float(y))
    ax.scatter(xs, ys, s=6, c="white", edgecolors="black", linewidths=0.4)
    ax.set_title(f"{name[:28]}  NSS {image['nss']:.2f}  AUC {image['auc_judd']:.2f}", fontsize=9)
    ax.axis("off")
fig.suptitle(
    f"MIT1003 left out: the 20 images with the lowest NSS ({configuration} run, seed 1) — "
    "heatmap = prediction, dots = human fixations",
    fontsize=14,
)
fig.tight_layout()
fig.savefig(out, dpi=60, pil_kwargs={"quality": 80})
