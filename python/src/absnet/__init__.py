"""absnet: where people look in a photo (a saliency map), the crops that keep it, and the saliency
and aesthetics benchmarks' metrics — a Rust implementation of ABSNet (Liu et al., IEEE SPL 2020).

    import absnet
    model = absnet.Model()                      # the built-in `fast` model; Model("accurate")
    saliency = model.predict("photo.jpg")       # float32 (height, width), values in (0, 1)
    x, y, w, h, score = absnet.crop(saliency, "16:9", 0.8)

Images are paths or encoded bytes (any format the `absnet` command reads; EXIF orientation
applied) or numpy arrays of shape (height, width, 3): uint8, or floats in [0, 1]. The GIL is released while the
model runs, so threads predict in parallel.
"""

from __future__ import annotations

import os
from typing import Sequence, Union

import numpy as np

from . import _absnet, metrics

__all__ = ["Model", "crop", "metrics"]

ImageLike = Union[str, "os.PathLike[str]", bytes, np.ndarray]


def _image(image: ImageLike, name: str = "image"):
    """A path as a string, an encoded file's bytes, or the pixels as a C-contiguous uint8
    (height, width, 3) array."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name}: expected a path, bytes or a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name}: shape {image.shape}; expected (height, width, 3)")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError(f"{name}: holds NaN or infinite values")
        if image.min() < 0.0 or image.max() > 1.0:
            raise ValueError(f"{name}: float values must lie in [0, 1] (got {image.min()} to {image.max()})")
        return np.ascontiguousarray(np.round(image * 255.0).astype(np.uint8))
    raise ValueError(f"{name}: dtype {image.dtype}; expected uint8 or a float type in [0, 1]")


class Model:
    """A saliency model: `"fast"` (the default) or `"accurate"`, both built in, or the path of a
    model file written by `absnet export` (a file named `fast` is reached as `"./fast"`); `None`
    is the default. `size`
    is the input (width, height), `fit` `resize` or `letterbox`, `flip_average` whether each
    photo's prediction is averaged with its mirror image's (`None`: as the model's card says);
    `quality_model` a model whose quality head scores picture quality instead of this one's:
    `"quality"` (built in: its own 512×512 pass, closer to people's opinions) or a model file."""

    def __init__(
        self,
        model: str | os.PathLike[str] | None = "fast",
        size: tuple[int, int] | None = None,
        fit: str = "resize",
        flip_average: bool | None = None,
        quality_model: str | os.PathLike[str] | None = None,
    ):
        quality_model = os.fspath(quality_model) if quality_model is not None else None
        model = os.fspath(model if model is not None else "fast")
        self._model = _absnet.Model(model, size, fit, flip_average, quality_model)

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def input_size(self) -> tuple[int, int]:
        return self._model.input_size

    @property
    def has_aesthetics(self) -> bool:
        return self._model.has_aesthetics

    @property
    def has_quality(self) -> bool:
        return self._model.has_quality

    @property
    def quality_model(self) -> str | None:
        """The model that scores picture quality when it is not this one."""
        return self._model.quality_model

    def predict(self, image: ImageLike) -> np.ndarray:
        """The saliency map of `image`: float32 (height, width) in (0, 1), the values `absnet
        predict --format npy` writes."""
        return self._model.predict_batch([_image(image)])[0]

    def predict_batch(self, images: Sequence[ImageLike]) -> list[np.ndarray]:
        """The saliency maps of `images`, predicted in one batched forward pass."""
        return self._model.predict_batch([_image(image, f"images[{i}]") for i, image in enumerate(images)])

    def log_density(self, image: ImageLike) -> np.ndarray:
        """The saliency map as a log-density over the pixels (natural log; the density sums to
        1), float64: what information gain and log-likelihood score."""
        return self._model.log_density(_image(image))

    def aesthetics(self, image: ImageLike) -> dict:
        """The score distribution over 1–10 (`distribution`, `mean`, `std`); RuntimeError when the
        model has no trained aesthetics head (the shipped one has none)."""
        return self._model.aesthetics(_image(image))

    def quality(self, image: ImageLike) -> dict:
        """Perceived picture quality (LIVE-C's scale): `score` on 0–100 and its `distribution`
        over ten bins, from the encoder and the quality head alone (the quality model's, when
        there is one); RuntimeError when the model has no trained quality head."""
        return self._model.quality(_image(image))

    def __repr__(self) -> str:
        return f"absnet.Model({self.name!r}, input_size={self.input_size})"


def crop(saliency_map: np.ndarray, aspect: str, scale: float = 1.0) -> tuple[int, int, int, int, float]:
    """The crop window of `aspect` ("16:9") at `scale` (a share of the largest window's side,
    in (0, 1]) that keeps the most saliency: (x, y, width, height, score), as `absnet crop`."""
    array = metrics._map(saliency_map, "saliency_map").astype(np.float32)
    if not (0.0 < scale <= 1.0):
        raise ValueError(f"scale: {scale} is outside (0, 1]")
    return _absnet.crop_window(array, str(aspect), float(scale))
