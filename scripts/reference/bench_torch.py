"""PyTorch eager timing of the same ABSNet-MobileNetV2 that `absnet bench` times (output stride 8,
neck 256 ch with dilations 4/8/16, both heads), called by `absnet bench --reference PYTHON`.
Prints one JSON object: {"ms_per_image": median over repeats}."""

import argparse
import json
import time

import torch

from make_fixtures import torch_absnet


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    model = torch_absnet(args.threads)
    x = torch.randn(args.batch, 3, args.height, args.width)
    model(x)
    model(x)
    samples = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model(x)
        samples.append((time.perf_counter() - start) * 1e3 / args.batch)
    samples.sort()
    print(json.dumps({"ms_per_image": samples[len(samples) // 2], "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
