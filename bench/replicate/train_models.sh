#!/usr/bin/env bash
# Train the replication model (benign + low-grade classes of source-train, checkpoint on the
# same classes of source-val, the default model's recipe) and the Dropout-placement variants
# (fine-tuned from it with Dropout moved; same steps each), under bench/replicate/models (committed:
# late/model.pt + history.json is the replication model replicate.py starts from; not in the wheel).
#   bash bench/replicate/train_models.sh
# Env: OUT (folder), CLASSES, BUDGET (minutes, replication model), VEPOCHS (epochs per variant),
# THREADS, ONLY_MAIN=1 (skip the variants: all replicate.py needs), ENSEMBLE=N (also train N-1 more
# members of a deep ensemble with seeds 1..N-1 under $OUT/ensemble/seed-<s>: same data and recipe,
# 25 epochs on the pure step schedule ~ the replication model's 463 budgeted steps; for
# bench/replicate/ensemble_study.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-bench/replicate/models}
CLASSES=${CLASSES:-Normal,Polyp,Low-grade IN,Serrated adenoma}
BUDGET=${BUDGET:-14}      # minutes for the replication model (the default model had 20)
VEPOCHS=${VEPOCHS:-4}     # epochs per Dropout variant
THREADS=${THREADS:-1}     # measured: 2 threads no faster than 1 on the shared 2 cores
export PYTHONPATH=.
mkdir -p "$OUT"
if [ ! -f "$OUT/late/model.pt" ]; then
  $PY -u -m jupyterlab_uga.train --out "$OUT/late" --classes "$CLASSES" --epochs 30 \
    --time-budget-min "$BUDGET" --threads "$THREADS" --seed 0
fi
VARIANTS="late head decoder_bottleneck"
[ "${ONLY_MAIN:-0}" = 1 ] && VARIANTS=""
for at in $VARIANTS; do
  [ -f "$OUT/ft-$at/model.pt" ] && continue
  $PY -u -m jupyterlab_uga.train --out "$OUT/ft-$at" --classes "$CLASSES" --epochs "$VEPOCHS" --lr 1e-3 \
    --init "$OUT/late/model.pt" --dropout-at "$at" --threads "$THREADS" --seed 1
done
for ((s = 1; s < ${ENSEMBLE:-0}; s++)); do
  [ -f "$OUT/ensemble/seed-$s/model.pt" ] && continue
  $PY -u -m jupyterlab_uga.train --out "$OUT/ensemble/seed-$s" --classes "$CLASSES" --epochs 25 \
    --threads "$THREADS" --seed "$s"
done
echo "models done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
