#!/usr/bin/env bash
# make bench-panel: main-thread long tasks in the real slide panel (JupyterLab + headless
# Chromium) during one whole analysis of the sample slide and the drawing of its result,
# with a CPU profile of the main thread naming where they go. Needs `make build` and
# Debian chromium; uses port 8888 like the Galata tests (run them apart).
#   BENCH_SAMPLES=20 BENCH_BACKEND=wasm bash bench/bench-panel.sh
set -euo pipefail
cd "$(dirname "$0")/../ui-tests"
PATH=$(cd .. && pwd)/.venv/bin:$PATH CI=true npx playwright test -c playwright.bench.config.js 2>&1 | grep -v '^\[WebServer\]'
