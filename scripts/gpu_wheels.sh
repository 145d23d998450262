#!/usr/bin/env bash
# Here, on a machine with PyPI: the packages scripts/gpu_figures.sh and scripts/gpu_train.sh
# need that the device image lacks, as wheels in .whl/ (ignored by git): bitsandbytes for the
# NF4 figures, and the checker's LaTeX grammar (math-verify, pure Python) for grading.
# bitsandbytes ships a library per CUDA version (129 MB unpacked); only CUDA 13's and the CPU
# one are kept, so the carried tree stays under the device tool's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl /tmp/bnb-wheel && mkdir -p .whl /tmp/bnb-wheel
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_24_x86_64 -d /tmp/bnb-wheel "bitsandbytes==0.50.2"
wheel=$(ls /tmp/bnb-wheel/bitsandbytes-*.whl)
cp "$wheel" .whl/
zip -q -d ".whl/$(basename "$wheel")" 'bitsandbytes/libbitsandbytes_rocm*' \
    'bitsandbytes/libbitsandbytes_cuda1[012]*' >/dev/null
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_17_x86_64 -d .whl "math-verify==0.9.0" \
    "latex2sympy2_extended==1.11.0" "antlr4-python3-runtime==4.13.2"
ls -la .whl
