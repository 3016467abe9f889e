"""The leave-out images a model misses most, as one picture: its heatmap over each photo with the
human fixations as dots (for MIT1003, the first, central one of each scanpath left out, as
scored).

Usage: python scripts/worst_overlays.py SCORES_JSON DATASET PREDICTIONS_DIR OUT.jpg TITLE
  SCORES_JSON: an `absnet eval saliency --json` report with per-image scores
               (scripts/evaluate_lodo.sh leaves one in runs/lodo-evaluation/SET/model.json)
  DATASET: fixatons:DIR (MIT1003: STIMULI/, SCANPATHS/), osie:DIR or scene:DIR
  PREDICTIONS_DIR: `absnet predict` output for those images (NAME.overlay.jpg); --list prints
               the 20 images' paths instead, to predict them first
(matplotlib and scipy; the reference side only)
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fixations(kind, root, name):
    """The fixations' (xs, ys) on image `name`, in pixels from the top left."""
    root = Path(root)
    if kind == "fixatons":
        xs, ys = [], []
        for observer in (root / "SCANPATHS" / name).iterdir():
            lines = [l.split() for l in observer.read_text().splitlines() if l.strip()]
            for x, y, *_ in lines[1:]:
                xs.append(float(x))
                ys.append(float(y))
        return xs, ys
    import numpy as np
    import scipy.io as sio

    if kind == "osie":
        data = sio.loadmat(root / "data/eye/fixations.mat", squeeze_me=True, struct_as_record=False)
        entry = next(f for f in data["fixations"] if Path(f.img).stem == name)
        xs = np.concatenate([np.atleast_1d(s.fix_x) for s in entry.subjects]) - 1
        ys = np.concatenate([np.atleast_1d(s.fix_y) for s in entry.subjects]) - 1
        return xs, ys
    if kind == "scene":
        cells = sio.loadmat(root / "data/tidy/fixations.mat", squeeze_me=True)["fixations"]
        rows = [np.atleast_2d(c) for c in cells[int(name) - 1] if np.size(c)]
        points = np.concatenate(rows) if rows else np.zeros((0, 4))
        return points[:, 1], points[:, 0]
    raise SystemExit(f"{kind}: expected fixatons, osie or scene")


def stimulus(kind, root, name):
    root = Path(root)
    folder = root / "STIMULI" if kind == "fixatons" else root / "data/stimuli"
    return next(folder.glob(f"{name}.*"))


scores, dataset, predictions, out, title = sys.argv[1:6]
kind, root = dataset.split(":", 1)
worst = sorted(json.load(open(scores))["per_image"], key=lambda p: p["nss"])[:20]
if predictions == "--list":
    print("\n".join(str(stimulus(kind, root, image["image"])) for image in worst))
    sys.exit()
fig, axes = plt.subplots(4, 5, figsize=(20, 13))
for ax, image in zip(axes.flat, worst):
    name = image["image"]
    ax.imshow(plt.imread(Path(predictions) / f"{name}.overlay.jpg"))
    xs, ys = fixations(kind, root, name)
    ax.scatter(xs, ys, s=6, c="white", edgecolors="black", linewidths=0.4)
    ax.set_title(f"{name[:28]}  NSS {image['nss']:.2f}  AUC {image['auc_judd']:.2f}", fontsize=9)
    ax.axis("off")
fig.suptitle(f"{title} — heatmap = prediction, dots = human fixations", fontsize=14)
fig.tight_layout()
fig.savefig(out, dpi=60, pil_kwargs={"quality": 80})
