"""Reference values for absnet's metrics, from pysaliency 0.2.22, scipy and NumPy ports of the
MIT benchmark's MATLAB code (cvzoya/saliency code_forMetrics), on real data:

- the first 20 OSIE images with all 15 observers' fixations (../shared/data/osie), four kinds of
  prediction map each: a centre-bias Gaussian, the blurred density of the first 8 observers, uniform
  noise from the seeded generator of make_fixtures.py, and a constant map; ground truth = the
  density of all observers (sigma 24 px, scipy gaussian_filter, mode 'constant');
- AVA vote counts of the first 2000 images in ../shared/data/ava-labels against a deterministic
  perturbation of them.

Writes tests/fixtures/metrics_reference.json. Run from the repository root:
  .venv-ref/bin/python scripts/reference/metrics_reference.py
"""

import json
from pathlib import Path

import numpy as np
import scipy.io
import scipy.ndimage
import scipy.stats
from pysaliency import metrics
from pysaliency.roc import general_roc
from pysaliency.saliency_map_models import _get_unfixated_values

from make_fixtures import uniform

ROOT = Path(__file__).resolve().parents[2]
OSIE = ROOT.parent / "shared" / "data" / "osie"
AVA = ROOT.parent / "shared" / "data" / "ava-labels" / "data" / "AVA" / "ava_labels_test.json"
OUT = ROOT / "tests" / "fixtures" / "metrics_reference.json"
W, H, SIGMA = 800, 600, 24.0
IMAGES, SPLITS, SEEDED_SPLITS = 20, 10, 1000
MIT_EPS = np.finfo(float).eps


def osie_fixations():
    """Per image: list over observers of (x, y) arrays, 0-based (the 1-based values minus one)."""
    mat = scipy.io.loadmat(OSIE / "data" / "eye" / "fixations.mat", squeeze_me=True, struct_as_record=False)
    out = []
    for entry in mat["fixations"]:
        observers = []
        for s in np.atleast_1d(entry.subjects):
            xs = np.atleast_1d(np.asarray(s.fix_x, dtype=float)) - 1.0
            ys = np.atleast_1d(np.asarray(s.fix_y, dtype=float)) - 1.0
            observers.append((xs, ys))
        out.append((str(entry.img), observers))
    return out


def pixels(observers):
    xs = np.concatenate([o[0] for o in observers])
    ys = np.concatenate([o[1] for o in observers])
    inside = (xs >= 0) & (ys >= 0) & (xs < W) & (ys < H)
    return ys[inside].astype(int), xs[inside].astype(int)


def density(observers, mode="constant"):
    counts = np.zeros((H, W))
    r, c = pixels(observers)
    np.add.at(counts, (r, c), 1.0)
    return scipy.ndimage.gaussian_filter(counts, SIGMA, mode=mode, truncate=4.0)


def centre_map():
    y, x = np.mgrid[0:H, 0:W].astype(float)
    return np.exp(-((x - (W - 1) / 2) ** 2 / (2 * (W / 6) ** 2) + (y - (H - 1) / 2) ** 2 / (2 * (H / 6) ** 2)))


def minmax_density(m):
    lo, hi = m.min(), m.max()
    if hi == lo:
        return np.full(m.shape, 1.0 / m.size)
    m = (m - lo) / (hi - lo)
    return m / m.sum()


def mit_sim(a, b):  # similarity.m, constant map taken as uniform
    return np.minimum(minmax_density(a), minmax_density(b)).sum()


def mit_nss(m, r, c):  # NSS.m: binary fixation map, std with N - 1
    fix = np.zeros(m.shape, bool)
    fix[r, c] = True
    std = m.std(ddof=1)
    return ((m[fix] - m.mean()) / std).mean() if std else 0.0


def info_gain(m, base, r, c, collapse):  # InfoGain.m
    if collapse:
        fix = np.zeros(m.shape, bool)
        fix[r, c] = True
        r, c = np.nonzero(fix)
    p, b = minmax_density(m), minmax_density(base)
    return np.mean(np.log2(MIT_EPS + p[r, c]) - np.log2(MIT_EPS + b[r, c]))


def split_auc(m, r, c, samples, step=0.1):  # AUC_Borji.m / AUC_shuffled.m for given negatives
    lo, hi = m.min(), m.max()
    if hi == lo:
        return 0.5
    s = (m - lo) / (hi - lo)
    fix = np.zeros(m.shape, bool)
    fix[r, c] = True
    sth = s[fix]
    aucs = []
    for split in samples:
        cur = s[split[:, 0], split[:, 1]]
        top = max(sth.max(), cur.max())
        threshes = (np.arange(int(np.floor(top / step + 1e-10)) + 1) * step)[::-1]
        tp = [0.0] + [(sth >= t).mean() for t in threshes] + [1.0]
        fp = [0.0] + [(cur >= t).mean() for t in threshes] + [1.0]
        aucs.append(np.trapezoid(tp, fp) if hasattr(np, "trapezoid") else np.trapz(tp, fp))
    return float(np.mean(aucs))


def collapsed(r, c):
    fix = np.zeros((H, W), bool)
    fix[r, c] = True
    return np.argwhere(fix)  # (row, col), row-major


