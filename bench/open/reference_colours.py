"""Reference colours for the slide tests, decoded independently with tifffile + imagecodecs.

Prints, for each shared slide, the mean RGB of a 32 x 32 patch at the centre of each level
(rounded to 0.1). The jest test src/slide/__tests__/slides.spec.ts holds these numbers.
Usage: .venv/bin/python bench/open/reference_colours.py [DATA_DIR]
"""
import json
import os
import sys

import tifffile

data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('UGA_DATA', '../shared/data')
out = {}
for name in sorted(os.listdir(os.path.join(data, 'slides'))):
    with tifffile.TiffFile(os.path.join(data, 'slides', name)) as tif:
        pages = [tif.pages[0]] + [p for p in tif.pages[1:] if p.is_tiled and p.shape[1] < tif.pages[0].shape[1]]
        levels = []
        for page in pages:
            a = page.asarray()
            h, w = a.shape[:2]
            y, x = max(0, h // 2 - 16), max(0, w // 2 - 16)
            patch = a[y:y + 32, x:x + 32, :3].reshape(-1, 3).astype(float)
            levels.append({'x': int(x), 'y': int(y), 'mean': [round(v, 1) for v in patch.mean(0)]})
        out[name] = levels
print(json.dumps(out, indent=1))
