"""Where the MC-dropout cost of the default U-Net goes, and naive vs prefix-cached MC in PyTorch.

    .venv/bin/python bench/python/mc_cost.py [--model jupyterlab_uga/default_model] [--batch 4] [--size 224] [-T 20]

Counts multiply-accumulates per layer (convolutions; elementwise layers are
ignored), splits them at the first Dropout into the cached prefix and the suffix
re-run T times, and times, side by side in one run, T full passes (naive) against
one prefix + T suffixes (cached). Ends with one key=value line.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from jupyterlab_uga.network import UNet, count_parameters, mc_predict, mc_predict_cached  # noqa: E402


def conv_macs(model: UNet, size: int):
    """[(name, macs per image, in suffix?)] for every Conv2d, from a traced forward."""
    rows = []
    hooks = []
    suffix_modules = set()
    last = model.decoders[-1]
    suffix_modules.update(id(m) for m in last.c2.modules())
    suffix_modules.add(id(model.head))
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            def hook(mod, inp, out, name=name):
                k = mod.kernel_size[0] * mod.kernel_size[1]
                rows.append((name, out.shape[2] * out.shape[3] * mod.out_channels * mod.in_channels * k, id(mod) in suffix_modules))
            hooks.append(m.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=None, help="tfjs folder or .pt (default: untrained default architecture)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("-T", type=int, default=20)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        from jupyterlab_uga.evaluate import load_any

        model, _ = load_any(args.model)
    else:
        model = UNet()
    rows = conv_macs(model, args.size)
    total = sum(r[1] for r in rows)
    suffix = sum(r[1] for r in rows if r[2])
    print(f"parameters {count_parameters(model)}; conv MACs per {args.size}x{args.size} image {total / 1e6:.1f} M")
    for name, macs, in_suffix in rows:
        print(f"  {name:28s} {macs / 1e6:8.2f} M  {100 * macs / total:5.1f}%{'  (suffix, x T)' if in_suffix else ''}")
    f = suffix / total
    cost_passes = (1 - f) + args.T * f
    print(f"suffix share {100 * f:.1f}% -> T={args.T} costs {cost_passes:.2f} deterministic passes (MAC count)")

    x = torch.randn(args.batch, 3, args.size, args.size)
    timings = {"single": [], "naive": [], "cached": []}
    for _ in range(args.repeats):  # interleaved so load changes hit both
        with torch.no_grad():
            t = time.perf_counter()
            model.eval()
            model(x)
            timings["single"].append(time.perf_counter() - t)
        t = time.perf_counter()
        mc_predict(model, x, args.T)
        timings["naive"].append(time.perf_counter() - t)
        t = time.perf_counter()
        mc_predict_cached(model, x, args.T)
        timings["cached"].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in timings.items()}
    print(f"PyTorch CPU ({args.threads} threads), batch {args.batch}: one pass {best['single']:.3f}s, naive MC {best['naive']:.3f}s, "
          f"cached MC {best['cached']:.3f}s -> speed-up {best['naive'] / best['cached']:.2f}x, cached = {best['cached'] / best['single']:.2f} passes")
    print(
        f"params={count_parameters(model)} suffix_mac_share={f:.4f} mac_passes_T{args.T}={cost_passes:.2f} "
        f"torch_single_s={best['single']:.3f} torch_naive_s={best['naive']:.3f} torch_cached_s={best['cached']:.3f} "
        f"cached_speedup={best['naive'] / best['cached']:.2f} cached_passes={best['cached'] / best['single']:.2f}"
    )


if __name__ == "__main__":
    main()
