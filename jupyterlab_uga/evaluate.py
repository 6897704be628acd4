"""Evaluate a model on EBHI-Seg splits: Dice, calibration and MC-dropout uncertainty.

    python -m jupyterlab_uga.evaluate --model jupyterlab_uga/default_model --data ../shared/data/ebhi-seg

``--model`` is a tfjs model folder (model.json) or a training checkpoint (.pt).
For each split it reports, pooled over all pixels:
  - deterministic (eval-mode) Dice per class and their mean, ECE (15 bins);
  - MC dropout (T samples, prefix cached): Dice and ECE of the mean
    prediction, and the AUROC of predictive entropy and of mutual information
    for detecting the pixels that mean prediction gets wrong.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from . import data as ebhi
from .metrics import dice_summary, expected_calibration_error, uncertainty_auroc


def load_any(model_path: os.PathLike):
    """-> (torch UNet in eval mode, Normalizer) from a tfjs folder or a .pt checkpoint."""
    from .train import Normalizer, load_checkpoint

    p = Path(model_path)
    if p.is_dir() and (p / "model.json").is_file():
        from .export import load_tfjs

        model = load_tfjs(p)
        return model, Normalizer.from_dict(model.uga_metadata["uga"]["normalization"])
    model, norm, _ = load_checkpoint(p)
    return model, norm


def predict_split(model, norm, images: np.ndarray, samples: int, batch_size: int = 8, seed: int = 0):
    """Deterministic probs [N,H,W,C], MC-mean probs, entropy [N,H,W], mutual information."""
    import torch

    from .network import mc_predict_cached

    torch.manual_seed(seed)
    det, mean, ent, mi = [], [], [], []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = norm(torch.from_numpy(np.ascontiguousarray(images[i : i + batch_size])).permute(0, 3, 1, 2).float())
            det.append(model(x).permute(0, 2, 3, 1).numpy())
            s = mc_predict_cached(model, x, samples).permute(0, 1, 3, 4, 2).double()  # T,N,H,W,C
            m = s.mean(0)
            pe = -(m.clamp_min(1e-12).log() * m).sum(-1)
            ee = -(s.clamp_min(1e-12).log() * s).sum(-1).mean(0)
            mean.append(m.float().numpy())
            ent.append(pe.float().numpy())
            mi.append((pe - ee).clamp_min(0).float().numpy())
    return np.concatenate(det), np.concatenate(mean), np.concatenate(ent), np.concatenate(mi)


def evaluate_split(model, norm, images, masks, samples: int = 20, seed: int = 0) -> Dict[str, float]:
    det, mean, ent, mi = predict_split(model, norm, images, samples, seed=seed)
    pred_det = det.argmax(-1)
    pred_mc = mean.argmax(-1)
    out: Dict[str, float] = {"tiles": int(len(images)), "pixels": int(masks.size), "gland_fraction": float((masks == 1).mean())}
    out.update({k: v for k, v in dice_summary(pred_det, masks).items()})
    out["ece"] = expected_calibration_error(det, masks)
    out.update({f"mc_{k}": v for k, v in dice_summary(pred_mc, masks).items()})
    out["mc_ece"] = expected_calibration_error(mean, masks)
    out["mc_error_rate"] = float((pred_mc != masks).mean())
    out["auroc_entropy"] = uncertainty_auroc(ent, pred_mc, masks)
    out["auroc_mutual_information"] = uncertainty_auroc(mi, pred_mc, masks)
    return out


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(Path(__file__).parent / "default_model"))
    p.add_argument("--data", default=None)
    p.add_argument("--splits", default="source-val,target-dev")
    p.add_argument("--samples", "-T", type=int, default=20)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    model, norm = load_any(args.model)
    root = ebhi.ebhi_root(args.data)
    results = {}
    for split in args.splits.split(","):
        t0 = time.time()
        images, masks, _ = ebhi.load_split(root / split, args.limit)
        r = evaluate_split(model, norm, images, masks, args.samples, args.seed)
        r["seconds"] = round(time.time() - t0, 1)
        results[split] = r
        print(
            f"{split}: {r['tiles']} tiles | Dice bg {r['dice_background']:.4f} gland {r['dice_gland']:.4f} "
            f"mean {r['dice_mean']:.4f} | ECE {r['ece']:.4f} | MC(T={args.samples}) Dice mean {r['mc_dice_mean']:.4f} "
            f"ECE {r['mc_ece']:.4f} error {r['mc_error_rate']:.4f} | AUROC entropy {r['auroc_entropy']:.4f} "
            f"MI {r['auroc_mutual_information']:.4f} ({r['seconds']}s)",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"model": str(args.model), "samples": args.samples, "results": results}, indent=1))
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
