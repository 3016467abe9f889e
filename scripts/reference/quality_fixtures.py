"""Reference values of the image-rating metrics on LIVE-C's real opinion scores, from scipy:
SRCC, KRCC, PLCC (raw and after the 4-parameter logistic fit by `curve_fit`), RMSE, binary
accuracy at 50, the opinion distributions (a normal of MOS and SD over ten bins of 0-100, tails
in the end bins) and their EMD. Writes tests/fixtures/quality_reference.json.

The "predictions" are a fixed, monotone-but-not-linear distortion of the MOS with a
deterministic wobble, so every metric is away from its trivial value.
Usage: .venv/bin/python scripts/reference/quality_fixtures.py   (needs numpy and scipy only)
"""
import csv
import json
import math
from pathlib import Path

import numpy as np
from scipy import optimize, stats

ROOT = Path(__file__).resolve().parents[2]
rows = list(csv.DictReader(open(ROOT.parent / "shared/data/livec/labels.csv")))
mos = np.array([float(r["mos"]) for r in rows])
sd = np.array([float(r["sd"]) for r in rows])
index = np.arange(len(mos))
predicted = 100.0 / (1.0 + np.exp(-(mos - 50.0) / 15.0)) + 8.0 * np.sin(index * 0.7)


def logistic(x, b1, b2, b3, b4):
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / np.abs(b4))) + b2


beta0 = [mos.max(), mos.min(), predicted.mean(), predicted.std() / 4.0]
beta, _ = optimize.curve_fit(logistic, predicted, mos, p0=beta0, maxfev=100000)
mapped = logistic(predicted, *beta)

edges = np.arange(1, 10) * 10.0


def distribution(m, s):
    cdf = stats.norm.cdf(edges, loc=m, scale=s)
    return np.diff(np.concatenate([[0.0], cdf, [1.0]]))


def emd(p, q, r):
    return float(np.mean(np.abs(np.cumsum(p) - np.cumsum(q)) ** r) ** (1.0 / r))


first = [distribution(m, s) for m, s in zip(mos[:5], sd[:5])]
shifted = [distribution(m + 7.0, s * 1.2) for m, s in zip(mos[:5], sd[:5])]
out = {
    "images": len(mos),
    "srcc": stats.spearmanr(predicted, mos).statistic,
    "krcc": stats.kendalltau(predicted, mos).statistic,
    "plcc": stats.pearsonr(predicted, mos).statistic,
    "logistic_beta": list(beta),
    "plcc_logistic": stats.pearsonr(mapped, mos).statistic,
    "rmse": float(np.sqrt(np.mean((predicted - mos) ** 2))),
    "accuracy_50": float(np.mean((predicted > 50) == (mos > 50))),
    "distributions_first": [list(d) for d in first],
    "emd2_shifted_first": [emd(p, q, 2) for p, q in zip(shifted, first)],
}
path = ROOT / "tests/fixtures/quality_reference.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(path, {k: v for k, v in out.items() if not isinstance(v, list)})
