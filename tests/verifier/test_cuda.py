"""The CUDA backend on a real GPU: the same random batches as the CPU backend, compared
byte for byte. Skipped where CuPy or a CUDA device is missing."""

from __future__ import annotations

from typing import Any

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


def long_shapes_batch(seed: int, shares: int) -> dict[str, Any]:
    """Returns a batch of extreme job shapes: coinbases up to 99,000 bytes, branches up to
    64 entries, extranonce2 of 0 to 32 bytes at every alignment."""
    import random

    rng = random.Random(seed)
    jobs: list[dict[str, Any]] = []
    for k, (c1, c2, e2, branch) in enumerate([(0, 0, 0, 0), (99_000, 7, 8, 64), (3, 0, 32, 1),
                                              (61, 5, 30, 12), (1_000, 1_000, 4, 3),
                                              (42, 150, 8, 12), (63, 0, 1, 0), (5, 60, 31, 2)]):
        jobs.append({"job_id": f"x{k}", "version": 0x20000000,
                     "prevhash": rng.randbytes(32).hex(), "coinb1": rng.randbytes(c1).hex(),
                     "coinb2": rng.randbytes(c2).hex(), "extranonce1": rng.randbytes(k % 5).hex(),
                     "extranonce2_size": e2,
                     "merkle_branch": [rng.randbytes(32).hex() for _ in range(branch)],
                     "nbits": 0x207FFFFF, "ntime": 1_700_000_000, "version_mask": 0x1FFFE000,
                     "share_difficulty": "2.4e-10"})
    share_list = []
    for i in range(shares):
        job = jobs[i % len(jobs)]
        share_list.append({"job_id": job["job_id"],
                           "extranonce2": rng.randbytes(int(job["extranonce2_size"])).hex(),
                           "ntime": 1_700_000_000, "nonce": rng.getrandbits(32),
                           "version_bits": 0})
    return {"jobs": jobs, "shares": share_list}


def test_gpu_matches_cpu_on_extreme_shapes(gpu):
    parsed = parse_batch(long_shapes_batch(seed=7, shares=4000))
    a, b = gpu.hash_shares(parsed.packed), CpuBackend(workers=1).hash_shares(parsed.packed)
    assert np.array_equal(a.flags, b.flags)
    assert np.array_equal(a.hashes, b.hashes)


def test_gpu_pipeline_across_several_chunks():
    """More shares than one chunk: the two streams' uploads, kernels and downloads must
    land every chunk's results in the right rows."""
    from verifier.cuda import CudaBackend

    gpu = CudaBackend(chunk_shares=100_000)
    base = parse_batch(random_batch(seed=11, shares=5000)).packed
    reps = gpu.chunk_shares * 5 // len(base) + 1
    shares = np.tile(base.shares, reps)
    shares["nonce"] = np.arange(shares.shape[0], dtype=np.uint32)  # every share distinct
    from verifier.packed import PackedBatch

    packed = PackedBatch(base.jobs, base.job_bytes, base.branches, shares)
    assert len(packed) > 5 * gpu.chunk_shares
    a = gpu.hash_shares(packed)
    b = CpuBackend(workers=8).hash_shares(packed)
    assert np.array_equal(a.flags, b.flags)
    assert np.array_equal(a.hashes, b.hashes)
    hashes, flags, records = gpu.hash_shares_device(packed)
    assert np.array_equal(cupy.asnumpy(records), packed.shares.view(np.uint8).reshape(-1, 52))
    assert np.array_equal(cupy.asnumpy(hashes), b.hashes)
    assert np.array_equal(cupy.asnumpy(flags), b.flags)


@pytest.mark.parametrize("min_blocks", [1, 2, 3, 4])
def test_every_register_budget_gives_the_same_hashes(min_blocks):
    from verifier.cuda import CudaBackend

    parsed = parse_batch(long_shapes_batch(seed=5, shares=1000))
    gpu = CudaBackend(defines=(f"-DVERIFY_MIN_BLOCKS={min_blocks}",))
    a, b = gpu.hash_shares(parsed.packed), CpuBackend(workers=1).hash_shares(parsed.packed)
    assert np.array_equal(a.hashes, b.hashes)
    assert np.array_equal(a.flags, b.flags)
