"""PyTorch eager timing of the prediction `absnet-bench predict` times: the same images decoded
(Pillow) and resized to the model input, normalised, and run through the same ABSNet-MobileNetV2
(saliency head only, output stride 8) in batches. Prints {"images_per_second": ...}."""

import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image

from make_fixtures import torch_absnet, imagenet_input


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", required=True, help="folder of images")
    parser.add_argument("--count", type=int, default=700)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    model = torch_absnet(args.threads)
    files = sorted(os.listdir(args.images))[: args.count]
    model(torch.zeros(1, 3, args.height, args.width))
    start = time.perf_counter()
    for i in range(0, len(files), args.batch):
        batch = []
        for name in files[i : i + args.batch]:
            image = Image.open(os.path.join(args.images, name)).convert("RGB")
            image = image.resize((args.width, args.height), Image.BILINEAR)
            batch.append(imagenet_input(np.asarray(image)))
        model(torch.cat(batch))
    seconds = time.perf_counter() - start
    print(json.dumps({"images_per_second": len(files) / seconds, "images": len(files)}))


if __name__ == "__main__":
    main()
