#!/usr/bin/env bash
# make bench-engine-browser: the engine in headless Chromium on a standalone
# page (bench/engine/browser): one whole analysis of the sample slide on the
# main thread vs in the Web Worker, and in the worker with cross-origin
# isolation (WASM threads); records main-thread long tasks. See docs/benchmarks.md.
#   bash bench/bench-engine-browser.sh [--samples 20] [--slide NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PY:-$ROOT/.venv/bin/python}
SAMPLES=20
SLIDE=CMU-1-Small-Region.svs
while [ $# -gt 0 ]; do
  case "$1" in
    --samples) SAMPLES=$2; shift 2 ;;
    --slide) SLIDE=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || { echo "needs Chromium (apt-get install -y chromium)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/uga-bench-browser.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
node bench/engine/browser/build.js "$WORK/dist" > "$WORK/rspack.log" 2>&1 || { cat "$WORK/rspack.log"; exit 1; }
cp bench/engine/browser/index.html "$WORK/dist/"
ls "$WORK/dist" | grep -q . || { echo "bundle missing" >&2; exit 1; }
MOUNTS=(--mount /model=jupyterlab_uga/default_model --mount /wasm=node_modules/@tensorflow/tfjs-backend-wasm/dist --mount /slide=jupyterlab_uga/sample)
"$PY" bench/engine/browser/serve.py --port 8765 --root "$WORK/dist" "${MOUNTS[@]}" & PIDS+=($!)
"$PY" bench/engine/browser/serve.py --port 8766 --root "$WORK/dist" "${MOUNTS[@]}" --isolate & PIDS+=($!)
sleep 1
npx tsx bench/engine/browser/run.ts "http://127.0.0.1:8765" "http://127.0.0.1:8766" "$SAMPLES"
