#!/usr/bin/env bash
# make bench-replicate: the UGA experiment where the model genuinely fails out of domain —
# a model trained on the benign + low-grade classes meets adenocarcinoma of unseen cases.
# Guided (entropy, mutual information, UGA code score, case-diverse) vs random patch
# correction, K = 0, 5, 10, 20, patch 224 and 112 px, 3 case splits x 5 seeds, fine-tune
# (recipe picked on the pool) and retrain-from-source, held-out test and transductive pool Dice.
#
#   bash bench/bench-replicate.sh [--quick] [--model CKPT] [--data DIR] [any replicate.py option]
#   make bench-replicate ARGS="--quick"
#
# Without --model it uses the committed bench/replicate/models/late/model.pt and trains it first
# when missing (bench/replicate/train_models.sh: ~15 min; --quick: a 2-minute model under
# bench/replicate/out/, good for checking the pipeline only). Writes docs/replication.{json,md,png}
# (pass --out-json/--out-md/--out-png elsewhere for trial runs), progress in the committed
# bench/replicate/results/new-pathology/results.jsonl (--work; --resume continues it), and ends
# with one key=value line. The whole table needs many hours on a busy 2-core machine: see
# --plan / --max-minutes for a run that stops in time with what it finished.
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
HAS_MODEL=0 QUICK=0
for a in "$@"; do
  case "$a" in --model|--model=*) HAS_MODEL=1 ;; --quick) QUICK=1 ;; esac
done
EXTRA=()
if [ "$HAS_MODEL" = 0 ]; then
  if [ "$QUICK" = 1 ]; then
    MODEL=bench/replicate/out/models-quick/late/model.pt
    [ -f "$MODEL" ] || OUT=bench/replicate/out/models-quick BUDGET=2 ONLY_MAIN=1 bash bench/replicate/train_models.sh
    EXTRA=(--model "$MODEL" --work bench/replicate/out/run-quick)
  else
    MODEL=bench/replicate/models/late/model.pt
    [ -f "$MODEL" ] || OUT=bench/replicate/models ONLY_MAIN=1 bash bench/replicate/train_models.sh
    EXTRA=(--model "$MODEL")
  fi
fi
exec "$PY" -u bench/replicate/replicate.py "${EXTRA[@]}" "$@"
