"""EBHI-Seg tile folders (numpy + pillow only).

A split folder holds ``images/NAME.png`` (224x224 RGB) and ``masks/NAME.png``
(grey, anti-aliased; gland = white). Masks are binarised with ``> 127``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

SPLITS = ("source-train", "source-val", "target-dev")


def default_data_root() -> Path:
    """``$UGA_DATA`` or ``../shared/data`` relative to the repository root."""
    env = os.environ.get("UGA_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def ebhi_root(data: Optional[os.PathLike] = None) -> Path:
    """Resolve the ebhi-seg folder from a data root or the ebhi-seg folder itself."""
    root = Path(data) if data is not None else default_data_root()
    if (root / "ebhi-seg").is_dir():
        root = root / "ebhi-seg"
    return root


def list_tiles(split_dir: os.PathLike) -> List[str]:
    images = Path(split_dir) / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"no images/ folder in {split_dir}")
    return sorted(p.name for p in images.iterdir() if p.suffix.lower() == ".png")


def read_rgb(path: os.PathLike) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_mask(path: os.PathLike) -> np.ndarray:
    """Binary class-index mask (0 background, 1 gland) from a grey/RGB mask PNG."""
    with Image.open(path) as im:
        grey = np.asarray(im.convert("L"))
    return (grey > 127).astype(np.uint8)


def load_split(
    split_dir: os.PathLike, limit: Optional[int] = None, names: Optional[List[str]] = None
) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """All tiles of a split folder: images uint8 [N,H,W,3], masks uint8 [N,H,W], names."""
    split_dir = Path(split_dir)
    names = list(names) if names is not None else list_tiles(split_dir)
    if limit is not None:
        names = names[:limit]
    images = np.stack([read_rgb(split_dir / "images" / n) for n in names])
    masks = np.stack([read_mask(split_dir / "masks" / n) for n in names])
    return images, masks, names


def channel_stats(images: np.ndarray) -> Tuple[List[float], List[float]]:
    """Per-channel mean/std of images scaled to [0, 1] (for the model's normalization)."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    return x.mean(0).tolist(), x.std(0).tolist()
