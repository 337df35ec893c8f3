#!/usr/bin/env bash
# The one prepared device check for a session with a GPU, about eight minutes on one H200
# with 16 cores, most important first (a run cut short keeps what it finished): the
# verifier tests (CUDA parity included); every GPU figure of the verifier bench against the
# card's own bare SHA-256 ceiling; SubmitProofBatch over mTLS with the server verifying on
# the GPU; proof ingest and replay through the ledger on the GPU; the
# `serve --processes N` scale-out on PostgreSQL; the CPU backend on every core.
# STEPS="tests verifier" runs some steps only.
#
# The GPU machine reaches no package index and has its own Python with CuPy and NumPy: the
# project's other dependencies travel as wheels for that Python in $WHEELS (default .whl),
# fetched beforehand with `bench/gpu_wheels.sh`. Each step has its own time limit, and a
# failed step does not stop the next. Outputs go to $OUT when set.
set -uo pipefail
PY=${PY:-python3}
OUT=${OUT:-.}
WHEELS=${WHEELS:-.whl}
export PYTHONUNBUFFERED=1
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
step() { echo "=== $1 ($(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg))"; }
want() { [[ " ${STEPS:-tests verifier ingest proofs scale cpu} " == *" $1 "* ]]; }  # STEPS picks some

step card
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
    --format=csv | tee "$OUT/gpu.txt"
nproc | tee -a "$OUT/gpu.txt"

if want tests; then
    step "verifier tests, CUDA included"
    timeout 300 $PY -m pytest -q -p no:cacheprovider tests/verifier \
        tests/bench/test_gpu_ceiling.py > "$OUT/cuda_tests.txt" 2>&1
    tail -15 "$OUT/cuda_tests.txt"
fi

if want verifier; then
    step "verifier bench (GPU figures)"
    PREVIOUS=()  # an earlier kernels.cu to time beside this one, when given
    [ -n "${PREVIOUS_KERNEL:-}" ] && PREVIOUS=(--previous-kernel "$PREVIOUS_KERNEL")
    timeout 240 $PY -m bench.verifier_bench --no-write --only gpu --shares 1000000 \
        --headers 4000000 "${PREVIOUS[@]}" 2>&1 | tee "$OUT/verifier_bench.md" | tail -25
fi


if want ingest; then
    step "SubmitProofBatch over mTLS, the server verifying on the GPU"
    VALEDGER_VERIFIER_BACKEND=cuda timeout 200 $PY -m bench.services_bench --only proofs \
        --stores sqlite postgres --proof-shares 100000 --proof-batches 5 2>&1 \
        | tee "$OUT/ingest.md" | tail -8
fi

if want proofs; then
    step "proof batches through the ledger on the GPU"
    timeout 240 $PY -m bench.proofs_bench --no-write --backend cuda --stores sqlite \
        --shares "${PROOF_SHARES:-100000}" --trades 0 2>&1 | tee "$OUT/proofs_bench.md" \
        | tail -12
fi

if want scale; then
    step "serve --processes N on PostgreSQL"
    # shellcheck disable=SC2086  # the list of process counts splits on purpose
    timeout 300 $PY -m bench.services_bench --only scale-out --stores postgres \
        --processes ${SCALE_PROCESSES:-1 8 16} --trades "${SCALE_TRADES:-4000}" 2>&1 \
        | tee "$OUT/scale_out.md" | tail -12
fi
if want cpu; then
    step "verifier bench (CPU backend on every core)"
    timeout 180 $PY -m bench.verifier_bench --no-write --only cpu --shares 200000 \
        --headers 1000000 2>&1 | tee "$OUT/verifier_cpu.md" | tail -12
fi

step done
