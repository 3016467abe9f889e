"""The reference side of `absnet-bench predict`: the same model file (shipped.py rebuilds it from
its card and tensors) run over the same photos as a Python user would — Pillow decode, resize to
the model input (bilinear), normalise, forward in batches (mirror-averaged when the card says),
each map resized back to its photo — in PyTorch eager and in ONNX Runtime (the PyTorch model
exported with `torch.onnx.export`, opset 17, batch as a dynamic axis, `threads` intra-op
threads, all graph optimisations). Before timing, both are checked against absnet's own output
for one photo at exactly the input size (`--check-png`, with absnet's map `--check-map` and
quality distribution `--check-quality`): the largest absolute differences are reported.
With `--quality-only`, as `absnet predict --quality-only`: the encoder and the quality head
alone, no map. Prints one JSON object."""

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from bench_torch import onnxruntime_session
from shipped import ShippedModel


def photos(folder, count):
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))[:count]]


def throughput(model, files, batch, run):
    """Images per second of decode → fit → `run` → maps at each photo's size."""
    width, height = model.input
    run(model.normalise(np.zeros((1, height, width, 3), np.uint8)))
    start = time.perf_counter()
    for i in range(0, len(files), batch):
        images = [Image.open(path).convert("RGB") for path in files[i : i + batch]]
        fitted = np.stack([np.asarray(im.resize((width, height), Image.BILINEAR)) for im in images])
        outputs = run(model.normalise(fitted))
        if model.quality_only:
            continue
        for map_, image in zip(torch.as_tensor(outputs[0]), images):
            F.interpolate(map_[None], size=(image.height, image.width), mode="bilinear", align_corners=False)
    return len(files) / (time.perf_counter() - start)


def onnxruntime_run(model, threads):
    width, height = model.input
    outputs = ("quality",) if model.quality_only else ("saliency", "quality")
    session, version = onnxruntime_session(model, torch.zeros(2, 3, height, width), threads,
                                           outputs=outputs)
    if model.quality_only:
        return (lambda x: session.run(None, {"image": x.numpy()})[0]), version
    return (lambda x: session.run(None, {"image": x.numpy()})), version


def check(model, run, args):
    rgb = np.asarray(Image.open(args.check_png).convert("RGB"))[None]
    differences = {}
    if model.quality_only:
        quality = run(model.normalise(rgb))
    else:
        saliency, quality = run(model.normalise(rgb))
        ours = np.load(args.check_map)
        differences["map"] = float(np.abs(np.asarray(saliency)[0, 0] - ours).max())
    if args.check_quality:
        ours_quality = np.array(json.loads(args.check_quality))
        differences["quality"] = float(np.abs(np.asarray(quality)[0] - ours_quality).max())
    return differences


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="absnet model file")
    parser.add_argument("--images", required=True, help="folder of photos")
    parser.add_argument("--count", type=int, default=700)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check-png", required=True)
    parser.add_argument("--check-map", help="absnet's map of --check-png (.npy)")
    parser.add_argument("--check-quality", help="absnet's quality distribution (JSON list)")
    parser.add_argument("--quality-only", action="store_true",
                        help="the encoder and the quality head alone, as `predict --quality-only`")
    args = parser.parse_args()
    if not args.quality_only and not args.check_map:
        parser.error("--check-map is needed unless --quality-only")
    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    model = ShippedModel(args.model, quality_only=args.quality_only)
    ort_run, version = onnxruntime_run(model, args.threads)
    files = photos(args.images, args.count)
    result = {
        "torch": torch.__version__,
        "onnxruntime": version,
        "torch_max_abs_diff": check(model, model, args),
        "onnxruntime_max_abs_diff": check(model, ort_run, args),
        "torch_images_per_second": throughput(model, files, args.batch, model),
        "onnxruntime_images_per_second": throughput(model, files, args.batch, ort_run),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
