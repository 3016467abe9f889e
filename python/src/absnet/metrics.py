"""The saliency and image-rating (aesthetics, quality) benchmarks' metrics over numpy arrays, computed by absnet's Rust
metrics (checked against pysaliency 0.2.22 and the MIT benchmark's MATLAB code).

Argument conventions follow pysaliency's `metrics` module: maps are 2-D arrays indexed
[row, column]; fixations are `xs` (columns) and `ys` (rows) in pixels of the map, 0-based, each
counting for the pixel (floor x, floor y). Where absnet differs:

- `NSS` returns the mean over the fixations (pysaliency returns one value per fixation:
  `np.mean(pysaliency.metrics.NSS(...))` equals `absnet.metrics.NSS(...)`).
- `conventions="mit"` selects the MIT benchmark's variant (std with N − 1 and one count per
  fixated pixel for NSS; similarity.m for SIM), `"pysaliency"` (the default) pysaliency's.
- `AUC_Judd`, `AUC_Borji` and `sAUC` have no pysaliency function of that name: `AUC_Judd` is
  pysaliency's `general_roc(positives, unfixated values, judd=1)`, `AUC_Borji`/`sAUC` the MIT
  benchmark's AUC_Borji.m / AUC_shuffled.m (seeded splits), `general_roc_auc` pysaliency's
  `general_roc(positives, negatives, judd=0)` (its shuffled AUC).

Bad arguments (wrong shape or dtype, NaN, fixations outside the map) raise ValueError naming
the argument.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import _absnet

__all__ = [
    "density_map", "NSS", "CC", "SIM", "MIT_KLDiv", "image_based_kl_divergence", "AUC_Judd", "AUC_Borji", "sAUC",
    "general_roc_auc", "information_gain", "emd", "mean_score", "score_std", "srcc", "plcc",
    "krcc", "plcc_logistic", "rmse", "binary_accuracy",
]


def _map(array, name: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{name}: expected a 2-D numpy array, got {type(array).__name__}")
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name}: shape {array.shape}; expected a non-empty 2-D map")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise ValueError(f"{name}: dtype {array.dtype}; expected numbers")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return array


def _values(values, name: str) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: shape {array.shape}; expected a 1-D sequence of numbers")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return array.tolist()


def _fixations(saliency_map: np.ndarray, xs, ys, names=("xs", "ys")) -> tuple[list[float], list[float]]:
    xs, ys = _values(xs, names[0]), _values(ys, names[1])
    if len(xs) != len(ys):
        raise ValueError(f"{names[0]} and {names[1]}: {len(xs)} and {len(ys)} values; expected as many")
    height, width = saliency_map.shape
    for i, (x, y) in enumerate(zip(xs, ys)):
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"{names[0]}[{i}], {names[1]}[{i}] = ({x}, {y}) lies outside the {width}×{height} map")
    return xs, ys


def _conventions(conventions: str) -> bool:
    if conventions not in ("pysaliency", "mit"):
        raise ValueError(f"conventions: {conventions!r}; expected 'pysaliency' or 'mit'")
    return conventions == "mit"


def _pair(saliency_map_1, saliency_map_2) -> tuple[np.ndarray, np.ndarray]:
    a, b = _map(saliency_map_1, "saliency_map_1"), _map(saliency_map_2, "saliency_map_2")
    if a.shape != b.shape:
        raise ValueError(f"saliency_map_1 and saliency_map_2: shapes {a.shape} and {b.shape} differ")
    return a, b


def density_map(width: int, height: int, xs, ys, sigma: float, mode: str = "constant") -> np.ndarray:
    """The ground-truth density of fixations: a map counting them per pixel blurred by a
    Gaussian of `sigma` pixels — exactly scipy's `gaussian_filter(counts, sigma, mode=mode,
    truncate=4.0)` (`mode` "constant" or "reflect"); float64 (height, width), not normalised."""
    if mode not in ("constant", "reflect"):
        raise ValueError(f"mode: {mode!r}; expected 'constant' or 'reflect'")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma: {sigma}; expected a positive number of pixels")
    xs, ys = _values(xs, "xs"), _values(ys, "ys")
    return _absnet.density_map(int(width), int(height), xs, ys, float(sigma), mode == "reflect")


def NSS(saliency_map, xs, ys, conventions: str = "pysaliency") -> float:
    """Normalised scanpath saliency: the mean standardised map value at the fixations."""
    m = _map(saliency_map, "saliency_map")
    return _absnet.nss(m, *_fixations(m, xs, ys), _conventions(conventions))


def CC(saliency_map_1, saliency_map_2) -> float:
    """Pearson's correlation of the two maps."""
    return _absnet.cc(*_pair(saliency_map_1, saliency_map_2))


def SIM(saliency_map_1, saliency_map_2, conventions: str = "pysaliency") -> float:
    """Similarity (histogram intersection) of the two maps as distributions."""
    return _absnet.sim(*_pair(saliency_map_1, saliency_map_2), _conventions(conventions))


def MIT_KLDiv(saliency_map_1, saliency_map_2) -> float:
    """KL divergence of map 1 from map 2 (the ground truth) as the MIT benchmark's KLdiv.m
    computes it (pysaliency's `MIT_KLDiv`)."""
    return _absnet.kld(*_pair(saliency_map_1, saliency_map_2), True)


def image_based_kl_divergence(saliency_map_1, saliency_map_2) -> float:
    """pysaliency's `image_based_kl_divergence` with its default regularisation."""
    return _absnet.kld(*_pair(saliency_map_1, saliency_map_2), False)


def AUC_Judd(saliency_map, xs, ys, duplicates: str = "keep") -> float:
    """Area under the ROC curve with every fixated value as a threshold, the unfixated pixels as
    negatives (`duplicates="collapse"` counts each fixated pixel once, as AUC_Judd.m)."""
    m = _map(saliency_map, "saliency_map")
    return _absnet.auc_judd(m, *_fixations(m, xs, ys), duplicates)


def AUC_Borji(saliency_map, xs, ys, splits: int = 100, step: float = 0.1, seed: int = 0) -> float:
    """AUC_Borji.m: uniformly sampled negatives, thresholds every `step`, mean over `splits`."""
    m = _map(saliency_map, "saliency_map")
    return _absnet.auc_borji(m, *_fixations(m, xs, ys), int(splits), float(step), int(seed))


def sAUC(saliency_map, xs, ys, other_xs, other_ys, splits: int = 100, step: float = 0.1, seed: int = 0) -> float:
    """AUC_shuffled.m: negatives drawn from other images' fixations (`other_xs`, `other_ys`)."""
    m = _map(saliency_map, "saliency_map")
    xs, ys = _fixations(m, xs, ys)
    others = _fixations(m, other_xs, other_ys, names=("other_xs", "other_ys"))
    return _absnet.auc_shuffled(m, xs, ys, *others, int(splits), float(step), int(seed))


def general_roc_auc(positives, negatives) -> float:
    """pysaliency's `general_roc(positives, negatives, judd=0)`: every value a threshold."""
    return _absnet.roc_auc(_values(positives, "positives"), _values(negatives, "negatives"))


def information_gain(saliency_map, baseline_map, xs, ys, duplicates: str = "keep") -> float:
    """Bits per fixation over a baseline (InfoGain.m; `duplicates="collapse"` as the MIT code)."""
    m = _map(saliency_map, "saliency_map")
    b = _map(baseline_map, "baseline_map")
    if m.shape != b.shape:
        raise ValueError(f"saliency_map and baseline_map: shapes {m.shape} and {b.shape} differ")
    return _absnet.information_gain(m, b, *_fixations(m, xs, ys), duplicates)


def emd(predicted: Sequence[float], target: Sequence[float], r: int = 2) -> float:
    """Earth mover's distance between two score distributions over 1–10 (NIMA's, r = 1 or 2)."""
    return _absnet.emd(_values(predicted, "predicted"), _values(target, "target"), int(r))


def mean_score(distribution: Sequence[float]) -> float:
    return _absnet.mean_score(_values(distribution, "distribution"))


def score_std(distribution: Sequence[float]) -> float:
    return _absnet.score_std(_values(distribution, "distribution"))


def srcc(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    return _absnet.srcc(_values(a, "a"), _values(b, "b"))


def plcc(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson's linear correlation."""
    return _absnet.plcc(_values(a, "a"), _values(b, "b"))


def krcc(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (`scipy.stats.kendalltau`)."""
    return _absnet.krcc(_values(a, "a"), _values(b, "b"))


def plcc_logistic(predicted: Sequence[float], target: Sequence[float]) -> float:
    """Pearson's correlation after mapping `predicted` onto `target` by the 4-parameter logistic
    least-squares fit (the IQA literature's PLCC)."""
    return _absnet.plcc_logistic(_values(predicted, "predicted"), _values(target, "target"))


def rmse(a: Sequence[float], b: Sequence[float]) -> float:
    """Root mean squared error."""
    return _absnet.rmse(_values(a, "a"), _values(b, "b"))


def binary_accuracy(predicted: Sequence[float], target: Sequence[float], threshold: float = 5.0) -> float:
    """The share of mean scores on the same side of `threshold`."""
    return _absnet.binary_accuracy(_values(predicted, "predicted"), _values(target, "target"), float(threshold))
