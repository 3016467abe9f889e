"""absnet.thumbor in a real thumbor (installed from the package index), serving real photos from a
folder with its file loader on loopback: each smart crop is the window absnet chooses and holds the
predicted saliency peak, and thumbor without absnet crops differently."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import absnet

from conftest import REPO, SHARED, required

if not os.environ.get("CI"):
    pytest.importorskip("thumbor", reason="thumbor is not installed (python/requirements-test.txt installs it)")

SIZES = [(300, 200), (200, 300)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path, detectors: list[str], tmp_path: Path, name: str):
    """A thumbor on loopback reading `folder`, with `detectors`; returns (process, base URL)."""
    port = free_port()
    conf = tmp_path / f"{name}.conf"
    conf.write_text(
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = {str(folder)!r}\n"
        f"DETECTORS = {detectors!r}\n"
        "ALLOW_UNSAFE_URL = True\n"
        "STORAGE = 'thumbor.storages.no_storage'\n"
        "RESULT_STORAGE = None\n"
    )
    server = Path(sys.executable).parent / "thumbor"
    process = subprocess.Popen([str(server), "--port", str(port), "--ip", "127.0.0.1", "--conf", str(conf), "-l", "warning"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthcheck", timeout=1).read()
            return process, base
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stdout.read().decode())
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("thumbor did not start")


def crop_of(base: str, width: int, height: int, name: str, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """thumbor's crop (left, top, right, bottom) for a smart request, from its meta answer; the
    whole photo of `size` when it does not crop."""
    with urllib.request.urlopen(f"{base}/unsafe/meta/{width}x{height}/smart/{name}", timeout=120) as answer:
        meta = json.loads(answer.read())
    crops = [o for o in meta["thumbor"]["operations"] if o["type"] == "crop"]
    if not crops:
        return 0, 0, size[0], size[1]
    c = crops[0]
    return c["left"], c["top"], c["right"], c["bottom"]


def test_smart_crops_hold_where_people_look(tmp_path):
    livec = required(SHARED / "livec", "the real datasets live in ../shared/data beside the checkout")
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in [REPO / "samples" / "chelsea.png", REPO / "samples" / "coffee.png",
                 *sorted((livec / "images").glob("*.JPG"))[:4]]:
        shutil.copy(path, folder / path.name)
    model = absnet.Model()
    with_absnet, base = start(folder, ["absnet.thumbor"], tmp_path, "absnet")
    without, plain = start(folder, [], tmp_path, "plain")
    try:
        differs = 0
        for photo in sorted(folder.iterdir()):
            saliency = model.predict(photo)
            peak_y, peak_x = np.unravel_index(np.argmax(saliency), saliency.shape)
            for width, height in SIZES:
                size = (saliency.shape[1], saliency.shape[0])
                left, top, right, bottom = crop_of(base, width, height, photo.name, size)
                x, y, w, h, _ = absnet.crop(saliency, f"{width}:{height}")
                # thumbor centres its crop on the focal point: absnet's window, but for thumbor's
                # rounding (its focal points and crop sizes are whole pixels).
                assert abs(left - x) <= 3 and abs(top - y) <= 3, (photo.name, (left, top), (x, y))
                assert abs((right - left) - w) <= 3 and abs((bottom - top) - h) <= 3
                assert left <= peak_x < right and top <= peak_y < bottom, (photo.name, width, height)
                differs += crop_of(plain, width, height, photo.name, size) != (left, top, right, bottom)
        assert differs > 0, "thumbor without absnet cropped every photo the same way"
    finally:
        for process in (with_absnet, without):
            process.terminate()
            process.wait(timeout=10)
