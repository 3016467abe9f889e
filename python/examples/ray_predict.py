"""Batch saliency prediction on Ray Data: a folder (or any Ray dataset with `bytes` and `path`
columns) is read as files, each worker loads one `absnet.Model` and predicts batches, writing
each map as `OUT/maps/STEM.saliency.npy` (float32, the values `absnet predict --format npy`
writes), and the records table (path, size, strongest peak, map file) goes to `OUT/records/` as
Parquet.

On this machine (Ray's local mode):
    python examples/ray_predict.py ../shared/data/osie/data/stimuli runs/ray --workers 2

On a cluster: start Ray there (`ray start --head`, then `ray start --address=HEAD:6379` on each
node, every node with `pip install absnet`), put the images and OUT on storage every node reaches
(a shared file system, or `s3://…` paths that Ray reads and writes), and run the same script with
`--address auto`; `--workers` sets how many model copies run in parallel."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import ray


class Predict:
    """One model per worker, loaded once; a batch of encoded images in, records out."""

    def __init__(self, out: str, model: str):
        import absnet

        self.model = absnet.Model(model)
        self.maps = Path(out) / "maps"
        self.maps.mkdir(parents=True, exist_ok=True)

    def __call__(self, batch: dict) -> dict:
        saliency = self.model.predict_batch([bytes(b) for b in batch["bytes"]])
        records = {"path": [], "width": [], "height": [], "peak_x": [], "peak_y": [], "map": []}
        for path, m in zip(batch["path"], saliency):
            file = self.maps / f"{Path(path).stem}.saliency.npy"
            np.save(file, m)
            y, x = np.unravel_index(int(np.argmax(m)), m.shape)
            for key, value in [("path", path), ("width", m.shape[1]), ("height", m.shape[0]),
                               ("peak_x", int(x)), ("peak_y", int(y)), ("map", str(file))]:
                records[key].append(value)
        return records


def run(images: str, out: str, workers: int = 2, batch: int = 4, model: str = "fast", address: str | None = None) -> int:
    """Predicts every image file under `images`; returns how many."""
    if not ray.is_initialized():
        # Locally: one CPU per model copy and one for reading the files.
        ray.init(address=address, num_cpus=None if address else workers + 1, include_dashboard=False, log_to_driver=False)
    # Workers receive `Predict` itself, so they need not import this file (as a module imported
    # from elsewhere, a test say, it would be sent by name).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    files = ray.data.read_binary_files(images, include_paths=True, file_extensions=["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"])
    records = files.map_batches(Predict, fn_constructor_args=(os.path.abspath(out), model), batch_size=batch, concurrency=workers, batch_format="numpy")
    records.write_parquet(str(Path(out).absolute() / "records"))
    return len(list(Path(out, "maps").glob("*.npy")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", help="a folder of images (or a Ray-readable path)")
    parser.add_argument("out", help="where maps/ and records/ go")
    parser.add_argument("--workers", type=int, default=2, help="model copies in parallel")
    parser.add_argument("--batch", type=int, default=4, help="images per forward pass")
    parser.add_argument("--model", default="fast", help="fast or accurate (built in), or a model file")
    parser.add_argument("--address", default=None, help="a Ray cluster's address (`auto` inside one)")
    args = parser.parse_args()
    count = run(args.images, args.out, args.workers, args.batch, args.model, args.address)
    print(f"{count} maps in {args.out}/maps, records in {args.out}/records")


if __name__ == "__main__":
    main()
