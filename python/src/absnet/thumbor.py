"""absnet as a thumbor detector: `/unsafe/300x200/smart/photo.jpg` crops around where people look.

In thumbor's configuration (the absnet wheel installed beside thumbor)::

    DETECTORS = ['absnet.thumbor']

For a smart request the detector predicts the photo's saliency with the built-in ``fast`` model (or
the model that the environment variable ``ABSNET_MODEL`` names: ``accurate`` or a model file), finds the window of the
requested aspect that keeps the most of it — the window ``absnet crop`` chooses — and hands
thumbor that window's centre as the one focal point, so that thumbor's crop, centred on the
focal points, is that window. A request without both sides uses the saliency's centre of mass.
The model runs off thumbor's event loop (it releases the GIL), so other requests go on.
"""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache

import numpy as np
from thumbor.detectors import BaseDetector
from thumbor.point import FocalPoint
from thumbor.utils import logger

from . import Model, crop


@lru_cache(maxsize=1)
def _model() -> Model:
    return Model(os.environ.get("ABSNET_MODEL") or "fast")


def focal_point(saliency: np.ndarray, width: int, height: int) -> tuple[float, float]:
    """Where thumbor should centre a `width` × `height` crop of a photo with this saliency map:
    the centre of absnet's best window of that aspect, or the saliency's centre of mass."""
    if width > 0 and height > 0:
        x, y, w, h, _ = crop(saliency, f"{width}:{height}")
        return x + w / 2.0, y + h / 2.0
    total = float(saliency.sum())
    rows, columns = np.indices(saliency.shape)
    if total <= 0.0:
        return saliency.shape[1] / 2.0, saliency.shape[0] / 2.0
    return float((columns * saliency).sum() / total), float((rows * saliency).sum() / total)


class Detector(BaseDetector):
    """thumbor's detector interface: appends absnet's focal point to the request's."""

    async def detect(self):
        engine = self.context.modules.engine
        try:
            pixels = np.asarray(engine.image.convert("RGB"))
            saliency = await asyncio.get_running_loop().run_in_executor(None, _model().predict, pixels)
        except Exception as error:  # a photo absnet cannot read leaves the other detectors
            logger.warning("absnet: no saliency for this image (%s); next detector", error)
            await self.next()
            return
        request = self.context.request
        x, y = focal_point(saliency, int(request.width or 0), int(request.height or 0))
        request.focal_points.append(FocalPoint(x, y, weight=1.0, origin="absnet"))
