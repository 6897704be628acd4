"""PyTorch naive MC-dropout reference for `make bench-engine`.

Rebuilds the network from the tfjs model folder with
``jupyterlab_uga.export.load_tfjs`` (same architecture and weights as the
browser engine), then times on the CPU, under no_grad:

- naive MC dropout: T full forward passes, Dropout on, BatchNorm in eval mode;
- one deterministic pass (eval mode).

The same PNG patches as the Node benchmark are used (normalised with the
model's metadata). Writes a JSON summary and the deterministic probabilities
of the first patch (float32, NHWC) for a parity check against tfjs.

    python bench/engine/torch_reference.py --model DIR --images a.png b.png ... \
        --samples 20 --out ref.json --probs ref-probs.f32 [--threads N]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from PIL import Image

from jupyterlab_uga.export import load_tfjs, metadata_of


def enable_dropout_only(model: torch.nn.Module) -> None:
    model.eval()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.train()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--images", nargs="+", required=True)
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch default (all cores)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--probs", required=True)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    meta = metadata_of(a.model)
    norm = meta["normalization"]
    size = int(meta["patchSize"])
    arrays = []
    for path in a.images:
        img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
        if img.shape[:2] != (size, size):
            raise SystemExit(f"{path} is {img.shape[1]}x{img.shape[0]}, the model takes {size}x{size}")
        arrays.append((img * norm["scale"] - np.array(norm["mean"], np.float32)) / np.array(norm["std"], np.float32))
    x = torch.from_numpy(np.stack(arrays).transpose(0, 3, 1, 2).copy())
    model = load_tfjs(a.model)
    n, _, h, w = x.shape

    with torch.no_grad():
        model.eval()
        model(x)  # warm-up (allocator, kernels)
        t0 = time.perf_counter()
        for _ in range(a.repeats):
            det = model(x)
        det_s = (time.perf_counter() - t0) / a.repeats

        enable_dropout_only(model)
        torch.manual_seed(0)
        t0 = time.perf_counter()
        for _ in range(a.repeats):
            total = torch.zeros_like(det)
            for _ in range(a.samples):
                total += model(x)
        mc_s = (time.perf_counter() - t0) / a.repeats
        model.eval()

    det[0].permute(1, 2, 0).contiguous().numpy().astype("<f4").tofile(a.probs)
    mpx = n * h * w / 1e6
    summary = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "patches": n,
        "size": size,
        "samples": a.samples,
        "naive_mc_s": mc_s,
        "deterministic_s": det_s,
        "naive_mc_mpx_per_s": mpx / mc_s,
        "t20_over_deterministic": mc_s / det_s,
    }
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
