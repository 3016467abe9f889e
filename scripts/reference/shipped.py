"""absnet's shipped models (`fast`: MobileNetV2, `accurate`: EfficientNet-Lite2, or any model file
of that kind: a plain-stride mobile encoder, the DeepGaze-style saliency readout and the
picture-quality head) rebuilt in PyTorch from the model file itself — its card (the safetensors
metadata) for the architecture, its tensors by their own names — so `absnet-bench predict` can
time the product's own model in PyTorch eager and ONNX Runtime, and check their outputs against
absnet's.

`ShippedModel(path)(x)` takes normalised images `[batch, 3, h, w]` and returns what
`absnet predict` computes before mapping back to the photo: the saliency map at the input size
(the density scaled to a maximum of 1) and the quality distribution over 10 bins, averaged with
the mirror image's when the card says so. `ShippedModel(path, quality_only=True)` is
`absnet predict --quality-only`: the encoder and the quality head alone (a model trained for
quality alone, such as the built-in `quality`, has no saliency head), returning the
distribution."""

import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_fixtures import SameConv

# (kernel, stride, expansion, channels, repeats) per stage, and the last block at strides 4, 8, 16.
ARCHITECTURES = {
    "mobilenet_v2": dict(
        stages=[(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (3, 2, 6, 32, 3), (3, 2, 6, 64, 4),
                (3, 1, 6, 96, 3), (3, 2, 6, 160, 3), (3, 1, 6, 320, 1)],
        taps=(2, 5, 12), eps=1e-5, same=False),
    "efficientnet_lite2": dict(
        stages=[(3, 1, 1, 16, 1), (3, 2, 6, 24, 3), (5, 2, 6, 48, 3), (3, 2, 6, 88, 4),
                (5, 1, 6, 120, 4), (5, 2, 6, 208, 5), (3, 1, 6, 352, 1)],
        taps=(3, 6, 14), eps=1e-3, same=True),
}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def read_model_file(path):
    """The card and the tensors (as float32) of an absnet model file."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    card = json.loads(header.pop("__metadata__")["absnet_card"])
    kinds = {"F16": np.float16, "F32": np.float32}
    tensors = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], kinds[entry["dtype"]]).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.astype(np.float32))
    return card, tensors


class ConvNorm(nn.Module):
    def __init__(self, cin, cout, kernel, stride, groups, eps, same):
        super().__init__()
        # TensorFlow "same" padding where EfficientNet-Lite's released weights expect it.
        self.conv = (SameConv(cin, cout, kernel, stride, groups=groups, bias=False) if same
                     else nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False))
        self.norm = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x):
        return self.norm(self.conv(x))


class Block(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expansion, eps, same):
        super().__init__()
        hidden = cin * expansion
        if expansion != 1:
            self.expand = ConvNorm(cin, hidden, 1, 1, 1, eps, same)
        self.depthwise = ConvNorm(hidden, hidden, kernel, stride, hidden, eps, same)
        self.project = ConvNorm(hidden, cout, 1, 1, 1, eps, same)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self.expand(x)) if hasattr(self, "expand") else x
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class Backbone(nn.Module):
    def __init__(self, arch):
        super().__init__()
        spec = ARCHITECTURES[arch]
        eps, same = spec["eps"], spec["same"]
        self.stem = ConvNorm(3, 32, 3, 2, 1, eps, same)
        blocks, cin = [], 32
        for kernel, stride, expansion, cout, repeats in spec["stages"]:
            for r in range(repeats):
                blocks.append(Block(cin, cout, kernel, stride if r == 0 else 1, expansion, eps, same))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvNorm(cin, 1280, 1, 1, 1, eps, same)
        self.taps = spec["taps"]

    def forward(self, x):
        """The taps c2, c3, c4, c5."""
        x = F.relu6(self.stem(x))
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                taps.append(x)
        return taps + [F.relu6(self.head(x))]


class Standardise(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, x):
        return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)


def gaussian(n, sigma):
    """`[n, n]`: row i holds exp(−(i − j)² / 2σ²) over j, normalised to sum 1."""
    index = torch.arange(n, dtype=torch.float32)
    weights = torch.exp(-((index.view(-1, 1) - index.view(1, -1)) ** 2) / (2 * sigma**2))
    return weights / weights.sum(1, keepdim=True)


class Readout(nn.Module):
    def __init__(self, config, channels):
        super().__init__()
        widths = config["widths"]
        self.standardise = nn.ModuleList(Standardise(c) for c in channels)
        self.first = nn.ModuleList(nn.Conv2d(c, widths[0], 1, bias=i == 0) for i, c in enumerate(channels))
        outs = widths[1:] + [1]
        self.layers = nn.ModuleList(nn.Conv2d(i, o, 1) for i, o in zip(widths, outs))
        self.log_sigma = nn.Parameter(torch.zeros(1)) if config["blur"] > 0 else None
        columns, rows = config["centre_bias"]
        self.centre_bias = nn.Parameter(torch.zeros(1, 1, rows, columns))

    def forward(self, features):
        """The log-density over the first tap's grid."""
        h, w = features[0].shape[-2:]
        x = None
        for f, standardise, conv in zip(features, self.standardise, self.first):
            y = F.interpolate(conv(standardise(f)), size=(h, w), mode="bilinear", align_corners=False)
            x = y if x is None else x + y
        for conv in self.layers:
            x = conv(F.softplus(x))
        if self.log_sigma is not None:
            sigma = self.log_sigma.exp()
            x = gaussian(h, sigma) @ x @ gaussian(w, sigma).T
        prior = F.interpolate(self.centre_bias, size=(h, w), mode="bilinear", align_corners=False)
        logits = (x + prior).flatten(1)
        return F.log_softmax(logits, 1).view(-1, 1, h, w)


class Rating(nn.Module):
    def __init__(self, config, channels):
        super().__init__()
        assert config["pooling"] == "avg_std", "only the shipped avg_std pooling is rebuilt here"
        cells = sum(n * n for n in config["levels"])
        self.fc1 = nn.Linear(sum(channels) * cells * 2, config["hidden"])
        self.fc2 = nn.Linear(config["hidden"], config["bins"])
        self.levels = config["levels"]

    def pyramid(self, x):
        """Adaptive average pooling's cells (rows ⌊i·h/n⌋ to ⌈(i+1)·h/n⌉), written out: ONNX
        export refuses sizes that n does not divide."""
        h, w = x.shape[-2:]
        parts = []
        for n in self.levels:
            cells = [x[:, :, (i * h) // n : -(-(i + 1) * h // n), (j * w) // n : -(-(j + 1) * w // n)]
                     for i in range(n) for j in range(n)]
            mean = torch.stack([c.mean((2, 3)) for c in cells], 2)
            square = torch.stack([(c * c).mean((2, 3)) for c in cells], 2)
            std = ((square - mean * mean).clamp_min(0) + 1e-6).sqrt()
            parts.append(torch.cat([mean, std], 1).flatten(1))
        return torch.cat(parts, 1)

    def forward(self, features):
        pooled = [self.pyramid(x) for x in features]
        pooled = torch.cat([p / p.norm(dim=1, keepdim=True).clamp_min(1e-12) for p in pooled], 1)
        return F.softmax(self.fc2(F.relu(self.fc1(pooled))), 1)


TAPS = {"c2": 0, "c3": 1, "c4": 2, "c5": 3}


class ShippedModel(nn.Module):
    def __init__(self, path, quality_only=False):
        super().__init__()
        card, tensors = read_model_file(path)
        config = card["config"]
        self.arch = config["backbone"]["arch"]
        self.input = card["input"]  # [width, height]
        self.flip_average = card["flip_average"]
        self.quality_only = quality_only
        self.backbone = Backbone(self.arch)
        channels = [24, 32, 96, 1280] if self.arch == "mobilenet_v2" else [24, 48, 120, 1280]
        saliency, quality = config["heads"]["saliency"], config["heads"]["quality"]
        if quality_only:
            assert quality, f"{path} has no quality head"
            self.saliency = None
        else:
            assert saliency, f"{path} has no saliency head: rebuild it with quality_only=True"
            assert saliency["kind"] == "readout", "only the readout saliency head is rebuilt here"
            self.saliency_taps = [TAPS[t] for t in saliency["taps"]]
            self.saliency = Readout(saliency, [channels[t] for t in self.saliency_taps])
        self.quality_taps = [TAPS[t] for t in quality["taps"]] if quality else []
        self.quality = Rating(quality, [channels[t] for t in self.quality_taps]) if quality else None
        ours = {k: v for k, v in tensors.items() if not k.startswith("backbone.classifier")}
        if quality_only:
            ours = {k: v for k, v in ours.items() if not k.startswith("saliency.")}
        state = self.state_dict()
        for name in state:
            if name.endswith("num_batches_tracked"):
                ours[name] = state[name]
        self.load_state_dict(ours, strict=True)
        self.eval()

    def normalise(self, rgb):
        """`[batch, h, w, 3]` uint8 → the network's input."""
        x = rgb.astype(np.float32)
        x = (x / 255.0 - IMAGENET_MEAN) / IMAGENET_STD if self.arch == "mobilenet_v2" else (x - 127.0) / 128.0
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

    def single(self, x):
        taps = self.backbone(x)
        log_density = self.saliency([taps[t] for t in self.saliency_taps])
        density = F.interpolate(log_density.exp(), size=x.shape[-2:], mode="bilinear", align_corners=False)
        quality = self.quality([taps[t] for t in self.quality_taps]) if self.quality else None
        return density, quality

    def forward(self, x):
        if self.quality_only:
            taps = self.backbone(torch.cat([x, x.flip(3)]) if self.flip_average else x)
            quality = self.quality([taps[t] for t in self.quality_taps])
            if self.flip_average:
                quality = (quality[: x.shape[0]] + quality[x.shape[0] :]) * 0.5
            return quality
        if not self.flip_average:
            density, quality = self.single(x)
        else:
            batch = x.shape[0]
            density, quality = self.single(torch.cat([x, x.flip(3)]))
            a, b = density[:batch], density[batch:].flip(3)
            density = a / a.sum((1, 2, 3), keepdim=True) + b / b.sum((1, 2, 3), keepdim=True)
            if quality is not None:
                quality = (quality[:batch] + quality[batch:]) * 0.5
        peak = density.flatten(1).max(1).values.view(-1, 1, 1, 1)
        if quality is None:  # no quality head: an empty distribution keeps the outputs' shape
            quality = density.new_zeros(x.shape[0], 0)
        return density / peak, quality
