#!/usr/bin/env bash
# Lay out the demo workspace: the embedded sample slide and the EBHI-Seg
# mosaic slide with its ground-truth mask always (they ship in the package);
# the shared slides (linked, never copied) only when ../shared/data/slides
# exists; the example notebooks (tutorial.ipynb walks one round).
set -euo pipefail
dir=${1:-.demo-workspace}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${UGA_DATA:-$root/../shared/data}
mkdir -p "$dir/slides"
cp -f "$root/jupyterlab_uga/sample/CMU-1-Small-Region.svs" "$dir/slides/"
cp -f "$root/jupyterlab_uga/sample/LICENSE-CMU-1-Small-Region.txt" "$dir/slides/"
for f in ebhi-target-mosaic.tif ebhi-target-mosaic.tif.mask.png ebhi-target-mosaic.tiles.csv LICENSE-ebhi-target-mosaic.txt; do
  cp -f "$root/jupyterlab_uga/sample/$f" "$dir/slides/"
done
if [ -d "$data/slides" ]; then
  for f in "$data"/slides/*; do
    name=$(basename "$f")
    # Jupyter refuses to serve symlinks that leave its root (403), so link
    # the file itself (a hard link costs no space); copy across filesystems.
    [ -L "$dir/slides/$name" ] && rm -f "$dir/slides/$name"
    [ -e "$dir/slides/$name" ] || ln "$f" "$dir/slides/$name" 2>/dev/null || cp "$f" "$dir/slides/$name"
  done
  echo "Linked the slides of $data/slides into $dir/slides"
else
  echo "No $data/slides: the demo has the embedded sample slide only"
fi
if [ -d "$root/examples" ]; then
  cp -rn "$root/examples/." "$dir/" 2>/dev/null || true
fi
