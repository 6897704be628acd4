#!/usr/bin/env python
"""Build the demo mosaic slide from EBHI-Seg target-dev tiles, with its ground truth.

    .venv/bin/python scripts/make-mosaic.py [--data ../shared/data] [--out jupyterlab_uga/sample]
                                            [--cols 8 --rows 5] [--seed 0] [--quality 85]

Writes <out>/ebhi-target-mosaic.tif (JPEG-compressed, tiled 256 x 256, a page
pyramid of 1, 1/2, 1/4 with subfiletype=1 on the reduced pages) and its
ground-truth mask <out>/ebhi-target-mosaic.tif.mask.png (8-bit, level-0 size,
class index per pixel: 0 Background, 1 Gland, as the corrections masks), plus
<out>/ebhi-target-mosaic.tiles.csv listing the tiles used (for attribution).
Tiles are placed edge to edge at their own pixel size, so the slide's pixel
size is the model's (metadata mpp, 1.1 um/px) and it is analysed without
resampling; the resolution tags say so (pixels per centimetre). Tiles come
from target-dev cases (the out-of-domain stain batch), several tissue
classes, chosen with a fixed seed. EBHI-Seg is CC BY 4.0 (Shi et al. 2023).
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
TILE = 224
NAME = "ebhi-target-mosaic.tif"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="UGA_DATA folder (default $UGA_DATA or ../shared/data)")
    p.add_argument("--out", default=str(ROOT / "jupyterlab_uga" / "sample"))
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("--rows", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quality", type=int, default=85)
    p.add_argument("--mpp", type=float, default=None, help="pixel size to declare (default: the default model's metadata mpp)")
    args = p.parse_args(argv)
    import os

    import tifffile

    data = Path(args.data or os.environ.get("UGA_DATA") or ROOT.parent / "shared" / "data")
    root = data / "ebhi-seg" if (data / "ebhi-seg").is_dir() else data
    pairs = root / "pairs.csv"
    if not pairs.is_file():
        sys.exit(f"make-mosaic: {pairs} not found; pass --data with the folder that holds ebhi-seg/")
    mpp = args.mpp
    if mpp is None:
        mj = json.loads((ROOT / "jupyterlab_uga" / "default_model" / "model.json").read_text())
        mpp = float(mj["userDefinedMetadata"]["uga"]["mpp"])
    with pairs.open() as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "target-dev"]
    # Round-robin over tissue classes so the mosaic shows several kinds of glands.
    rng = random.Random(args.seed)
    by_class = {}
    for r in sorted(rows, key=lambda r: r["image"]):
        by_class.setdefault(r["class"], []).append(r)
    for v in by_class.values():
        rng.shuffle(v)
    n = args.cols * args.rows
    chosen, classes = [], sorted(by_class)
    while len(chosen) < n and any(by_class.values()):
        for c in classes:
            if by_class[c] and len(chosen) < n:
                chosen.append(by_class[c].pop())
    if len(chosen) < n:
        sys.exit(f"make-mosaic: only {len(chosen)} target-dev tiles, need {n}")
    rng.shuffle(chosen)
    h, w = args.rows * TILE, args.cols * TILE
    image = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    for i, r in enumerate(chosen):
        y, x = (i // args.cols) * TILE, (i % args.cols) * TILE
        tile = np.asarray(Image.open(root / r["image"]).convert("RGB"))
        m = np.asarray(Image.open(root / r["mask"]).convert("L"))
        if tile.shape[:2] != (TILE, TILE) or m.shape != (TILE, TILE):
            sys.exit(f"make-mosaic: {r['image']} is not {TILE} x {TILE}")
        image[y : y + TILE, x : x + TILE] = tile
        mask[y : y + TILE, x : x + TILE] = (m > 127).astype(np.uint8)  # the masks are anti-aliased
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slide = out / NAME
    ppcm = 1e4 / mpp
    tmp = slide.with_suffix(".tmp.tif")
    with tifffile.TiffWriter(tmp) as tw:
        level = image
        for k in range(3):
            ds = 2 ** k
            if k:
                level = np.asarray(Image.fromarray(image).resize((w // ds, h // ds), Image.LANCZOS))
            tw.write(
                level,
                tile=(256, 256),
                compression="jpeg",
                compressionargs={"level": args.quality},
                photometric="rgb",
                subfiletype=1 if k else 0,
                resolution=(ppcm / ds, ppcm / ds),
                resolutionunit="CENTIMETER",
                description=f"EBHI-Seg target-dev mosaic, {n} tiles, CC BY 4.0 (Shi et al. 2023)" if k == 0 else None,
                metadata=None,
            )
    tmp.replace(slide)
    Image.fromarray(mask).save(out / (NAME + ".mask.png"), optimize=True)
    with (out / "ebhi-target-mosaic.tiles.csv").open("w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["index", "x", "y", "image", "class", "case"])
        for i, r in enumerate(chosen):
            wr.writerow([i, (i % args.cols) * TILE, (i // args.cols) * TILE, r["image"], r["class"], r["case"]])
    print(f"wrote {slide} ({slide.stat().st_size} bytes, {w} x {h}, mpp {mpp}), "
          f"{out / (NAME + '.mask.png')} (gland share {mask.mean():.3f})")


if __name__ == "__main__":
    main()
