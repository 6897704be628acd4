#!/usr/bin/env bash
# make bench-finetune: in-browser (tfjs in Node: cpu, WebGPU on SwiftShader) fine-tuning next to
# jupyterlab_uga.finetune (PyTorch) on the same corrections, interleaved; Dice after N steps.
#   bash bench/bench-finetune.sh [--rounds 2] [--steps 6] [--batch 4] [--crop 64] [--no-webgpu] ...
# (options: bench/finetune/bench.py --help). Prints ratios and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(pwd)/.venv/bin/python}
exec "$PY" bench/finetune/bench.py "$@"
