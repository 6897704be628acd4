"""Reference colours of a slide for the UI tests, decoded independently of our
TypeScript readers (tifffile + imagecodecs, or Pillow for PNG/JPEG).

Prints JSON: {"width", "height", "cells": [[r, g, b], ...]} — the mean colour
of the inner 60% of each cell of an n x n grid over the full-resolution image.
"""
import json
import sys

import numpy as np


def load(path):
    if path.lower().endswith((".png", ".jpg", ".jpeg")):
        from PIL import Image

        return np.asarray(Image.open(path).convert("RGB"))
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return tif.series[0].levels[0].asarray()


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    a = load(path)[..., :3].astype(np.float64)
    h, w = a.shape[:2]
    cells = []
    for j in range(n):
        for i in range(n):
            # The inner 60% of each cell, as the UI test samples it.
            y0, y1 = int((j + 0.2) * h / n), int((j + 0.8) * h / n)
            x0, x1 = int((i + 0.2) * w / n), int((i + 0.8) * w / n)
            cell = a[y0:y1, x0:x1]
            cells.append([round(float(v), 2) for v in cell.reshape(-1, 3).mean(0)])
    print(json.dumps({"width": w, "height": h, "cells": cells}))


if __name__ == "__main__":
    main()
