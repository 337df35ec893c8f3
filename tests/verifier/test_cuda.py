"""The CUDA backend on a real GPU: the same random batches as the CPU backend, compared
byte for byte. Skipped where CuPy or a CUDA device is missing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.verifier.reference import bitcoin_headers, random_batch
from verifier.batch import parse_batch
from verifier.cpu import CpuBackend
from verifier.target import nbits_to_target
from verifier.verification import check_headers, verify_batch

cupy = pytest.importorskip("cupy")
try:
    DEVICES = int(cupy.cuda.runtime.getDeviceCount())
except Exception:  # no driver, no device
    DEVICES = 0
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(DEVICES == 0, reason="no CUDA device")]


@pytest.fixture(scope="module")
def gpu():
    from verifier.cuda import CudaBackend

    return CudaBackend()


@pytest.mark.parametrize("seed", range(5))
def test_gpu_matches_cpu_on_random_batches(gpu, seed):
    doc = random_batch(seed=100 + seed, shares=2000)
    parsed = parse_batch(doc)
    cpu = CpuBackend(workers=1)
    a, b = gpu.hash_shares(parsed.packed), cpu.hash_shares(parsed.packed)
    assert np.array_equal(a.hashes, b.hashes)
    assert np.array_equal(a.flags, b.flags)
    ra, rb = verify_batch(parsed, backend=gpu), verify_batch(parsed, backend=cpu)
    assert np.array_equal(ra.verdicts, rb.verdicts)
    assert np.array_equal(ra.block_candidates, rb.block_candidates)
    assert ra.tally == rb.tally


def test_gpu_checks_real_headers(gpu):
    vectors = bitcoin_headers()
    headers = [bytes.fromhex(v["header"]) for v in vectors]
    targets = [nbits_to_target(int(v["nbits"], 16)) for v in vectors]
    hashes, ok = check_headers(headers, targets, backend=gpu)
    assert ok.all()
    assert [bytes(h)[::-1].hex() for h in hashes] == [v["hash"] for v in vectors]


def test_gpu_handles_an_empty_batch(gpu):
    parsed = parse_batch({"jobs": [], "shares": []})
    assert verify_batch(parsed, backend=gpu).verdicts.shape == (0,)
