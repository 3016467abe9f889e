"""PyTorch eager and ONNX Runtime timings of the same ABSNet-MobileNetV2 that `absnet-bench model`
times (output stride 8, neck 256 ch with dilations 4/8/16, both heads), called by
`absnet-bench model --reference PYTHON`. ONNX Runtime runs the PyTorch model exported with
`torch.onnx.export` (opset 17, TorchScript exporter, batch as a dynamic axis) with `threads`
intra-op threads and one inter-op thread, all graph optimisations on; its outputs are checked
against PyTorch's before timing. The convolutions' FLOPs are counted with forward hooks
(multiply-add = 2), as a cross-check of absnet's own count.
Prints one JSON object: {"ms_per_image", "onnxruntime_ms_per_image", "flops_per_image", ...}."""

import argparse
import json
import os
import tempfile
import time
import warnings

import numpy as np
import torch

from make_fixtures import torch_absnet


def median_ms_per_image(run, batch, repeats):
    run()
    run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e3 / batch)
    samples.sort()
    return samples[len(samples) // 2]


def conv_flops_per_image(model, x):
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        total += 2 * output.numel() * per_output

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    model(x[:1])
    for hook in hooks:
        hook.remove()
    return total


def onnxruntime_session(model, x, threads, outputs=("saliency", "aesthetics")):
    """`model` exported for input `x` (the batch a dynamic axis of the input and of every one of
    `outputs`) and loaded into ONNX Runtime with `threads` intra-op threads."""
    import onnxruntime as ort

    path = os.path.join(tempfile.mkdtemp(), "absnet.onnx")
    # The TorchScript exporter is deprecated but needs no onnxscript; its warning is not news.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.onnx.export(model, (x,), path, opset_version=17, dynamo=False,
                      input_names=["image"], output_names=list(outputs),
                      dynamic_axes={name: {0: "batch"} for name in ["image", *outputs]})
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"]), ort.__version__


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--onnxruntime", action="store_true", help="also time ONNX Runtime")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    model = torch_absnet(args.threads)
    x = torch.randn(args.batch, 3, args.height, args.width)
    result = {
        "ms_per_image": median_ms_per_image(lambda: model(x), args.batch, args.repeats),
        "flops_per_image": conv_flops_per_image(model, x),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    if args.onnxruntime:
        session, version = onnxruntime_session(model, x, args.threads)
        feed = {"image": x.numpy()}
        saliency, aesthetics = session.run(None, feed)
        expected_saliency, expected_aesthetics = model(x)
        result["onnxruntime_max_abs_diff"] = float(max(
            np.abs(saliency - expected_saliency.numpy()).max(),
            np.abs(aesthetics - expected_aesthetics.numpy()).max()))
        result["onnxruntime_ms_per_image"] = median_ms_per_image(
            lambda: session.run(None, feed), args.batch, args.repeats)
        result["onnxruntime"] = version
    print(json.dumps(result))


if __name__ == "__main__":
    main()
