#!/usr/bin/env bash
# Issue #16 on a GPU lease: continue noema-tiny from the bundled weights with the current
# curriculum, at GPU batch sizes, for MINUTES of steps (default 7), and send back the exported
# model. Run with the device tool (no wheels needed: the image has what training imports):
#
#     run(command="bash scripts/gpu_train.sh 7", timeout_s=600)
#
# What comes back under $OUT: model.tar.part-aa/-ab (the exported model directory, split under
# the tool's 16 MiB per file), state.json (the loss history) and train.log. Here, rebuild it with
# `cat model.tar.part-* | tar -x -C runs/gpu` (it unpacks as runs/gpu/model), evaluate it with
# the four commands under "How good it is" in the README, and bundle it only if it is better.
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-7}
seed=${2:-30}
out=${OUT:-gpu-train}
mkdir -p "$out"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
# Stage 5's recipe (README) at stage 4's GPU batch: conversation canvases are long, so the
# token cap, not the row count, sets most batches.
python3 -c "from noema_tui.cli import run; run()" train --out /tmp/run \
    --init-from noema_core/models/noema-tiny --seed "$seed" --minutes "$minutes" \
    --steps 1000000 --batch-size 512 --max-batch-tokens 120000 --lr 3e-4 --warmup 100 \
    --workers 14 --eval-problems 0 --log-every 50 2>&1 | tee "$out/train.log"
if [ -d /tmp/run/model ]; then
    tar -C /tmp/run -cf - model | split -b 15M - "$out/model.tar.part-"
    cp /tmp/run/checkpoint/state.json "$out/state.json" 2>/dev/null || true
fi
ls -la "$out"
