"""The multi-task ablation's table and figures for docs/multi-task.md, from the runs that
scripts/multitask_ablation.sh left in runs/ablation/: one Markdown table (each configuration's
seeds, mean and spread), the loss curves of each task per configuration, and the cosine of the
two tasks' shared-encoder gradients over training.

Usage: python scripts/multitask_report.py [--figures NAME]  (matplotlib; prints the table and
writes docs/NAME-losses.png, NAME-cosine.png and NAME-weights.png — the task weights a
balancing method chose; NAME defaults to multi-task)
"""

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RUNS = Path("runs/ablation")
DOCS = Path("docs")
ORDER = ["frozen", "saliency", "saliency-one-rate", "quality", "shared", "summed", "alternating", "pcgrad", "uncertainty", "dwa",
         "gradnorm", "famo"]


def gap(text, metric):
    """The share of the way from centre bias to inter-observer consistency, from the eval line."""
    part = text.split(f"{metric}:")[1]
    return float(part.split("%")[0])


def results():
    rows = defaultdict(list)
    for line in (RUNS / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        row = {"seed": r["seed"], "cost_s": r["train_s"] + r["eval_s"], "train_s": r["train_s"]}
        if r["mit1003"]:
            means = r["mit1003"]["means"]
            row.update(nss=means["nss"], auc=means["auc_judd"], cc=means["cc"], ig=means["ig"])
            row.update(nss_gap=gap(r["gap"], "NSS"), auc_gap=gap(r["gap"], "AUC-Judd"))
        if r["livec_test"]:
            row.update(srcc=r["livec_test"]["srcc"], plcc=r["livec_test"]["plcc"])
        rows[r["configuration"]].append(row)
    return rows


def cell(values, digits, unit=""):
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit}"
    spread = (max(values) - min(values)) / 2
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}{unit}"


def table(rows):
    print("| configuration | seeds | MIT1003 NSS | AUC-Judd | CC | NSS gap closed | AUC gap closed | LIVE-C SRCC | PLCC | cost per run |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in [n for n in ORDER if n in rows]:
        runs = rows[name]
        get = lambda key: [r[key] for r in runs if key in r]  # noqa: E731
        cost = statistics.mean(r["train_s"] for r in runs) / 60
        print(
            f"| {name} | {len(runs)} | {cell(get('nss'), 3)} | {cell(get('auc'), 3)} | {cell(get('cc'), 3)} "
            f"| {cell(get('nss_gap'), 0, ' %')} | {cell(get('auc_gap'), 0, ' %')} | {cell(get('srcc'), 3)} | {cell(get('plcc'), 3)} "
            f"| {cost:.0f} min training |"
        )


def log(run):
    steps = []
    for line in (run / "log.jsonl").read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("record") == "step":
            steps.append(record)
    return steps


def running_mean(values, window=20):
    out = []
    for i in range(len(values)):
        part = values[max(0, i + 1 - window): i + 1]
        out.append(sum(part) / len(part))
    return out


def figures(rows, prefix):
    names = [n for n in ORDER if n in rows]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for name in names:
        run = RUNS / f"{name}-1"
        if not run.exists():
            continue
        steps = log(run)
        for ax, task in zip(axes, ["saliency", "quality"]):
            points = [(s["step"], s["losses"][task]) for s in steps if task in s["losses"]]
            if points:
                x, y = zip(*points)
                ax.plot(x, running_mean(list(y)), label=name)
    for ax, task in zip(axes, ["saliency loss (fixations' NLL)", "quality loss (EMD + L1)"]):
        ax.set_title(f"{task}, mean of 20 steps, seed 1")
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    fig.savefig(DOCS / f"{prefix}-losses.png", dpi=90)

    def per_step(series, title, path, smooth, log_scale=False):
        """One line per configuration: `series(steps)` → [(step, value)], seed 1's run."""
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for name in names:
            run = RUNS / f"{name}-1"
            points = series(log(run)) if run.exists() else []
            if points:
                x, y = zip(*points)
                ax.plot(x, running_mean(list(y)) if smooth else y, label=name)
        if log_scale:
            ax.set_yscale("log")
        else:
            ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
        fig.tight_layout()
        fig.savefig(DOCS / path, dpi=90)

    per_step(lambda steps: [(s["step"], s["gradient_cosine"]) for s in steps if "gradient_cosine" in s],
             "cosine of the tasks' shared-block gradients, mean of 20 steps, seed 1",
             f"{prefix}-cosine.png", smooth=True)
    per_step(lambda steps: [(s["step"], s["weights"]["saliency"] / s["weights"]["quality"]) for s in steps
                            if set(s.get("weights", {})) >= {"saliency", "quality"}],
             "saliency's loss weight over quality's, seed 1", f"{prefix}-weights.png", smooth=False,
             log_scale=True)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--figures", default="multi-task", help="file name prefix of the figures in docs/")
    args = parser.parse_args()
    rows = results()
    table(rows)
    figures(rows, args.figures)
