#!/usr/bin/env bash
# make bench-engine-browser: the engine in headless Chromium on a standalone
# page (bench/engine/browser): one whole analysis of the sample slide on the
# main thread vs in the Web Worker, and in the worker with cross-origin
# isolation (WASM threads); records main-thread long tasks. See docs/benchmarks.md.
#   bash bench/bench-engine-browser.sh [--samples 20] [--slide NAME] [--configs main,worker,isolated]
#       [--baseline REV] [--repeat N] [--profile] [--minify] [--session ANALYSES,PANS]
#   --region x,y,w,h: analyse that level-0 rectangle instead of the whole slide.
#   --compare-decode: first check that the decoder workers give the page decoders' pixels.
#   --baseline REV: also build the page from git revision REV's src/ and run each
#     configuration on it right before the current one (before/after rows in one run).
#   --session 30,500: a long session per configuration (bench/engine/browser/session.ts):
#     ANALYSES analyses of 1100 px regions and PANS simulated viewer pans; worker tensors and
#     WASM heap, page JS heap, slide and viewer tile-cache bytes after a warm-up and at the end.
#   --profile: a CPU profile of the page per configuration, and what its long tasks ran.
#   --minify: a minified page, as the production build minifies (webpack.config.js rules);
#   --minify-default: minified with Rspack's stock settings (shows why those rules exist).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PY:-$ROOT/.venv/bin/python}
SAMPLES=20
SLIDE=CMU-1-Small-Region.svs
EXTRA=()
BUILD_FLAGS=()
BASELINE=
while [ $# -gt 0 ]; do
  case "$1" in
    --samples) SAMPLES=$2; shift 2 ;;
    --slide) SLIDE=$2; shift 2 ;;
    --configs) EXTRA+=(--configs "$2"); shift 2 ;;
    --region) EXTRA+=(--region "$2"); shift 2 ;;
    --compare-decode) EXTRA+=(--compare-decode); shift ;;
    --profile) EXTRA+=(--profile); shift ;;
    --repeat) EXTRA+=(--repeat "$2"); shift 2 ;;
    --session) EXTRA+=(--session "${2:-30,500}"); shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --minify|--minify-default) BUILD_FLAGS+=("$1"); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM:-}" ] || { echo "needs Chromium (apt-get install -y chromium)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/uga-bench-browser.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
build() { # OUT_DIR [ROOT of a src/ tree]
  node bench/engine/browser/build.js "$1" ${2:+--root "$2"} "${BUILD_FLAGS[@]}" > "$WORK/rspack.log" 2>&1 || { cat "$WORK/rspack.log"; exit 1; }
  cp bench/engine/browser/index.html "$1/"
  [ -f "$1/page.js" ] || { echo "bundle missing" >&2; exit 1; }
}
build "$WORK/dist"
if [ -n "$BASELINE" ]; then
  # The baseline's src/ with today's page (it only uses analyzeRegion, the engine service, openSlide).
  mkdir -p "$WORK/base/bench/engine/browser"
  git archive "$BASELINE" src | tar -x -C "$WORK/base"
  cp bench/engine/browser/page.ts bench/engine/browser/session.ts bench/engine/browser/after.ts "$WORK/base/bench/engine/browser/"
  ln -s "$ROOT/node_modules" "$WORK/base/node_modules"
  build "$WORK/base-dist" "$WORK/base"
  EXTRA+=(--baseline "$(git rev-parse --short "$BASELINE")" "http://127.0.0.1:8767,http://127.0.0.1:8768")
fi
# --slide NAME: a file of jupyterlab_uga/sample, or a path to any slide.
SLIDE_DIR=jupyterlab_uga/sample
if [ -f "$SLIDE" ]; then SLIDE_DIR=$(dirname "$SLIDE"); SLIDE=$(basename "$SLIDE"); fi
[ -f "$SLIDE_DIR/$SLIDE" ] || { echo "no slide $SLIDE_DIR/$SLIDE" >&2; exit 2; }
EXTRA+=(--slide "$SLIDE")
MOUNTS=(--mount /model=jupyterlab_uga/default_model --mount /wasm=node_modules/@tensorflow/tfjs-backend-wasm/dist --mount "/slide=$SLIDE_DIR" --mount /openjpeg=node_modules/@cornerstonejs/codec-openjpeg/dist)
"$PY" bench/engine/browser/serve.py --port 8765 --root "$WORK/dist" "${MOUNTS[@]}" & PIDS+=($!)
"$PY" bench/engine/browser/serve.py --port 8766 --root "$WORK/dist" "${MOUNTS[@]}" --isolate & PIDS+=($!)
if [ -n "$BASELINE" ]; then
  "$PY" bench/engine/browser/serve.py --port 8767 --root "$WORK/base-dist" "${MOUNTS[@]}" & PIDS+=($!)
  "$PY" bench/engine/browser/serve.py --port 8768 --root "$WORK/base-dist" "${MOUNTS[@]}" --isolate & PIDS+=($!)
fi
sleep 1
npx tsx bench/engine/browser/run.ts "http://127.0.0.1:8765" "http://127.0.0.1:8766" "$SAMPLES" "${EXTRA[@]}"
