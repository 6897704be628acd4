"""Fine-tune on corrected patches with source replay (the UGA loop), then export.

    from jupyterlab_uga.finetune import finetune
    model = finetune("jupyterlab_uga/default_model", "slides/X.svs.uga",
                     replay="../shared/data/ebhi-seg/source-train", steps=30)

Each step draws a batch mixing corrected patches (pixels labelled 255 are
ignored) with a ``replay_ratio`` share of source tiles, so the model adapts to
the corrections without forgetting the source domain. When the corrections come
from a folder the result is exported to ``<folder>/models/<version>/`` and
recorded in the manifest.
"""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from .corrections import Corrections, corrections_dir, load_corrections, next_model_version, record_model

_REPLAY_CACHE: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}


def load_replay(replay: Union[None, str, os.PathLike, Tuple[np.ndarray, np.ndarray]], limit: Optional[int] = None):
    """Replay tiles as (images uint8 [N,H,W,3], masks uint8 [N,H,W]); folders are cached."""
    if replay is None:
        return None
    if isinstance(replay, tuple):
        return replay
    from . import data as ebhi

    key = f"{Path(replay).resolve()}::{limit}"
    if key not in _REPLAY_CACHE:
        images, masks, _ = ebhi.load_split(replay, limit)
        _REPLAY_CACHE[key] = (images, masks)
    return _REPLAY_CACHE[key]


def _resolve_model(model):
    """-> (torch UNet copy, uga metadata dict, parent hash or None)."""
    from .export import load_tfjs, metadata_of, model_hash

    if isinstance(model, (str, os.PathLike)):
        p = Path(model)
        if (p / "model.json").is_file():
            m = load_tfjs(p)
            return m, m.uga_metadata["uga"], model_hash(p)
        from .train import load_checkpoint
        from .export import make_metadata

        m, norm, _ = load_checkpoint(p)
        default = Path(__file__).parent / "default_model"
        uga = metadata_of(default) if (default / "model.json").is_file() else make_metadata(norm.to_dict())["uga"]
        uga = {**uga, "normalization": norm.to_dict()}
        return m, uga, None
    md = getattr(model, "uga_metadata", None)
    uga = md["uga"] if md and "uga" in md else None
    if uga is None:
        default = Path(__file__).parent / "default_model"
        uga = metadata_of(default)
    m = copy.deepcopy(model)
    return m, uga, getattr(model, "uga_hash", None)


def finetune(
    model: Any,
    corrections: Union[Corrections, str, os.PathLike],
    replay: Union[None, str, os.PathLike, Tuple[np.ndarray, np.ndarray]] = None,
    steps: int = 30,
    lr: float = 1e-4,
    replay_ratio: float = 0.5,
    seed: int = 0,
    batch_size: int = 8,
    crop: Optional[int] = 128,
    freeze_bn: bool = False,
    export: bool = True,
    version: Optional[str] = None,
    threads: Optional[int] = None,
):
    """Fine-tune a copy of ``model`` and return it (eval mode).

    model: a UNet (e.g. from load_tfjs), a tfjs model folder or a .pt
    checkpoint. corrections: a Corrections or a corrections folder / slide path
    (its 'corrected' patches are used). replay: source tiles, a folder with
    images/ + masks/ or (images, masks) arrays; None trains on corrections only.
    replay_ratio: share of each batch drawn from replay. freeze_bn=True keeps
    the BatchNorm running statistics fixed; by default they are updated, which
    measured clearly better on held-out target-dev tiles
    (bench/python/finetune_check.py).
    The returned model carries ``finetune_info`` (losses, seconds, export path)
    and ``uga_metadata``.
    """
    import torch

    from .export import export_tfjs, model_hash
    from .train import Normalizer, augment_batch, segmentation_loss

    if threads:
        torch.set_num_threads(threads)
    t0, cpu0 = time.time(), time.process_time()
    if not isinstance(corrections, Corrections):
        corrections = load_corrections(corrections)
    if len(corrections) == 0:
        raise ValueError("no corrected patches to fine-tune on")
    net, uga, parent_hash = _resolve_model(model)
    norm = Normalizer.from_dict(uga["normalization"])
    rep = load_replay(replay)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    c_img = torch.from_numpy(np.ascontiguousarray(corrections.images))
    c_msk = torch.from_numpy(np.ascontiguousarray(corrections.masks))
    n_rep = int(round(batch_size * replay_ratio)) if rep is not None else 0
    n_cor = max(1, batch_size - n_rep)
    if rep is not None:
        r_img = torch.from_numpy(rep[0])
        r_msk = torch.from_numpy(rep[1])
        if r_img.shape[1:3] != c_img.shape[1:3]:
            raise ValueError(f"replay tiles {tuple(r_img.shape[1:3])} and corrections {tuple(c_img.shape[1:3])} differ in size")
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    losses = []
    for _ in range(steps):
        net.train()
        if freeze_bn:
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()
        idx = torch.randint(0, len(c_img), (n_cor,), generator=gen)
        imgs, msks = c_img[idx], c_msk[idx]
        if n_rep:
            ridx = torch.randint(0, len(r_img), (n_rep,), generator=gen)
            imgs = torch.cat([imgs, r_img[ridx]])
            msks = torch.cat([msks, r_msk[ridx]])
        x, y = augment_batch(imgs, msks, crop, gen)
        loss = segmentation_loss(net.forward_logits(norm(x)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    net.eval()
    info: Dict[str, Any] = {
        "steps": steps,
        "lr": lr,
        "replay_ratio": replay_ratio if rep is not None else 0.0,
        "batch_size": batch_size,
        "crop": crop,
        "freeze_bn": freeze_bn,
        "seed": seed,
        "patches": list(corrections.ids),
        "losses": losses,
        "train_seconds": round(time.time() - t0, 2),
        "train_cpu_seconds": round(time.process_time() - cpu0, 2),
    }
    folder = corrections.folder
    new_uga = dict(uga)
    if export and folder is not None:
        folder = corrections_dir(folder)
        version = version or next_model_version(folder)
        parent_hash = parent_hash or corrections.manifest["model"]["hash"]
        new_uga.update(
            version=f"{uga.get('version', '1')}+ft{version}",
            parentModelHash=parent_hash,
            finetune={k: info[k] for k in ("steps", "lr", "replay_ratio", "batch_size", "crop", "freeze_bn", "seed")}
            | {"patches": len(corrections)},
        )
        out = folder / "models" / str(version)
        export_tfjs(net, out, {"uga": new_uga})
        settings = {k: info[k] for k in ("steps", "lr", "replay_ratio", "batch_size", "crop", "freeze_bn", "seed")}
        record_model(folder, str(version), out, parent_hash, corrections.ids, settings)
        info["export_dir"] = str(out)
        net.uga_hash = model_hash(out)
    info["seconds"] = round(time.time() - t0, 2)
    net.uga_metadata = {"uga": new_uga}
    net.finetune_info = info
    return net
