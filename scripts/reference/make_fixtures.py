"""Reference outputs from PyTorch for absnet's parity tests.

Writes, under tests/fixtures/ (committed, so the Rust tests need no Python):
  photos/*.png            three public-domain/CC0 photos from the scikit-image wheel, resized to
                          224x224 (bilinear, PIL) — the exact pixels both sides see
  imagenet.safetensors    ImageNet logits of torchvision MobileNetV2 and an EfficientNet-Lite0
                          reference for those photos, with the registry weights
  absnet.safetensors      a full ABSNet-MobileNetV2 forward (output stride 8, both heads) for two
                          input sizes, one not a multiple of 8; neck and heads hold generated
                          weights (see `generated`)
  torchvision.safetensors ResNet-50 (output stride 32 and 8) and VGG16 logits with generated
                          weights in torchvision's own modules
  torchvision_names.json  every tensor name and shape of those torchvision models
  checkpoints/*.pth       a tiny state dict in both torch.save formats (zip and legacy pickle)
and assets/imagenet_classes.txt (torchvision's category names).

Generated weights: tensor `name` with n elements takes u_i = (splitmix64(fnv1a64(name) +
(i+1)·0x9E3779B97F4A7C15) >> 40) / 2^24 in [0, 1) and maps it by role: running_var 0.5 + u,
running_mean and biases 0.2·(u − 0.5), BatchNorm weights 0.5 + u, other weights
(2u − 1)·sqrt(6 / fan_in). The Rust tests implement the same rule, so the multi-hundred-MB
checkpoints never need committing.

Run from the repository root after scripts/setup.sh (it needs weights/*.pth):
  python -m venv .venv-ref && .venv-ref/bin/pip install -r scripts/reference/requirements.txt
  .venv-ref/bin/python scripts/reference/make_fixtures.py
"""

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import skimage
import skimage.data
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
WEIGHTS = ROOT / "weights"
torch.set_grad_enabled(False)

PHOTOS = {
    "astronaut": "Eileen Collins, NASA Great Images database; no known copyright restrictions, "
    "public domain",
    "chelsea": "Chelsea the cat; CC0 by the photographer (Stefan van der Walt)",
    "coffee": "Coffee cup, courtesy of Pikolo Espresso Bar; CC0 by the photographer (Rachel Michetti)",
}

# ---------------------------------------------------------------------------------------------
# generated weights


