"""An absnet model where pysaliency expects a saliency-map model, so that existing evaluation
scripts run it unchanged:

    import pysaliency
    from absnet.pysaliency_model import AbsnetSaliencyMapModel
    model = AbsnetSaliencyMapModel()            # the built-in `fast` model, or ("accurate"), or (path)
    print(model.AUC(stimuli, fixations))        # any pysaliency SaliencyMapModel method

Needs pysaliency (`pip install absnet[pysaliency]`); pysaliency 0.2.22 also imports torch when it
is imported (for its DeepGaze wrappers), so torch must be installed too."""

from __future__ import annotations

import numpy as np
import pysaliency

from . import Model


class AbsnetSaliencyMapModel(pysaliency.SaliencyMapModel):
    """pysaliency's `SaliencyMapModel` whose maps absnet predicts (float64, at the stimulus's
    size; grayscale stimuli are repeated into three channels)."""

    def __init__(self, model: Model | str = "fast", **kwargs):
        super().__init__(**kwargs)
        self.model = model if isinstance(model, Model) else Model(model)

    def _saliency_map(self, stimulus):
        stimulus = np.asarray(stimulus)
        if stimulus.ndim == 2:
            stimulus = np.repeat(stimulus[:, :, None], 3, axis=2)
        if stimulus.dtype != np.uint8:
            stimulus = np.clip(np.round(stimulus), 0, 255).astype(np.uint8)
        return self.model.predict(stimulus[:, :, :3]).astype(np.float64)
