"""Segmentation, calibration and uncertainty metrics (numpy only).

Conventions: ``probs`` are softmax outputs with the class axis LAST ([..., C]);
label maps are integer class indices; pixels equal to ``ignore_index`` (255)
are excluded everywhere.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

IGNORE_INDEX = 255


def _valid(target: np.ndarray, ignore_index: Optional[int]) -> np.ndarray:
    if ignore_index is None:
        return np.ones(target.shape, dtype=bool)
    return target != ignore_index


def dice_per_class(
    pred: np.ndarray, target: np.ndarray, num_classes: int = 2, ignore_index: Optional[int] = IGNORE_INDEX
) -> np.ndarray:
    """Dice per class, pooled over all pixels of all images (not averaged per image).

    Dice_c = 2 |P_c ∩ T_c| / (|P_c| + |T_c|); a class absent from both gives NaN.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} differ")
    valid = _valid(target, ignore_index)
    p = pred[valid]
    t = target[valid]
    out = np.empty(num_classes, dtype=np.float64)
    for c in range(num_classes):
        pc = p == c
        tc = t == c
        denom = pc.sum() + tc.sum()
        out[c] = 2.0 * np.logical_and(pc, tc).sum() / denom if denom else np.nan
    return out


def dice_summary(pred, target, class_names=("Background", "Gland"), ignore_index=IGNORE_INDEX) -> Dict[str, float]:
    """{'dice_<name>': ..., 'dice_mean': mean of the per-class Dice}."""
    d = dice_per_class(pred, target, len(class_names), ignore_index)
    out = {f"dice_{n.lower()}": float(v) for n, v in zip(class_names, d)}
    out["dice_mean"] = float(np.nanmean(d))
    return out


def expected_calibration_error(
    probs: np.ndarray, target: np.ndarray, n_bins: int = 15, ignore_index: Optional[int] = IGNORE_INDEX
) -> float:
    """Top-label ECE: sum_b (n_b/N) |accuracy_b - confidence_b| over equal-width bins in [0, 1]."""
    probs = np.asarray(probs, dtype=np.float64)
    target = np.asarray(target)
    valid = _valid(target, ignore_index)
    p = probs[valid]  # [M, C]
    t = target[valid]
    conf = p.max(-1)
    correct = (p.argmax(-1) == t).astype(np.float64)
    # bin b holds confidences in (b/n, (b+1)/n]; confidence 0 goes to bin 0
    idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    n = np.bincount(idx, minlength=n_bins).astype(np.float64)
    acc_sum = np.bincount(idx, weights=correct, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    nz = n > 0
    return float(np.sum(np.abs(acc_sum[nz] - conf_sum[nz])) / max(n.sum(), 1))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties count 1/2).

    Computed as the Mann-Whitney U statistic with average ranks; NaN when one
    class is absent.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(s.size, dtype=np.float64)
    # average rank within groups of tied scores
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [s.size]])
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each group
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def uncertainty_auroc(
    uncertainty: np.ndarray, pred: np.ndarray, target: np.ndarray, ignore_index: Optional[int] = IGNORE_INDEX
) -> float:
    """AUROC of an uncertainty map for detecting misclassified pixels."""
    valid = _valid(np.asarray(target), ignore_index)
    wrong = np.asarray(pred)[valid] != np.asarray(target)[valid]
    return auroc(np.asarray(uncertainty)[valid], wrong)


def entropy(probs: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of a probability vector along ``axis``."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=axis)


def mc_uncertainty(samples: np.ndarray) -> Dict[str, np.ndarray]:
    """From T MC-dropout softmax samples [T, ..., C]: mean probs, predictive
    entropy H[E p] and mutual information H[E p] - E H[p] (BALD)."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = samples.mean(0)
    pred_entropy = entropy(mean)
    expected_entropy = entropy(samples).mean(0)
    return {
        "mean": mean,
        "entropy": pred_entropy,
        "mutual_information": np.maximum(pred_entropy - expected_entropy, 0.0),
    }
