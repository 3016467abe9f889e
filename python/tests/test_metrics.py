"""absnet.metrics against pysaliency 0.2.22 (and scipy / the MIT formulas where pysaliency has no
function) on real OSIE fixations, to the tolerances of the Rust reference tests; bad arrays raise
ValueError naming the argument."""

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
from pysaliency import metrics as pys
from pysaliency.roc import general_roc
from pysaliency.saliency_map_models import _get_unfixated_values

from absnet import metrics

EXACT = 1e-6


def centre():
    y, x = np.mgrid[0:600, 0:800].astype(float)
    return np.exp(-((x - 399.5) ** 2 / (2 * (800 / 6) ** 2) + (y - 299.5) ** 2 / (2 * 100.0**2)))


def density(xs, ys):
    counts = np.zeros((600, 800))
    np.add.at(counts, (ys.astype(int), xs.astype(int)), 1.0)
    return scipy.ndimage.gaussian_filter(counts, 24.0, mode="constant", truncate=4.0)


def minmax_density(m):
    m = (m - m.min()) / (m.max() - m.min())
    return m / m.sum()


def test_every_saliency_metric_equals_pysaliency_on_osie(osie_fixations):
    base = centre()
    for name, xs, ys in osie_fixations:
        truth = density(xs, ys)
        half = density(xs[: len(xs) // 2], ys[: len(ys) // 2])
        for label, m in [("centre", base), ("half", half)]:
            r, c = ys.astype(int), xs.astype(int)
            checks = [
                ("NSS", metrics.NSS(m, xs, ys), float(np.mean(pys.NSS(m, xs, ys)))),
                ("CC", metrics.CC(m, truth), pys.CC(m, truth)),
                ("MIT_KLDiv", metrics.MIT_KLDiv(m, truth), pys.MIT_KLDiv(m, truth)),
                ("KLD", metrics.image_based_kl_divergence(m, truth), pys.image_based_kl_divergence(m, truth)),
                ("SIM", metrics.SIM(m, truth), pys.SIM(m, truth)),
                ("AUC-Judd", metrics.AUC_Judd(m, xs, ys), general_roc(m[r, c], _get_unfixated_values(m, r, c).astype(float), judd=1)[0]),
                ("sAUC", metrics.general_roc_auc(m[r, c], base[::7, ::9].ravel()), general_roc(m[r, c], base[::7, ::9].ravel(), judd=0)[0]),
                ("IG", metrics.information_gain(m, base, xs, ys),
                 np.mean(np.log2(np.finfo(float).eps + minmax_density(m)[r, c]) - np.log2(np.finfo(float).eps + minmax_density(base)[r, c]))),
            ]
            for metric, got, want in checks:
                assert abs(got - want) < EXACT, f"{name} {label} {metric}: {got} vs {want}"
        assert 0.5 < metrics.AUC_Borji(half, xs, ys) < 1.0
        others = osie_fixations[(osie_fixations.index((name, xs, ys)) + 1) % len(osie_fixations)]
        assert 0.3 < metrics.sAUC(half, xs, ys, others[1], others[2]) < 1.0


def test_aesthetics_metrics_equal_scipy():
    rng = np.random.default_rng(3)
    votes = rng.integers(1, 60, size=(50, 10)).astype(float)
    predicted = votes + rng.normal(0, 5, size=votes.shape).clip(-0.9, None)
    scores = np.arange(1, 11)
    mean = lambda d: float((d / d.sum() * scores).sum())
    cdf = lambda d: np.cumsum(d / d.sum())
    for p, t in zip(predicted, votes):
        assert abs(metrics.emd(p, t, 2) - np.sqrt(np.mean((cdf(p) - cdf(t)) ** 2))) < 1e-12
        assert abs(metrics.mean_score(p) - mean(p)) < 1e-12
    a, b = [mean(p) for p in predicted], [mean(t) for t in votes]
    assert abs(metrics.srcc(a, b) - scipy.stats.spearmanr(a, b)[0]) < 1e-12
    assert abs(metrics.plcc(a, b) - scipy.stats.pearsonr(a, b)[0]) < 1e-12
    assert abs(metrics.krcc(a, b) - scipy.stats.kendalltau(a, b)[0]) < 1e-12
    assert abs(metrics.rmse(a, b) - float(np.sqrt(np.mean((np.array(a) - np.array(b)) ** 2)))) < 1e-12
    # The logistic fit is iterative (checked against curve_fit in the Rust tests): here the
    # scores are nearly linear, so PLCC after it stays by the raw PLCC.
    assert abs(metrics.plcc_logistic(a, b) - metrics.plcc(a, b)) < 1e-2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metrics.NSS(np.full((4, 4), np.nan), [1.0], [1.0]), "saliency_map: holds NaN"),
        (lambda: metrics.NSS(np.zeros(16), [1.0], [1.0]), r"saliency_map: shape \(16,\)"),
        (lambda: metrics.NSS(np.zeros((4, 4), dtype="U1"), [1.0], [1.0]), "saliency_map: dtype"),
        (lambda: metrics.NSS(np.zeros((4, 4)), [1.0, 2.0], [1.0]), "xs and ys: 2 and 1 values"),
        (lambda: metrics.NSS(np.zeros((4, 4)), [9.0], [1.0]), r"xs\[0\], ys\[0\] = \(9.0, 1.0\) lies outside"),
        (lambda: metrics.CC(np.zeros((4, 4)), np.zeros((4, 5))), "shapes"),
        (lambda: metrics.emd([1.0, float("nan")], [1.0, 2.0]), "predicted: holds NaN"),
        (lambda: metrics.NSS(np.zeros((4, 4)), [1.0], [1.0], conventions="matlab"), "conventions"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_density_maps_equal_scipy(osie_fixations):
    _, xs, ys = osie_fixations[0]
    for mode in ("constant", "reflect"):
        counts = np.zeros((600, 800))
        np.add.at(counts, (ys.astype(int), xs.astype(int)), 1.0)
        want = scipy.ndimage.gaussian_filter(counts, 24.0, mode=mode, truncate=4.0)
        np.testing.assert_allclose(metrics.density_map(800, 600, xs, ys, 24.0, mode), want, atol=1e-12)
