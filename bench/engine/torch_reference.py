"""PyTorch naive MC-dropout reference for `make bench-engine`.

Rebuilds the network from the tfjs model folder with
``jupyterlab_uga.export.load_tfjs`` (same architecture and weights as the
browser engine), then times on the CPU, under no_grad:

- naive MC dropout: T full forward passes, Dropout on, BatchNorm in eval mode;
- MC dropout with the same prefix caching as the browser engine (what a
  careful PyTorch user writes): everything before the first Dropout once,
  the suffix T times (``jupyterlab_uga.network.mc_predict_cached``'s split);
- one deterministic pass (eval mode).

Both MC contenders reduce the samples to the same sums as the engine
(sum p, sum p^2, sum H[p]) sample by sample, so all produce the same maps.

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


def accumulate(sums, p: torch.Tensor) -> None:
    """Running sums over samples of p (N, C, H, W): p, p^2, entropy (nats)."""
    sums[0] += p
    sums[1] += p * p
    sums[2] -= (p * torch.log(p.clamp_min(1e-30))).sum(1)


def cached_mc(model, x: torch.Tensor, samples: int):
    """Prefix once, suffix T times (last decoder block after its first conv, head)."""
    import torch.nn.functional as F

    skips = []
    h = x
    for enc in model.encoders:
        h = enc(h)
        skips.append(h)
        h = model.pool(h)
    h = model.bottleneck(h)
    decoders = list(model.decoders)
    for dec, skip in zip(decoders[:-1], list(reversed(skips))[:-1]):
        h = dec(torch.cat([model.up(h), skip], dim=1))
    last = decoders[-1]
    prefix = last.c1(torch.cat([model.up(h), skips[0]], dim=1))
    n, _, hh, ww = prefix.shape
    c = model.head.out_channels
    sums = [torch.zeros(n, c, hh, ww), torch.zeros(n, c, hh, ww), torch.zeros(n, hh, ww)]
    for _ in range(samples):
        z = prefix
        if last.drop is not None:
            z = F.dropout(z, last.drop.p, training=True)
        z = last.c2(z)
        if model.head_dropout is not None:
            z = F.dropout(z, model.head_dropout.p, training=True)
        accumulate(sums, torch.softmax(model.head(z), dim=1))
    return sums


def naive_mc(model, x: torch.Tensor, samples: int, like: torch.Tensor):
    n, c, hh, ww = like.shape
    sums = [torch.zeros(n, c, hh, ww), torch.zeros(n, c, hh, ww), torch.zeros(n, hh, ww)]
    for _ in range(samples):
        accumulate(sums, model(x))
    return sums


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
        det_s = det_cpu = float("inf")
        for _ in range(a.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            det = model(x)
            det_s = min(det_s, time.perf_counter() - t0)
            det_cpu = min(det_cpu, time.process_time() - c0)

        enable_dropout_only(model)
        torch.manual_seed(0)
        naive_mc(model, x[:1], 2, det[:1])  # warm-up of the MC paths
        cached_mc(model, x[:1], 2)
        # Interleaved repeats, best of each (the machine is shared).
        # process_time: CPU seconds of all threads (steadier than wall time on a shared machine).
        mc_s = cached_s = mc_cpu = cached_cpu = float("inf")
        for _ in range(a.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            naive_mc(model, x, a.samples, det)
            mc_s = min(mc_s, time.perf_counter() - t0)
            mc_cpu = min(mc_cpu, time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            cached_mc(model, x, a.samples)
            cached_s = min(cached_s, time.perf_counter() - t0)
            cached_cpu = min(cached_cpu, time.process_time() - c0)
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
        "cached_mc_s": cached_s,
        "naive_mc_cpu_s": mc_cpu,
        "cached_mc_cpu_s": cached_cpu,
        "deterministic_cpu_s": det_cpu,
        "deterministic_s": det_s,
        "naive_mc_mpx_per_s": mpx / mc_s,
        "t20_over_deterministic": mc_s / det_s,
        "cached_t20_over_deterministic": cached_s / det_s,
    }
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
