"""Train the default model on EBHI-Seg ``source-train`` (PyTorch, CPU).

    python -m jupyterlab_uga.train --data ../shared/data/ebhi-seg --out runs/default

Picks the checkpoint with the best mean Dice on ``source-val`` and writes
``<out>/model.pt`` (config, state dict, normalization, metrics, history) and
``<out>/history.json``. Prints metrics per epoch. Export to tfjs with
``python -m jupyterlab_uga.export --checkpoint <out>/model.pt --out <dir>``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import data as ebhi
from .metrics import IGNORE_INDEX, dice_summary
from .network import UNet, UNetConfig, build_model, count_parameters

SCALE = 1.0 / 255.0

# Stain vectors (rows: haematoxylin, eosin, DAB) of Ruifrok & Johnston, as in
# scikit-image's colour deconvolution; used for HED jitter.
RGB_FROM_HED = torch.tensor(
    [[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]], dtype=torch.float32
)
RGB_FROM_HED = RGB_FROM_HED / RGB_FROM_HED.norm(dim=1, keepdim=True)
HED_FROM_RGB = torch.linalg.inv(RGB_FROM_HED)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class Normalizer:
    """x' = (x * scale - mean) / std on NCHW float tensors (x in 0..255)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], scale: float = SCALE):
        self.scale = float(scale)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        self._m = torch.tensor(self.mean).view(1, -1, 1, 1)
        self._s = torch.tensor(self.std).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.scale - self._m) / self._s

    def to_dict(self) -> dict:
        return {"scale": self.scale, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        return cls(d["mean"], d["std"], d.get("scale", SCALE))


def to_nchw_float(images_nhwc_uint8: torch.Tensor) -> torch.Tensor:
    return images_nhwc_uint8.permute(0, 3, 1, 2).float()


def augment_batch(
    images: torch.Tensor,
    masks: torch.Tensor,
    crop: Optional[int],
    gen: torch.Generator,
    colour: bool = True,
    hed_sigma: float = 0.05,
    hed_bias: float = 0.03,
    brightness: float = 0.08,
    contrast: float = 0.12,
):
    """H&E-sensible augmentation of a uint8 batch.

    images [N,H,W,3] uint8, masks [N,H,W] uint8 -> float images [N,3,h,w] in
    0..255 and int64 masks [N,h,w]. Random crop, flips and 90° rotations (per
    sample), mild HED stain jitter and brightness/contrast (per sample).
    """
    n, h, w, _ = images.shape
    x = to_nchw_float(images)
    y = masks.long()
    if crop is not None and crop < min(h, w):
        xs, ys = [], []
        oy = torch.randint(0, h - crop + 1, (n,), generator=gen)
        ox = torch.randint(0, w - crop + 1, (n,), generator=gen)
        for i in range(n):
            xs.append(x[i, :, oy[i] : oy[i] + crop, ox[i] : ox[i] + crop])
            ys.append(y[i, oy[i] : oy[i] + crop, ox[i] : ox[i] + crop])
        x, y = torch.stack(xs), torch.stack(ys)
    square = x.shape[-1] == x.shape[-2]
    flips = torch.randint(0, 2, (n,), generator=gen)
    rots = torch.randint(0, 4 if square else 1, (n,), generator=gen) * (2 if not square else 1)
    xs, ys = [], []
    for i in range(n):
        xi, yi = x[i], y[i]
        if flips[i]:
            xi, yi = xi.flip(-1), yi.flip(-1)
        k = int(rots[i])
        if k:
            xi, yi = torch.rot90(xi, k, (-2, -1)), torch.rot90(yi, k, (-2, -1))
        xs.append(xi)
        ys.append(yi)
    x, y = torch.stack(xs), torch.stack(ys)
    if colour:
        x = hed_jitter(x, gen, hed_sigma, hed_bias)
        c = 1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * contrast
        b = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * brightness * 255
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * c + mean + b).clamp(0, 255)
    return x.contiguous(), y.contiguous()


