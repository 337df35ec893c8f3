#!/usr/bin/env bash
# The one prepared device check for a session with a GPU (a few minutes on one H200):
# the CUDA tests (parity with the CPU backend included), then every GPU figure of the
# verifier bench, measured against the card's own bare SHA-256 ceiling in the same run.
# Needs CuPy in the carried .venv (pip install -e '.[gpu]' before the session: the device
# machine reaches no package index). Writes its outputs under $OUT when set.
set -euo pipefail
PY=${PY:-.venv/bin/python}
OUT=${OUT:-.}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY -m pytest -q -p no:cacheprovider tests/verifier/test_cuda.py tests/verifier/test_kernels.py \
    tests/verifier/test_wire_format.py tests/bench/test_gpu_ceiling.py 2>&1 | tee "$OUT/cuda_tests.txt"
$PY -m bench.verifier_bench --no-write --shares 1000000 --headers 4000000 \
    | tee "$OUT/verifier_bench.md"
