#!/usr/bin/env bash
# make bench-open: time to first view of a multi-GB pyramidal TIFF through a local Jupyter
# server's /files/ endpoint (HTTP Range), against reading the whole file. See docs/benchmarks.md.
# Env: UGA_DATA (default ../shared/data), BENCH_OPEN_GB (default 2.5), BENCH_TMP (default system temp).
set -euo pipefail
# Needs .venv with tifffile + imagecodecs + Pillow (make_big_tiff.py) and jupyter_server.
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA=${UGA_DATA:-$ROOT/../shared/data}
GB=${BENCH_OPEN_GB:-2.5}
PY=${PYTHON:-$ROOT/.venv/bin/python}
JUPYTER=${JUPYTER:-$ROOT/.venv/bin/jupyter}

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/uga-bench-open.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "generating a ${GB} GB pyramidal JPEG BigTIFF in $WORK ..."
"$PY" bench/open/make_big_tiff.py "$WORK/big.tif" "$GB" "$DATA"
FILE_BYTES=$(stat -c %s "$WORK/big.tif")
# Drop the fresh file from the page cache where allowed, so neither side reads from warm RAM only.
sync
if [ -w /proc/sys/vm/drop_caches ]; then echo 1 > /proc/sys/vm/drop_caches || true; fi

TOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$JUPYTER" server --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port="$PORT" \
  --ServerApp.token="$TOKEN" --ServerApp.allow_root=True --ServerApp.root_dir="$WORK" \
  --ServerApp.open_browser=False >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS -H "Authorization: token $TOKEN" "http://127.0.0.1:$PORT/api/status" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log"; exit 1; fi
  sleep 0.2
done

TSX="$ROOT/node_modules/.bin/tsx"
[ -x "$TSX" ] || TSX="node $ROOT/node_modules/tsx/dist/cli.mjs"
$TSX bench/open/bench-open.ts "http://127.0.0.1:$PORT/files/big.tif" "$TOKEN" "$FILE_BYTES"
