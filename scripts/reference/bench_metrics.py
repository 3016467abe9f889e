"""pysaliency timing of the saliency metrics `absnet-bench metrics` computes, over all 700 OSIE
images: ground-truth density (scipy gaussian_filter, sigma 24), NSS, CC, KLD (MIT), SIM,
AUC-Judd, shuffled AUC (negatives: the fixations of the next 10 images) and IG (InfoGain.m) of a
centre-bias prediction. Called by `absnet-bench metrics --reference PYTHON`; prints one JSON
object: {"seconds": ..., "images": ...}. Loading the fixations is not timed."""

import json
import time

import numpy as np
import scipy.ndimage
from pysaliency import metrics
from pysaliency.roc import general_roc
from pysaliency.saliency_map_models import _get_unfixated_values

from metrics_reference import H, SIGMA, W, centre_map, info_gain, osie_fixations, pixels


def main():
    data = osie_fixations()
    fixations = [pixels(observers) for _, observers in data]
    centre = centre_map()
    start = time.perf_counter()
    for i, (r, c) in enumerate(fixations):
        counts = np.zeros((H, W))
        np.add.at(counts, (r, c), 1.0)
        gt = scipy.ndimage.gaussian_filter(counts, SIGMA, mode="constant", truncate=4.0)
        m = centre
        positives = m[r, c]
        other_r = np.concatenate([fixations[(i + k) % len(data)][0] for k in range(1, 11)])
        other_c = np.concatenate([fixations[(i + k) % len(data)][1] for k in range(1, 11)])
        np.mean(metrics.NSS(m, c, r))
        metrics.CC(m, gt)
        metrics.MIT_KLDiv(m, gt)
        metrics.SIM(m, gt)
        general_roc(positives, _get_unfixated_values(m, r, c).astype(float), judd=1)
        general_roc(positives, m[other_r, other_c].astype(float), judd=0)
        info_gain(m, centre, r, c, collapse=False)
    print(json.dumps({"seconds": time.perf_counter() - start, "images": len(data)}))


if __name__ == "__main__":
    main()
