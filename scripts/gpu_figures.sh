#!/usr/bin/env bash
# On the device machine (see scripts/gpu_figures.py): install the carried wheels, then measure.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PWD"
fi
mkdir -p "${OUT:-gpu-figures}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 scripts/gpu_figures.py "$@" 2>&1 | tee "${OUT:-gpu-figures}/gpu_figures.log"
