#!/usr/bin/env bash
# Issue #16 on a GPU lease: continue noema-tiny from the bundled weights with the current
# curriculum, at GPU batch sizes, for MINUTES of steps (default 6), grade the result against
# the bundled weights on the hand-written sets, and send back the exported model. Prepare the
# checker's wheels here first (`bash scripts/gpu_wheels.sh`), then with the device tool:
#
#     run(command="bash scripts/gpu_train.sh 6", carry=[".whl"], timeout_s=600)
#
# Training needs nothing beyond the device image; the grading needs math-verify and its
# grammar (the carried wheels) and is skipped without them. A session's device time is 15
# minutes, start included: six minutes of steps and about two of grading fit one call.
#
# What comes back under $OUT: model.tar.part-aa/-ab (the exported model directory, split under
# the tool's 16 MiB per file), state.json (the loss history), train.log and eval.log (one JSON
# summary per model, set and mode: the natural questions and every conversation turn, each
# turn asked alone as noema-tiny reads it; decoded on the GPU, so a go/no-go signal, not the
# README's CPU figures). Here, rebuild the model with `cat model.tar.part-* | tar -x -C
# runs/gpu` (it unpacks as runs/gpu/model), evaluate it with the four commands under "How good
# it is" in the README, and bundle it only if it is better.
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-6}
seed=${2:-30}
out=${OUT:-gpu-train}
mkdir -p "$out"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PWD"
fi
noema=(python3 -c "from noema_tui.cli import run; run()")
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
# Stage 5's recipe (README) at stage 4's GPU batch: conversation canvases are long, so the
# token cap, not the row count, sets most batches.
"${noema[@]}" train --out /tmp/run \
    --init-from noema_core/models/noema-tiny --seed "$seed" --minutes "$minutes" \
    --steps 1000000 --batch-size 512 --max-batch-tokens 120000 --lr 3e-4 --warmup 100 \
    --workers 14 --eval-problems 0 --log-every 50 2>&1 | tee "$out/train.log"
if [ -d /tmp/run/model ]; then
    tar -C /tmp/run -cf - model | split -b 15M - "$out/model.tar.part-"
    cp /tmp/run/checkpoint/state.json "$out/state.json" 2>/dev/null || true
fi
if [ -d /tmp/run/model ] && python3 -c "import math_verify" 2>/dev/null; then
    # Every conversation turn as a question of its own (noema-tiny's history_exchanges: 0).
    python3 - <<'EOF'
import json
with open("/tmp/turns.jsonl", "w") as out:
    for line in open("data/natural/conversations.jsonl"):
        for turn in json.loads(line)["turns"]:
            out.write(json.dumps({"question": turn["question"], "answer": turn["answer"]}) + "\n")
EOF
    for model in /tmp/run/model noema-tiny; do
        for set in data/natural/questions.jsonl /tmp/turns.jsonl; do
            for mode in q s; do
                timeout 60 "${noema[@]}" eval --model "$model" --dataset "$set" \
                    --mode "$mode" --batch-size 16 --json 2>/dev/null | tee -a "$out/eval.log"
            done
        done
    done
fi
ls -la "$out"
