"""Write a multi-GB pyramidal tiled JPEG BigTIFF from real H&E tiles, fast.

The tiles are cut from the shared CMU-1-Small-Region.svs (real H&E), JPEG-encoded
once with Pillow, and written as pre-encoded tiles (no per-tile encoding), so a
2.5 GB file takes about as long as the disk takes to write it.

Needs tifffile, imagecodecs (tifffile looks up its JPEG codec even for pre-encoded tiles), Pillow.
Usage: python make_big_tiff.py OUT.tif [TARGET_GB=2.5] [DATA_DIR=../shared/data]
Prints: path width height levels bytes seconds
"""
import io
import math
import os
import sys
import time

import numpy as np
import tifffile
from PIL import Image

TILE = 256


def tile_pool(data_dir, downsample):
    """JPEG-encoded 256x256 tiles of the real H&E region, at a given downsample."""
    with tifffile.TiffFile(os.path.join(data_dir, 'slides', 'CMU-1-Small-Region.svs')) as tif:
        image = tif.pages[0].asarray()
    if downsample > 1:
        h, w = image.shape[:2]
        image = np.asarray(Image.fromarray(image).resize((max(TILE, w // downsample), max(TILE, h // downsample)), Image.BILINEAR))
    h, w = image.shape[:2]
    pool = []
    for y in range(0, h - TILE + 1, TILE):
        for x in range(0, w - TILE + 1, TILE):
            buf = io.BytesIO()
            Image.fromarray(image[y:y + TILE, x:x + TILE]).save(buf, format='JPEG', quality=90)
            pool.append(buf.getvalue())
    return pool


def main():
    out = sys.argv[1]
    target = float(sys.argv[2]) if len(sys.argv) > 2 else 2.5
    data_dir = sys.argv[3] if len(sys.argv) > 3 else os.environ.get('UGA_DATA', '../shared/data')
    t0 = time.time()
    base = tile_pool(data_dir, 1)
    mean_tile = sum(map(len, base)) / len(base)
    side_tiles = math.ceil(math.sqrt(target * 1e9 / mean_tile))
    width = height = side_tiles * TILE
    levels = []
    ds = 1
    while True:
        levels.append(ds)
        if max(width, height) // ds <= 2048:
            break
        ds *= 4
    with tifffile.TiffWriter(out, bigtiff=True) as tw:
        for k, ds in enumerate(levels):
            pool = base if ds == 1 else tile_pool(data_dir, min(ds, 8))
            w, h = width // ds, height // ds
            n = math.ceil(w / TILE) * math.ceil(h / TILE)
            # Vary the tile order per row so neighbouring tiles differ.
            tiles = (pool[(i * 7 + i // 13) % len(pool)] for i in range(n))
            tw.write(
                tiles,
                shape=(h, w, 3),
                dtype=np.uint8,
                tile=(TILE, TILE),
                compression='jpeg',
                photometric='rgb',
                subfiletype=1 if k else 0,
                resolution=(40000 / ds, 40000 / ds),
                resolutionunit='CENTIMETER',
                description='UGA benchmark pyramid (CMU-1 H&E tiles)' if k == 0 else None,
                metadata=None,
            )
    print(out, width, height, len(levels), os.path.getsize(out), round(time.time() - t0, 1))


if __name__ == '__main__':
    main()
