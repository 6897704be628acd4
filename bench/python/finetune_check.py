"""Fine-tuning on ~10 oracle-corrected target-dev patches: time and Dice before/after.

    .venv/bin/python bench/python/finetune_check.py [--data ../shared/data/ebhi-seg] [--patches 10] [--steps 40]

Target-dev cases are split in two: the pool (patches to "correct" with their
ground truth, ranked by MC-dropout entropy as in UGA) and held-out test cases.
Compares, side by side on the same patches, fine-tuning settings (BatchNorm
statistics frozen or updated, learning rate), with replay of source-train. Ends with one
key=value line.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jupyterlab_uga import data as ebhi  # noqa: E402
from jupyterlab_uga.corrections import Corrections  # noqa: E402
from jupyterlab_uga.evaluate import load_any, predict_split  # noqa: E402
from jupyterlab_uga.finetune import finetune, load_replay  # noqa: E402
from jupyterlab_uga.metrics import dice_summary  # noqa: E402
from jupyterlab_uga.train import predict_probs  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None)
    p.add_argument("--model", default=str(Path(__file__).resolve().parents[2] / "jupyterlab_uga" / "default_model"))
    p.add_argument("--patches", type=int, default=10)
    p.add_argument("--pool", type=int, default=60)
    p.add_argument("--test", type=int, default=80)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--configs", default="frozen:5e-4,updated:5e-4", help="comma list of bn:lr with bn in frozen|updated")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    root = ebhi.ebhi_root(args.data)
    model, norm = load_any(args.model)
    rng = random.Random(args.seed)
    rows = [l.split(",") for l in (root / "pairs.csv").read_text().splitlines()[1:]]
    target = [(Path(img).name, case) for split, img, _, _, case in rows if split == "target-dev"]
    cases = sorted({c for _, c in target})
    rng.shuffle(cases)
    pool_cases = set(cases[: len(cases) // 2])
    pool = rng.sample([n for n, c in target if c in pool_cases], args.pool)
    test = rng.sample([n for n, c in target if c not in pool_cases], args.test)
    px, py, _ = ebhi.load_split(root / "target-dev", names=pool)
    tx, ty, _ = ebhi.load_split(root / "target-dev", names=test)
    _, _, ent, _ = predict_split(model, norm, px, samples=20)
    order = np.argsort(-ent.mean(axis=(1, 2)))[: args.patches]
    corr = Corrections(images=px[order], masks=py[order], boxes=np.zeros((len(order), 4), np.int64),
                       scores=ent.mean(axis=(1, 2))[order], ranks=np.arange(1, len(order) + 1), statuses=["corrected"] * len(order),
                       ids=[f"p{i}" for i in range(len(order))], manifest={}, folder=None)
    t = time.time()
    replay = load_replay(root / "source-train")
    replay_s = time.time() - t
    before = dice_summary(predict_probs(model, tx, norm).argmax(-1), ty)
    print(f"held-out target-dev ({len(test)} tiles) before: {before}")
    out = {}
    for spec in args.configs.split(","):
        bn, lr = spec.split(":")
        t, c = time.time(), time.process_time()
        tuned = finetune(model, corr, replay=replay, steps=args.steps, crop=args.crop, lr=float(lr), seed=args.seed, freeze_bn=bn == "frozen", export=False)
        secs, cpu = time.time() - t, time.process_time() - c
        after = dice_summary(predict_probs(tuned, tx, norm).argmax(-1), ty)
        out[spec] = (secs, cpu, after)
        print(f"bn={bn} lr={lr}: {secs:.1f}s wall, {cpu:.1f}s CPU for {args.steps} steps on {len(order)} patches; after: {after}")
    print(f"(replay folder loaded once in {replay_s:.1f}s, cached for later calls)")
    print(
        f"patches={len(order)} steps={args.steps} crop={args.crop} dice_mean_before={before['dice_mean']:.4f} "
        + " ".join(f"dice_mean_after[{k}]={v[2]['dice_mean']:.4f} wall_s[{k}]={v[0]:.1f} cpu_s[{k}]={v[1]:.1f}" for k, v in out.items())
    )


if __name__ == "__main__":
    main()
