"""From Python, in one run: absnet.metrics against pysaliency 0.2.22 over the 700 OSIE images (the
work `absnet-bench metrics` times: ground-truth density, NSS, CC, KLD (MIT), SIM, AUC-Judd,
shuffled AUC against the next 10 images' fixations, IG of a centre-bias map; loading not
timed; absnet on one thread and on a thread per core, since it releases the GIL), and what the
binding adds to prediction: absnet.Model
over the first N OSIE images in batches of 4 against the CLI's own `absnet-bench predict` on the
same images.

Run from the repository root, with the wheel and pysaliency installed:
    python python/bench_metrics.py [--images 700] [--predict 100]
"""

import argparse
import os
import importlib.util
import re
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.io
import scipy.ndimage

if importlib.util.find_spec("torch") is None:  # pysaliency imports torch for DeepGaze only
    torch = types.ModuleType("torch")
    torch.Tensor = type("Tensor", (), {})
    sys.modules["torch"] = torch

from pysaliency import metrics as pys  # noqa: E402
from pysaliency.roc import general_roc  # noqa: E402
from pysaliency.saliency_map_models import _get_unfixated_values  # noqa: E402

import absnet  # noqa: E402
from absnet import metrics  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OSIE = REPO.parent / "shared" / "data" / "osie"
W, H, SIGMA = 800, 600, 24.0
EPS = np.finfo(float).eps


def fixations():
    mat = scipy.io.loadmat(OSIE / "data" / "eye" / "fixations.mat", squeeze_me=True, struct_as_record=False)
    out = []
    for entry in mat["fixations"]:
        xs = np.concatenate([np.atleast_1d(np.asarray(s.fix_x, float)) - 1.0 for s in np.atleast_1d(entry.subjects)])
        ys = np.concatenate([np.atleast_1d(np.asarray(s.fix_y, float)) - 1.0 for s in np.atleast_1d(entry.subjects)])
        inside = (xs >= 0) & (ys >= 0) & (xs < W) & (ys < H)
        out.append((xs[inside], ys[inside]))
    return out


def centre():
    y, x = np.mgrid[0:H, 0:W].astype(float)
    return np.exp(-((x - (W - 1) / 2) ** 2 / (2 * (W / 6) ** 2) + (y - (H - 1) / 2) ** 2 / (2 * (H / 6) ** 2)))


def minmax_density(m):
    m = (m - m.min()) / (m.max() - m.min())
    return m / m.sum()


def with_pysaliency(data, m):
    start = time.perf_counter()
    for i, (xs, ys) in enumerate(data):
        r, c = ys.astype(int), xs.astype(int)
        counts = np.zeros((H, W))
        np.add.at(counts, (r, c), 1.0)
        gt = scipy.ndimage.gaussian_filter(counts, SIGMA, mode="constant", truncate=4.0)
        others = [data[(i + k) % len(data)] for k in range(1, 11)]
        other_r = np.concatenate([o[1] for o in others]).astype(int)
        other_c = np.concatenate([o[0] for o in others]).astype(int)
        np.mean(pys.NSS(m, xs, ys))
        pys.CC(m, gt)
        pys.MIT_KLDiv(m, gt)
        pys.SIM(m, gt)
        general_roc(m[r, c], _get_unfixated_values(m, r, c).astype(float), judd=1)
        general_roc(m[r, c], m[other_r, other_c].astype(float), judd=0)
        np.mean(np.log2(EPS + minmax_density(m)[r, c]) - np.log2(EPS + minmax_density(m)[r, c]))
    return time.perf_counter() - start


def one_image(data, m, i):
    xs, ys = data[i]
    gt = metrics.density_map(W, H, xs, ys, SIGMA)
    others = [data[(i + k) % len(data)] for k in range(1, 11)]
    other_r = np.concatenate([o[1] for o in others]).astype(int)
    other_c = np.concatenate([o[0] for o in others]).astype(int)
    r, c = ys.astype(int), xs.astype(int)
    metrics.NSS(m, xs, ys)
    metrics.CC(m, gt)
    metrics.MIT_KLDiv(m, gt)
    metrics.SIM(m, gt)
    metrics.AUC_Judd(m, xs, ys)
    metrics.general_roc_auc(m[r, c], m[other_r, other_c])
    metrics.information_gain(m, m, xs, ys)


def with_absnet(data, m, threads):
    """absnet releases the GIL inside every metric, so Python threads run images in parallel."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: one_image(data, m, i), range(len(data))))
    return time.perf_counter() - start


def binding_overhead(count):
    images = sorted((OSIE / "data" / "stimuli").glob("*.jpg"))[:count]
    model = absnet.Model()
    model.predict_batch(images[:4])
    start = time.perf_counter()
    for i in range(0, len(images), 4):
        model.predict_batch(images[i : i + 4])
    python = len(images) / (time.perf_counter() - start)
    cli = subprocess.run(
        [str(REPO / "target" / "release" / "absnet-bench"), "predict", "--count", str(count), "--batch", "4", "--images", str(OSIE / "data" / "stimuli")],
        check=True, capture_output=True, text=True, cwd=REPO,
    ).stdout
    native = float(re.search(r"absnet\s+([0-9.]+) images/s", cli).group(1))
    return python, native


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=700)
    parser.add_argument("--predict", type=int, default=100)
    args = parser.parse_args()
    data = fixations()[: args.images]
    m = centre()
    theirs = with_pysaliency(data, m)
    print(f"metrics over {len(data)} OSIE images from Python (pysaliency holds the GIL: one thread)")
    print(f"pysaliency            {theirs:8.2f} s")
    for threads in (1, os.cpu_count() or 1):
        ours = with_absnet(data, m, threads)
        print(f"absnet, {threads} thread{'s' if threads > 1 else ' '}     {ours:8.2f} s   speed-up {theirs / ours:5.1f}×")
    python, native = binding_overhead(args.predict)
    print(f"\nprediction over {args.predict} OSIE images, batches of 4 (decode, fit, forward, map back)")
    print(f"absnet CLI    {native:8.2f} images/s")
    print(f"absnet Python {python:8.2f} images/s")
    print(f"binding overhead {100 * (native / python - 1):+.1f} %")


if __name__ == "__main__":
    main()
