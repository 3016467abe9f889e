"""PyTorch eager timing of the training step `absnet-bench train` times — the engine's own joint
step: ABSNet-MobileNetV2 at output stride 8 (BatchNorm frozen); a saliency batch through the
encoder and the saliency head (KLD loss) and its backward pass, an aesthetics batch through the
encoder and the aesthetics head (EMD r = 2) and its backward pass, the shared gradients summed
(equal weights), then one Adam step per parameter group (shared encoder lr 1e-4, each head 1e-3).
Prints one JSON object: {"ms_per_step": median over repeats, "max_rss_mb": ...}."""

import argparse
import json
import resource
import time

import torch

from make_fixtures import torch_absnet

EPS = 1e-7


def kld(prediction, density):
    p = prediction.flatten(1)
    p = p / (p.sum(1, keepdim=True) + EPS)
    g = density.flatten(1)
    g = g / (g.sum(1, keepdim=True) + EPS)
    return (g * torch.log(g / (p + EPS) + EPS)).sum(1).mean()


def emd2(predicted, votes):
    target = votes / (votes.sum(1, keepdim=True) + EPS)
    difference = predicted.cumsum(1) - target.cumsum(1)
    return torch.sqrt(difference.pow(2).mean(1) + EPS).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_grad_enabled(True)  # make_fixtures turns autograd off for the fixtures
    model = torch_absnet(args.threads)  # eval(): BatchNorm uses and keeps its running statistics
    shared = list(model.features.parameters()) + list(model.reduce.parameters()) + list(model.branches.parameters())
    saliency = list(model.saliency.parameters())
    aesthetics = list(model.fc1.parameters()) + list(model.fc2.parameters())
    optimizers = [torch.optim.Adam(shared, lr=1e-4), torch.optim.Adam(saliency, lr=1e-3),
                  torch.optim.Adam(aesthetics, lr=1e-3)]
    size = (args.height, args.width)
    x_saliency = torch.randn(args.batch, 3, *size)
    x_aesthetics = torch.randn(args.batch, 3, *size)
    density = torch.rand(args.batch, 1, *size)
    votes = torch.rand(args.batch, 10)

    def step():
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss = kld(model.saliency_map(model.encoder(x_saliency), size), density)
        loss.item()
        loss.backward()
        loss = emd2(model.aesthetics_scores(model.encoder(x_aesthetics)), votes)
        loss.item()
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()

    step()
    step()
    samples = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    print(json.dumps({"ms_per_step": samples[len(samples) // 2], "torch": torch.__version__,
                      "threads": torch.get_num_threads(),
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