def hed_jitter(x: torch.Tensor, gen: torch.Generator, sigma: float, bias: float) -> torch.Tensor:
    """Scale/shift each stain's optical density (colour deconvolution) per sample."""
    n = x.shape[0]
    rgb = (x + 1.0) / 256.0  # avoid log(0)
    od = -torch.log(rgb).permute(0, 2, 3, 1)  # N,H,W,3
    hed = od @ HED_FROM_RGB
    alpha = 1 + (torch.rand(n, 1, 1, 3, generator=gen) * 2 - 1) * sigma
    beta = (torch.rand(n, 1, 1, 3, generator=gen) * 2 - 1) * bias
    od2 = (hed * alpha + beta) @ RGB_FROM_HED
    out = torch.exp(-od2) * 256.0 - 1.0
    return out.permute(0, 3, 1, 2).clamp(0, 255)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 0.5) -> torch.Tensor:
    """Cross-entropy + soft Dice of the foreground (class 1); ignores 255."""
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
    if dice_weight <= 0:
        return ce
    valid = (target != IGNORE_INDEX).float()
    probs = torch.softmax(logits, dim=1)[:, 1] * valid
    fg = (target == 1).float()
    inter = (probs * fg).sum()
    dice = (2 * inter + 1.0) / (probs.sum() + fg.sum() + 1.0)
    return ce + dice_weight * (1 - dice)