def borji_samples(rng, count, splits):
    idx = rng.integers(0, H * W, size=(splits, count))
    return [np.stack([i // W, i % W], axis=1) for i in idx]


def shuffled_samples(rng, pool, count, splits):
    take = min(count, len(pool))
    return [pool[rng.permutation(len(pool))[:take]] for _ in range(splits)]


def saliency_reference():
    data = osie_fixations()
    centre = centre_map()
    rng = np.random.default_rng(2020)
    images = []
    for i in range(IMAGES):
        name, observers = data[i]
        r, c = pixels(observers)
        gt = density(observers)
        maps = {
            "centre": centre,
            "half": density(observers[:8]),
            "noise": uniform(f"noise/{i}", H * W).reshape(H, W),
            "constant": np.ones((H, W)),
        }
        others = [(i + k) % len(data) for k in range(1, 11)]
        other_r, other_c = pixels([o for k in others for o in data[k][1]])
        pool = collapsed(other_r, other_c)
        count = len(collapsed(r, c))
        b_given = borji_samples(rng, count, SPLITS)
        s_given = shuffled_samples(rng, pool, count, SPLITS)
        b_seeded = borji_samples(rng, count, SEEDED_SPLITS)
        s_seeded = shuffled_samples(rng, pool, count, SEEDED_SPLITS)
        results = {}
        for kind, m in maps.items():
            positives = m[r, c].astype(float)
            results[kind] = {
                "nss_pysaliency": float(np.mean(metrics.NSS(m, c, r))),
                "nss_mit": float(mit_nss(m, r, c)),
                "cc": float(metrics.CC(m, gt)),
                "kld_mit": float(metrics.MIT_KLDiv(m, gt)),
                "kld_pysaliency": float(metrics.image_based_kl_divergence(m, gt)),
                "sim_pysaliency": float(metrics.SIM(m, gt)),
                "sim_mit": float(mit_sim(m, gt)),
                "ig_keep": float(info_gain(m, centre, r, c, collapse=False)),
                "ig_collapse": float(info_gain(m, centre, r, c, collapse=True)),
                "auc_judd": float(general_roc(positives, _get_unfixated_values(m, r, c).astype(float), judd=1)[0]),
                "auc_shuffled_pysaliency": float(general_roc(positives, m[other_r, other_c].astype(float), judd=0)[0]),
                "auc_borji_given": split_auc(m, r, c, b_given),
                "auc_shuffled_given": split_auc(m, r, c, s_given),
                "auc_borji_seeded": split_auc(m, r, c, b_seeded),
                "auc_shuffled_seeded": split_auc(m, r, c, s_seeded),
            }
        images.append({
            "index": i,
            "image": name,
            "others": others,
            "fixations": int(len(r)),
            "borji_samples": [s.tolist() for s in b_given],
            "shuffled_samples": [s.tolist() for s in s_given],
            "metrics": results,
        })
    probe = [(0, 0), (10, 10), (300, 400), (599, 799), (123, 456)]
    gt0 = density(data[0][1])
    reflect0 = density(data[0][1], mode="reflect")
    densities = {
        "constant": {"sum": float(gt0.sum()), "probes": [[y, x, float(gt0[y, x])] for y, x in probe]},
        "reflect": {"sum": float(reflect0.sum()), "probes": [[y, x, float(reflect0[y, x])] for y, x in probe]},
    }
    return images, densities


def perturbed(counts):
    """A deterministic prediction for vote counts: half the votes moved one bin up, plus one vote
    everywhere."""
    c = np.asarray(counts, float)
    return c + 0.5 * np.roll(c, 1) + 1.0


def aesthetics_reference():
    labels = json.loads(AVA.read_text())[:2000]
    gt = np.array([l["label"] for l in labels], float)
    pred = np.array([perturbed(c) for c in gt])
    bins = np.arange(1, 11)

    def norm(d):
        return d / d.sum(axis=1, keepdims=True)

    p, q = norm(pred), norm(gt)
    mean_p, mean_q = (p * bins).sum(1), (q * bins).sum(1)
    std_q = np.sqrt((q * (bins - mean_q[:, None]) ** 2).sum(1))
    cdf = np.abs(np.cumsum(p, 1) - np.cumsum(q, 1))
    return {
        "images": len(labels),
        "image_ids": [l["image_id"] for l in labels[:5]],
        "mean_score_first": mean_q[:5].tolist(),
        "mean_predicted": mean_p.tolist(),
        "mean_target": mean_q.tolist(),
        "std_score_first": std_q[:5].tolist(),
        "emd1_mean": float(cdf.mean(1).mean()),
        "emd2_mean": float(np.sqrt((cdf ** 2).mean(1)).mean()),
        "srcc": float(scipy.stats.spearmanr(mean_p, mean_q).statistic),
        "plcc": float(scipy.stats.pearsonr(mean_p, mean_q).statistic),
        "accuracy": float(((mean_p > 5) == (mean_q > 5)).mean()),
        "mse": float(((mean_p - mean_q) ** 2).mean()),
    }


def main():
    images, densities = saliency_reference()
    OUT.write_text(json.dumps({
        "sigma": SIGMA,
        "images": images,
        "density": densities,
        "aesthetics": aesthetics_reference(),
    }))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
