#!/usr/bin/env bash
# make bench-replicate: reproduce the UGA experiment on EBHI-Seg (uncertainty-guided
# vs random patch correction, K = 0, 5, 10, 20 corrected patches, 5 seeds).
#
#   bash bench/bench-replicate.sh [--quick] [--model DIR] [--data DIR] [any replicate.py option]
#
# --model defaults to jupyterlab_uga/default_model; --data to $UGA_DATA or
# ../shared/data. Writes docs/replication.{json,md,png} (pass --out-json/--out-md/
# --out-png elsewhere for trial runs) and ends with one key=value line.
# The full table takes about an hour on a 2-core machine; --quick a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PY:-$ROOT/.venv/bin/python}
export UGA_DATA=${UGA_DATA:-$ROOT/../shared/data}
[ -d "$UGA_DATA/ebhi-seg/target-dev/images" ] || [ -d "$UGA_DATA/target-dev/images" ] || {
  echo "no EBHI-Seg tiles under $UGA_DATA (set UGA_DATA or pass --data)" >&2
  exit 1
}
[ -f node_modules/@tensorflow/tfjs/package.json ] || { echo "node_modules missing: run npm ci" >&2; exit 1; }
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
exec "$PY" -u bench/replicate/replicate.py "$@"
