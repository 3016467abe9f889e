"""Shared test support: the repository, the real data in ../shared/data (a test that needs it
fails under CI when it is missing, and is skipped with a message elsewhere), the `absnet` binary
to compare with, and OSIE's fixations."""

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

# pysaliency 0.2.22 imports torch when it is imported, for its DeepGaze wrappers only; the
# metrics and models the tests compare with never touch it, so a bare module stands in for it
# where torch is not installed (it is 700 MB with its CUDA libraries).
if importlib.util.find_spec("torch") is None:
    torch = types.ModuleType("torch")
    torch.Tensor = type("Tensor", (), {})  # scipy's array API checks isinstance(x, torch.Tensor)
    sys.modules["torch"] = torch

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"


def required(path: Path, how: str) -> Path:
    if path.exists():
        return path
    message = f"{path} is missing: {how}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def osie() -> Path:
    return required(SHARED / "osie", "the real datasets live in ../shared/data beside the checkout")


@pytest.fixture(scope="session")
def absnet_binary() -> Path:
    return required(Path(os.environ.get("ABSNET", REPO / "target" / "release" / "absnet")), "build it with cargo build --release")


@pytest.fixture(scope="session")
def osie_fixations(osie):
    """Per image: (file name, xs, ys) of every observer's fixations inside 800×600, 0-based."""
    import scipy.io

    mat = scipy.io.loadmat(osie / "data" / "eye" / "fixations.mat", squeeze_me=True, struct_as_record=False)
    images = []
    for entry in mat["fixations"][:12]:
        xs = np.concatenate([np.atleast_1d(np.asarray(s.fix_x, float)) - 1.0 for s in np.atleast_1d(entry.subjects)])
        ys = np.concatenate([np.atleast_1d(np.asarray(s.fix_y, float)) - 1.0 for s in np.atleast_1d(entry.subjects)])
        inside = (xs >= 0) & (ys >= 0) & (xs < 800) & (ys < 600)
        images.append((str(entry.img), xs[inside], ys[inside]))
    return images


def cli_maps(binary: Path, images: list[Path], out: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`absnet predict --format npy` of `images`: stem → (float map, log-density)."""
    subprocess.run([str(binary), "predict", *map(str, images), "--out", str(out), "--format", "npy",
                    "--overlay-format", "none", "--overwrite"], check=True, capture_output=True)
    return {p.stem: (np.load(out / f"{p.stem}.saliency.npy"), np.load(out / f"{p.stem}.log_density.npy")) for p in images}