@torch.no_grad()
def predict_probs(model: UNet, images: np.ndarray, norm: Normalizer, batch_size: int = 16) -> np.ndarray:
    """Deterministic (eval-mode) softmax for uint8 NHWC images -> [N,H,W,C] float32."""
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = norm(to_nchw_float(torch.from_numpy(np.ascontiguousarray(images[i : i + batch_size]))))
        out.append(model(x).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def evaluate_dice(model: UNet, images: np.ndarray, masks: np.ndarray, norm: Normalizer, batch_size: int = 16):
    probs = predict_probs(model, images, norm, batch_size)
    return dice_summary(probs.argmax(-1), masks)


def train_steps(
    model: UNet,
    images: np.ndarray,
    masks: np.ndarray,
    norm: Normalizer,
    steps: int,
    batch_size: int = 8,
    lr: float = 1e-3,
    crop: Optional[int] = None,
    seed: int = 0,
    colour: bool = True,
    weight_decay: float = 1e-4,
    cosine: bool = True,
) -> list:
    """A plain training loop over in-memory arrays; returns the loss per step."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1)) if cosine else None
    ims = torch.from_numpy(np.ascontiguousarray(images))
    ms = torch.from_numpy(np.ascontiguousarray(masks))
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(ims), (min(batch_size, len(ims)),), generator=gen)
        x, y = augment_batch(ims[idx], ms[idx], crop, gen, colour=colour)
        loss = segmentation_loss(model.forward_logits(norm(x)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    model.eval()
    return losses


def save_checkpoint(path: os.PathLike, model: UNet, norm: Normalizer, **extra) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(
        {"config": model.config.to_dict(), "state_dict": model.state_dict(), "normalization": norm.to_dict(), **extra},
        tmp,
    )
    os.replace(tmp, path)


def load_checkpoint(path: os.PathLike):
    """-> (model in eval mode, Normalizer, checkpoint dict)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, Normalizer.from_dict(ckpt["normalization"]), ckpt


def names_by_class(pairs: os.PathLike, split: str, classes: Sequence[str]) -> list:
    """Tile file names of ``split`` whose ``class`` column is one of ``classes`` (pairs.csv)."""
    import csv

    wanted = {c.strip().lower() for c in classes if c.strip()}
    with open(pairs, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"split", "image", "class"} <= set(rows[0]):
        raise ValueError(f"{pairs} needs the columns split, image, class")
    known = {r["class"].strip().lower() for r in rows}
    unknown = wanted - known
    if unknown:
        raise ValueError(f"classes {sorted(unknown)} are not in {pairs} (it has {sorted(known)})")
    names = sorted(Path(r["image"]).name for r in rows if r["split"] == split and r["class"].strip().lower() in wanted)
    if not names:
        raise ValueError(f"no {split} tiles of classes {sorted(wanted)} in {pairs}")
    return names


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="ebhi-seg folder (default: $UGA_DATA or ../shared/data)/ebhi-seg")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--crop", type=int, default=160, help="random crop size for training (multiple of 8)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--dropout-at", default="late", help="Dropout placement: late (default model), head, decoder_bottleneck")
    p.add_argument("--classes", default=None,
                   help="train and validate only on these tissue classes (comma-separated, pairs.csv 'class' column)")
    p.add_argument("--pairs", default=None, help="pairs.csv for --classes (default <data>/pairs.csv)")
    p.add_argument("--init", default=None, help="start from this .pt checkpoint's weights (keeps its normalization)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=None, help="use only the first N tiles per split (smoke tests)")
    p.add_argument(
        "--time-budget-min",
        type=float,
        default=None,
        help="wall-clock budget for the training loop: the cosine LR decay follows max(step share, time share) "
        "and training stops when it reaches the end (not bit-reproducible; default: pure step schedule)",
    )
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    gen = seed_everything(args.seed)
    root = ebhi.ebhi_root(args.data)
    t0 = time.time()
    tr_names = va_names = None
    if args.classes:
        pairs = Path(args.pairs) if args.pairs else root / "pairs.csv"
        classes = args.classes.split(",")
        tr_names = names_by_class(pairs, "source-train", classes)
        va_names = names_by_class(pairs, "source-val", classes)
    tr_x, tr_y, _ = ebhi.load_split(root / "source-train", args.limit, names=tr_names)
    va_x, va_y, _ = ebhi.load_split(root / "source-val", args.limit, names=va_names)
    mean, std = ebhi.channel_stats(tr_x)
    norm = Normalizer(mean, std)
    model = build_model(UNetConfig(dropout=args.dropout, dropout_at=args.dropout_at))
    if args.init:
        # Dropout has no weights: any placement loads the same state dict.
        init_model, norm, _ = load_checkpoint(args.init)
        model.load_state_dict(init_model.state_dict())
    print(
        f"data {root}: train {len(tr_x)} val {len(va_x)} tiles, loaded in {time.time() - t0:.1f}s; "
        f"model {count_parameters(model)} params; mean {np.round(mean, 4).tolist()} std {np.round(std, 4).tolist()}",
        flush=True,
    )
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(tr_x) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = min(steps_per_epoch, total // 10 + 1)
    budget_s = args.time_budget_min * 60 if args.time_budget_min else None
    t_train = time.time()

    def progress(step: int) -> float:
        # share of the run done: by steps, or by wall clock when a budget is set,
        # so the cosine decay always completes inside the budget on a busy machine
        p = step / total
        if budget_s:
            p = max(p, (time.time() - t_train) / budget_s)
        return min(p, 1.0)

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * progress(s)))
    )
    ims = torch.from_numpy(tr_x)
    ms = torch.from_numpy(tr_y)
    history, best = [], None
    step = 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, args.epochs + 1):
        te = time.time()
        model.train()
        perm = torch.randperm(len(ims), generator=gen)
        loss_sum = 0.0
        seen = 0
        for s in range(steps_per_epoch):
            if progress(step) >= 1.0:
                break
            step += 1
            idx = perm[s * args.batch_size : (s + 1) * args.batch_size]
            x, y = augment_batch(ims[idx], ms[idx], args.crop, gen)
            loss = segmentation_loss(model.forward_logits(norm(x)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
        val = evaluate_dice(model, va_x, va_y, norm)
        rec = {"epoch": epoch, "steps": step, "loss": loss_sum / max(seen, 1), "lr": sched.get_last_lr()[0], **{f"val_{k}": v for k, v in val.items()}}
        rec["seconds"] = time.time() - te
        history.append(rec)
        improved = best is None or val["dice_mean"] > best["val_dice_mean"]
        if improved:
            best = rec
            save_checkpoint(out / "model.pt", model, norm, epoch=epoch, metrics=rec, args=vars(args), history=history)
        print(
            f"epoch {epoch:3d} loss {rec['loss']:.4f} val dice bg {val['dice_background']:.4f} "
            f"gland {val['dice_gland']:.4f} mean {val['dice_mean']:.4f} ({rec['seconds']:.0f}s){' *' if improved else ''}",
            flush=True,
        )
        (out / "history.json").write_text(json.dumps({"history": history, "best": best, "args": vars(args)}, indent=1))
        if progress(step) >= 1.0 and epoch < args.epochs:
            print(f"time budget of {args.time_budget_min} min reached after epoch {epoch} ({step}/{total} steps)", flush=True)
            break
    print(f"best epoch {best['epoch']} val mean Dice {best['val_dice_mean']:.4f}; total {(time.time() - t0) / 60:.1f} min", flush=True)
    return best


if __name__ == "__main__":
    main()
    sys.exit(0)
