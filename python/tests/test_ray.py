"""The Ray Data example in Ray's local mode with 2 workers on real OSIE images: every map equals
the CLI's."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet

from conftest import REPO, cli_maps

sys.path.insert(0, str(REPO / "python" / "examples"))
import ray_predict  # noqa: E402


def test_ray_local_mode_maps_equal_the_cli(osie, absnet_binary, tmp_path):
    images = sorted((osie / "data" / "stimuli").glob("*.jpg"))[:8]
    folder = tmp_path / "images"
    folder.mkdir()
    for image in images:
        shutil.copy(image, folder / image.name)
    count = ray_predict.run(str(folder), str(tmp_path / "out"), workers=2, batch=3)
    assert count == 8
    expected = cli_maps(absnet_binary, images, tmp_path / "cli")
    for image in images:
        np.testing.assert_array_equal(np.load(tmp_path / "out" / "maps" / f"{image.stem}.saliency.npy"), expected[image.stem][0])
    table = pyarrow.parquet.read_table(tmp_path / "out" / "records")
    assert table.num_rows == 8 and set(table.column_names) >= {"path", "width", "height", "peak_x", "peak_y", "map"}
    assert {Path(p).name for p in table.column("path").to_pylist()} == {i.name for i in images}