def fnv1a64(name: str) -> int:
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def uniform(name: str, n: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(fnv1a64(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def generated(name: str, shape) -> torch.Tensor:
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(name, n)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_var":
        v = 0.5 + u
    elif leaf in ("running_mean", "bias"):
        v = 0.2 * (u - 0.5)
    elif leaf == "weight" and len(shape) == 1:
        v = 0.5 + u
    else:
        fan_in = int(np.prod(shape[1:]))
        v = (2.0 * u - 1.0) * math.sqrt(6.0 / fan_in)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def fill_generated(module: nn.Module, prefix: str = ""):
    state = {}
    for name, t in module.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = t
        else:
            state[name] = generated(prefix + name, tuple(t.shape))
    module.load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# safetensors (written by hand: one header, raw little-endian f32)


def write_safetensors(path: Path, tensors: dict):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4")).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------------------------
# inputs

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def imagenet_input(rgb: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(rgb).permute(2, 0, 1).float().unsqueeze(0)
    return (x / 255.0 - MEAN) / STD


def lite_input(rgb: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(rgb).permute(2, 0, 1).float().unsqueeze(0)
    return (x - 127.0) / 128.0


def photos() -> dict:
    out = {}
    (FIX / "photos").mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        image = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        small = image.resize((224, 224), Image.BILINEAR)
        small.save(FIX / "photos" / f"{name}_224.png")
        out[name] = np.asarray(small)
    return out


# ---------------------------------------------------------------------------------------------
# EfficientNet-Lite0 in efficientnet_pytorch's layout


class SameConv(nn.Conv2d):
    """TensorFlow "same" padding computed from the input (efficientnet_pytorch's dynamic one)."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        s, d = self.stride[0], self.dilation[0]
        ph = max((math.ceil(ih / s) - 1) * s + (kh - 1) * d + 1 - ih, 0)
        pw = max((math.ceil(iw / s) - 1) * s + (kw - 1) * d + 1 - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    def __init__(self, i, o, k, e, s):
        super().__init__()
        h = i * e
        if e != 1:
            self._expand_conv = SameConv(i, h, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(h, eps=1e-3)
        self._depthwise_conv = SameConv(h, h, k, stride=s, groups=h, bias=False)
        self._bn1 = nn.BatchNorm2d(h, eps=1e-3)
        self._project_conv = SameConv(h, o, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(o, eps=1e-3)
        self.expand = e != 1
        self.skip = s == 1 and i == o

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class EfficientNetLite0(nn.Module):
    STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
              (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]

    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
        blocks, i = [], 32
        for k, s, e, o, n in self.STAGES:
            for r in range(n):
                blocks.append(MBConv(i, o, k, e, s if r == 0 else 1))
                i = o
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
        self._fc = nn.Linear(1280, 1000)

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


# ---------------------------------------------------------------------------------------------
# ABSNet-MobileNetV2 (output stride 8) as absnet builds it


def dilate_mobilenet_v2(model: nn.Module, output_stride: int):
    """Stride → dilation like absnet's StrideSchedule (torchvision's `_make_layer(dilate=True)`):
    the first block of a dilated stage keeps the previous dilation."""
    stages = [(1, 1), (2, 2), (3, 2), (4, 2), (3, 1), (3, 2), (1, 1)]  # (repeats, stride)
    stride, dilation, index = 2, 1, 1
    for repeats, s in stages:
        first = dilation
        if stride * s > output_stride:
            dilation *= s
            s = 1
        else:
            stride *= s
        for r in range(repeats):
            block = model.features[index]
            dw = block.conv[0][0] if len(block.conv) == 3 else block.conv[1][0]
            d = first if r == 0 else dilation
            dw.stride = (s if r == 0 else 1,) * 2
            dw.dilation = (d, d)
            dw.padding = (d, d)
            index += 1


class AbsNetRef(nn.Module):
    def __init__(self, features: nn.Module):
        super().__init__()
        self.features = features
        self.reduce = nn.Conv2d(1280, 256, 1)
        self.branches = nn.ModuleList(nn.Conv2d(256, 256, 3, padding=d, dilation=d) for d in (4, 8, 16))
        self.saliency = nn.ModuleList([nn.Conv2d(256, 32, 7, padding=3), nn.Conv2d(32, 8, 7, padding=3),
                                       nn.Conv2d(8, 1, 7, padding=3)])
        self.fc1 = nn.Linear(256 * 21, 128)
        self.fc2 = nn.Linear(128, 10)

    def rust_names(self):
        """Our module path of each head/neck tensor (the name the generator is seeded with)."""
        names = {"reduce.weight": "neck.reduce.conv.weight", "reduce.bias": "neck.reduce.conv.bias"}
        for i in range(3):
            for t in ("weight", "bias"):
                names[f"branches.{i}.{t}"] = f"neck.branches.{i}.conv.{t}"
                names[f"saliency.{i}.{t}"] = f"saliency.convs.{i}.conv.{t}"
        for t in ("weight", "bias"):
            names[f"fc1.{t}"] = f"aesthetics.fc1.{t}"
            names[f"fc2.{t}"] = f"aesthetics.fc2.{t}"
        return names

    def encoder(self, x):
        """The shared encoder: backbone and multi-dilation neck."""
        n = F.relu(self.reduce(self.features(x)))
        return sum(F.relu(b(n)) for b in self.branches)

    def saliency_map(self, n, size):
        s = F.relu(self.saliency[0](n))
        s = F.relu(self.saliency[1](s))
        s = torch.sigmoid(self.saliency[2](s))
        return F.interpolate(s, size=size, mode="bilinear", align_corners=False)

    def aesthetics_scores(self, n):
        pooled = torch.cat([F.adaptive_max_pool2d(n, k).flatten(1) for k in (1, 2, 4)], 1)
        return F.softmax(self.fc2(F.relu(self.fc1(F.normalize(pooled, dim=1)))), dim=1)

    def forward(self, x):
        n = self.encoder(x)
        return self.saliency_map(n, x.shape[2:]), self.aesthetics_scores(n)



def torch_absnet(threads: int) -> AbsNetRef:
    """The benchmarks' model: ABSNet-MobileNetV2 at output stride 8, default initialisation,
    inference mode on `threads` threads."""
    torch.set_num_threads(threads)
    mnv2 = torchvision.models.mobilenet_v2()
    dilate_mobilenet_v2(mnv2, 8)
    return AbsNetRef(mnv2.features).eval()


def absnet_fixture(images):
    mnv2 = torchvision.models.mobilenet_v2()
    mnv2.load_state_dict(torch.load(WEIGHTS / "mobilenet_v2-b0353104.pth", map_location="cpu"))
    dilate_mobilenet_v2(mnv2, 8)
    model = AbsNetRef(mnv2.features).eval()
    rust = model.rust_names()
    state = model.state_dict()
    for name in rust:
        state[name] = generated(rust[name], tuple(state[name].shape))
    model.load_state_dict(state)
    out = {}
    for size in [(224, 224), (180, 244)]:
        image = Image.fromarray(images).resize((size[1], size[0]), Image.BILINEAR)
        image.save(FIX / "photos" / f"coffee_{size[0]}x{size[1]}.png")
        s, a = model(imagenet_input(np.asarray(image)))
        out[f"saliency_{size[0]}x{size[1]}"] = s[0, 0]
        out[f"aesthetics_{size[0]}x{size[1]}"] = a[0]
    write_safetensors(FIX / "absnet.safetensors", out)


# ---------------------------------------------------------------------------------------------


def main():
    torch.manual_seed(0)
    imgs = photos()

    mnv2 = torchvision.models.mobilenet_v2()
    mnv2.load_state_dict(torch.load(WEIGHTS / "mobilenet_v2-b0353104.pth", map_location="cpu"))
    lite = EfficientNetLite0()
    lite.load_state_dict(torch.load(WEIGHTS / "efficientnet-lite0-57934424.pth", map_location="cpu"))
    logits = {}
    for name, rgb in imgs.items():
        logits[f"mobilenet_v2/{name}"] = mnv2.eval()(imagenet_input(rgb))[0]
        logits[f"efficientnet_lite0/{name}"] = lite.eval()(lite_input(rgb))[0]
    write_safetensors(FIX / "imagenet.safetensors", logits)

    absnet_fixture(getattr(skimage.data, "coffee")())

    tv, names = {}, {}
    rgb = np.asarray(Image.fromarray(imgs["astronaut"]).resize((128, 96), Image.BILINEAR))
    x = imagenet_input(rgb)
    for label, model in [("resnet50", torchvision.models.resnet50()),
                         ("resnet50_os8", torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True])),
                         ("vgg16", torchvision.models.vgg16())]:
        fill_generated(model)
        tv[label] = model.eval()(x)[0]
        names[label.split("_")[0]] = [[k, list(v.shape)] for k, v in model.state_dict().items()
                                      if not k.endswith("num_batches_tracked")]
    Image.fromarray(rgb).save(FIX / "photos" / "astronaut_96x128.png")
    write_safetensors(FIX / "torchvision.safetensors", tv)
    (FIX / "torchvision_names.json").write_text(json.dumps(names))

    (FIX / "checkpoints").mkdir(exist_ok=True)
    tiny = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(5, 2))
    fill_generated(tiny)
    torch.save(tiny.state_dict(), FIX / "checkpoints" / "tiny_zip.pth")
    torch.save(tiny.state_dict(), FIX / "checkpoints" / "tiny_legacy.pth", _use_new_zipfile_serialization=False)

    categories = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    (ROOT / "assets").mkdir(exist_ok=True)
    (ROOT / "assets" / "imagenet_classes.txt").write_text("\n".join(categories) + "\n")

    licences = "\n".join(f"- {k}: {v}" for k, v in PHOTOS.items())
    (FIX / "photos" / "LICENSES.md").write_text(
        "# Photos\n\nFrom the scikit-image wheel (`skimage/data`, scikit-image "
        f"{skimage.__version__}), resized by scripts/reference/make_fixtures.py:\n\n{licences}\n")
    print("fixtures written to", FIX, "torch", torch.__version__, "torchvision", torchvision.__version__)


if __name__ == "__main__":
    main()
