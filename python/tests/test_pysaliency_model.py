"""The pysaliency adapter: absnet's maps where pysaliency expects a saliency-map model, so
pysaliency's own evaluation runs it unchanged."""

import numpy as np
import pysaliency

import absnet
from absnet.pysaliency_model import AbsnetSaliencyMapModel


def test_pysaliency_evaluates_absnet_unchanged(osie, osie_fixations):
    model = absnet.Model()
    files = [str(osie / "data" / "stimuli" / name) for name, _, _ in osie_fixations[:4]]
    stimuli = pysaliency.FileStimuli(files)
    xs, ys, ns = [], [], []
    for n, (_, x, y) in enumerate(osie_fixations[:4]):
        xs.extend(x)
        ys.extend(y)
        ns.extend([n] * len(x))
    fixations = pysaliency.Fixations.create_without_history(np.array(xs), np.array(ys), np.array(ns))
    adapter = AbsnetSaliencyMapModel(model)
    np.testing.assert_array_equal(adapter.saliency_map(stimuli.stimuli[0]), model.predict(stimuli.stimuli[0]).astype(np.float64))
    nss = adapter.NSS(stimuli, fixations)
    auc = adapter.AUC(stimuli, fixations)
    assert nss > 1.0 and auc > 0.8, (nss, auc)
