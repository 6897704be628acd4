#!/usr/bin/env bash
# make bench-engine: the uncertainty engine against naive MC dropout (tfjs and PyTorch).
#
#   bash bench/bench-engine.sh [--backend wasm|webgpu] [--patches 8] [--samples 20]
#                              [--model DIR] [--backends wasm,cpu,webgpu] [--threads N]
#
# --model defaults to jupyterlab_uga/default_model, or a random-weight model of
# the same architecture when that is not there. --backend webgpu is for a GPU
# machine: Node's `webgpu` package over the system Vulkan driver (set
# VK_ICD_FILENAMES yourself if needed); on CPU-only machines the tiny WebGPU
# row runs on SwiftShader. PyTorch (naive MC, and the same prefix caching) and
# onnxruntime-web WASM (the same weights exported with torch.onnx; naive, and
# the same prefix/suffix split) run inside the timing loop, interleaved with the
# tfjs contenders. --ort-threads N passes through (default 1). Prints ratios
# and ends with one key=value line (with the load average).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PY:-$ROOT/.venv/bin/python}
DATA=${UGA_DATA:-$ROOT/../shared/data}
BACKEND=wasm
PATCHES=8
SAMPLES=20
MODEL=
BACKENDS=wasm,cpu,webgpu
THREADS=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKEND=$2; shift 2 ;;
    --patches) PATCHES=$2; shift 2 ;;
    --samples) SAMPLES=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --backends) BACKENDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done
WORK=$(mktemp -d /tmp/uga-bench-engine.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [ -z "$MODEL" ]; then
  if [ -f jupyterlab_uga/default_model/model.json ]; then
    MODEL=jupyterlab_uga/default_model
  else
    echo "no jupyterlab_uga/default_model yet: using a random-weight model of the same architecture"
    PYTHONPATH=$ROOT "$PY" bench/engine/make_model.py "$WORK/model"
    MODEL=$WORK/model
  fi
fi
ALL_IMAGES=("$DATA"/ebhi-seg/target-dev/images/*.png)
[ -f "${ALL_IMAGES[0]}" ] || { echo "no EBHI tiles under $DATA/ebhi-seg/target-dev/images" >&2; exit 1; }
IMAGES="${ALL_IMAGES[*]:0:$PATCHES}"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
TORCH_ARGS=()
if "$PY" -c 'import torch' 2>/dev/null; then
  # PyTorch runs inside the Node benchmark's timing loop, one process per round.
  TORCH_ARGS=(--python "$PY" --torch-threads "$THREADS" --torch-json "$WORK/torch.json" --torch-probs "$WORK/torch-probs.f32")
  # onnxruntime-web contenders: the same weights exported with torch.onnx (needs the onnx package).
  if "$PY" -c 'import onnx' 2>/dev/null; then
    TORCH_ARGS+=(--onnx-dir "$WORK/onnx")
  else
    echo "no onnx in $PY: onnxruntime-web contenders skipped"
    TORCH_ARGS+=(--no-ort)
  fi
else
  echo "no torch in $PY: PyTorch contenders skipped"
fi

# WebGPU without a GPU: SwiftShader, when Chromium's ICD is there and none is set.
if [ "$BACKEND" != webgpu ] && [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  # Dawn needs libvulkan.so.1: Debian's libvulkan1, or the copy Chromium bundles.
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' && [ -f /usr/lib/chromium/libvulkan.so.1 ]; then
    export LD_LIBRARY_PATH=/usr/lib/chromium${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
fi

echo "== engine, contenders interleaved (ours, tfjs naive, one pass, PyTorch naive and cached, onnxruntime-web naive and split) =="
# shellcheck disable=SC2086
npx tsx bench/engine/bench.ts --model "$MODEL" --images $IMAGES --samples "$SAMPLES" --backend "$BACKEND" \
  --backends "$BACKENDS" "${TORCH_ARGS[@]}" "${EXTRA[@]}"
