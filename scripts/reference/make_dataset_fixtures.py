"""Tiny datasets in the documented layouts of the formats that ../shared/data does not hold
(SALICON 2017, MIT1003, CAT2000, AVA.txt), and the OSIE layout at another image size, for the readers' tests. The .mat files are written by
scipy (MATLAB v5, compressed), the images by Pillow; AVA rows use real vote counts from
../shared/data/ava-labels. Writes tests/fixtures/datasets/. Run from the repository root:
  .venv-ref/bin/python scripts/reference/make_dataset_fixtures.py
"""

import json
import shutil
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "datasets"
AVA_LABELS = ROOT.parent / "shared" / "data" / "ava-labels" / "data" / "AVA" / "ava_labels_test.json"
W, H = 8, 6


def image(path: Path, seed: int, mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (H, W, 3) if mode == "RGB" else (H, W)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def binary_map(points):
    m = np.zeros((H, W), np.uint8)
    for x, y in points:
        m[y, x] = 255
    return m


def salicon2017():
    root = OUT / "salicon2017"
    for split, names in [("train", ["COCO_train2014_000000000009", "COCO_train2014_000000000025"]),
                         ("val", ["COCO_val2014_000000000042"]), ("test", ["COCO_test2014_000000000001"])]:
        for k, name in enumerate(names):
            image(root / "images" / split / f"{name}.jpg", k)
            if split == "test":
                continue
            image(root / "maps" / split / f"{name}.png", 10 + k, mode="L")
            # Two observers; the second saw nothing. fixations are 1-based [x, y].
            gaze = np.zeros((2,), dtype=[("location", "O"), ("timestamp", "O"), ("fixations", "O")])
            gaze[0] = (np.array([[1.0, 1.0], [8.0, 6.0]]), np.array([[10.0], [20.0]]),
                       np.array([[1.0, 1.0], [8.0, 6.0], [4.5, 3.5]]))
            gaze[1] = (np.zeros((0, 2)), np.zeros((0, 1)), np.zeros((0, 2)))
            (root / "fixations" / split).mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(root / "fixations" / split / f"{name}.mat", {"gaze": gaze.reshape(1, 2)}, do_compression=True)


def mit1003():
    root = OUT / "mit1003"
    for k, name in enumerate(["i05june05_static_street_boston_p1010764", "i1000886213"]):
        image(root / "ALLSTIMULI" / f"{name}.jpeg", 20 + k)
        image(root / "ALLFIXATIONMAPS" / f"{name}_fixMap.jpg", 30 + k, mode="L")
        points = [(0, 0), (3, 2), (7, 5)] if k == 0 else [(5, 1)]
        (root / "ALLFIXATIONMAPS").mkdir(parents=True, exist_ok=True)
        # PNG-like exactness matters for the points: JPEG would smear them, so save with quality 100
        # and no subsampling, as the benchmark's own binary maps are thresholded anyway.
        Image.fromarray(binary_map(points), "L").save(root / "ALLFIXATIONMAPS" / f"{name}_fixPts.jpg", quality=100, subsampling=0)


def osie_1024():
    """The OSIE layout holding 1024×768 images (as the same lab's EyeCrowd set does): three
    observers each, most fixations beyond 800×600, 1-based like OSIE's own file."""
    root = OUT / "osie-1024"
    rng = np.random.default_rng(70)
    entries = np.zeros((2,), dtype=[("img", "O"), ("subjects", "O")])
    for k, name in enumerate(["crowd1.jpg", "crowd2.jpg"]):
        path = root / "data" / "stimuli" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((768, 1024, 3), 60 + 40 * k, np.uint8)).save(path, quality=90)
        subjects = np.zeros((1, 3), dtype=[("fix_x", "O"), ("fix_y", "O"), ("fix_duration", "O")])
        for j in range(3):
            centre = (900.0, 700.0) if k == 0 else (850.0, 650.0)
            xy = np.round(rng.normal(centre, 25.0, size=(6, 2)), 1).clip(1, [1024, 768])
            subjects[0, j] = (xy[:, 0].reshape(1, -1), xy[:, 1].reshape(1, -1), np.full((1, 6), 250.0))
        entries[k] = (name, subjects)
    (root / "data" / "eye").mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "data" / "eye" / "fixations.mat", {"fixations": entries.reshape(1, 2)}, do_compression=True)


def cat2000():
    root = OUT / "cat2000" / "trainSet"
    for category, names in [("Action", ["001", "002"]), ("Sketch", ["001"])]:
        for k, name in enumerate(names):
            image(root / "Stimuli" / category / f"{name}.jpg", 40 + k)
            image(root / "FIXATIONMAPS" / category / f"{name}.jpg", 50 + k, mode="L")
            locs = np.zeros((H, W))
            locs[1, 2] = 1
            locs[4, 6] = 1
            if category == "Sketch":
                locs = locs.astype(bool)  # logical, as some releases store it
            (root / "FIXATIONLOCS" / category).mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(root / "FIXATIONLOCS" / category / f"{name}.mat", {"fixLocs": locs}, do_compression=True)


def ava():
    root = OUT / "ava"
    labels = json.loads(AVA_LABELS.read_text())[:4]
    rows = []
    for i, entry in enumerate(labels):
        rows.append(" ".join(str(v) for v in [i + 1, entry["image_id"], *entry["label"], 0, 15, 1396]))
        image(root / "images" / f"{entry['image_id']}.jpg", 60 + i)
    (root / "AVA.txt").write_text("\n".join(rows) + "\n")
    (root / "test.jpgl").write_text("\n".join(e["image_id"] for e in labels[2:]) + "\n")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    salicon2017()
    mit1003()
    osie_1024()
    cat2000()
    ava()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
