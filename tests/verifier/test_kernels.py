"""The CUDA kernel source, checked without a GPU.

``kernels.cu`` is plain C++ once the CUDA qualifiers are defined away, so the system C++
compiler builds it into a host library that runs each "thread" in a loop. That checks the
kernel's logic (byte orders, padding, merkle folding, version rolling, target compare)
bit for bit against the CPU backend; ``test_cuda.py`` runs the same source on a GPU.
"""

from __future__ import annotations

import ctypes
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.verifier.reference import bitcoin_headers, random_batch
from verifier.batch import parse_batch
from verifier.cpu import hash_shares_inprocess
from verifier.cuda import PLAN_DTYPE, kernel_source, plan_jobs
from verifier.packed import JOB_DTYPE, SHARE_DTYPE, PackedBatch
from verifier.target import nbits_to_target

HARNESS = r"""
#define __global__
#define __device__
#define __forceinline__ inline
#define __constant__ static
#define __launch_bounds__(...)
struct Dim3 { unsigned x; };
static Dim3 blockIdx, blockDim, threadIdx;
struct uint4 { unsigned x, y, z, w; };
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
    uint4 v = {x, y, z, w};
    return v;
}
#include "kernels.cu"
extern "C" int job_size() { return (int)sizeof(Job); }
extern "C" int share_size() { return (int)sizeof(Share); }
extern "C" int plan_size() { return (int)sizeof(JobPlan); }
extern "C" void run_verify(const Job* j, const u8* b, const u8* br, const Share* s, int n,
                           JobPlan* p, int jobs, u32* words, u8* h, u8* f) {
    blockDim.x = 1; threadIdx.x = 0;
    for (int i = 0; i < jobs; ++i) { blockIdx.x = i; prepare_jobs(j, b, jobs, p, words); }
    for (int i = 0; i < n; ++i) { blockIdx.x = i; verify_shares(j, p, words, br, s, n, h, f); }
}
extern "C" void run_headers(const u8* hd, const u8* t, int n, int stride, u8* h, u8* ok) {
    blockDim.x = 1; threadIdx.x = 0;
    for (int i = 0; i < n; ++i) { blockIdx.x = i; check_headers(hd, t, n, stride, h, ok); }
}
"""


@pytest.fixture(scope="module")
def kernel_lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    assert compiler, "a C++ compiler is needed to check the kernel source on the host"
    work: Path = tmp_path_factory.mktemp("kernel")
    (work / "kernels.cu").write_text(kernel_source())
    (work / "harness.cpp").write_text(HARNESS)
    lib = work / "libkernel.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-Wall", "-Wno-unknown-pragmas",
         "-o", str(lib), str(work / "harness.cpp")],
        check=True, capture_output=True, timeout=120,
    )
    return ctypes.CDLL(str(lib))


def ptr(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)


def test_struct_layouts_match_the_packed_dtypes(kernel_lib):
    assert kernel_lib.job_size() == JOB_DTYPE.itemsize
    assert kernel_lib.share_size() == SHARE_DTYPE.itemsize


def run_kernel(kernel_lib: ctypes.CDLL, packed: PackedBatch) -> tuple[np.ndarray, np.ndarray]:
    """Returns (hashes, flags) of the host-compiled kernels: prepare_jobs, then
    verify_shares, with the plans from the CUDA backend's own plan_jobs."""
    n = len(packed)
    hashes = np.full((n, 32), 0xA5, dtype=np.uint8)  # poisoned: every row must be written
    flags = np.full(n, 0xFF, dtype=np.uint8)
    plans, words = plan_jobs(packed.jobs)
    job_words = np.zeros(max(words, 4), dtype=np.uint32)
    job_bytes = packed.job_bytes if packed.job_bytes.size else np.zeros(1, np.uint8)
    branches = packed.branches if packed.branches.size else np.zeros((1, 32), np.uint8)
    jobs = packed.jobs if packed.jobs.size else np.zeros(1, JOB_DTYPE)
    plans_or_one = plans if plans.size else np.zeros(1, PLAN_DTYPE)
    kernel_lib.run_verify(ptr(jobs), ptr(job_bytes), ptr(branches), ptr(packed.shares),
                          ctypes.c_int(n), ptr(plans_or_one), ctypes.c_int(len(plans)),
                          ptr(job_words), ptr(hashes), ptr(flags))
    return hashes, flags


@pytest.mark.parametrize("seed", [1, 2])
def test_kernel_matches_the_cpu_backend_bit_for_bit(kernel_lib, seed):
    packed = parse_batch(random_batch(seed=seed, shares=300)).packed
    hashes, flags = run_kernel(kernel_lib, packed)
    cpu = hash_shares_inprocess(packed)
    assert np.array_equal(flags, cpu.flags)
    assert np.array_equal(hashes, cpu.hashes)
    assert (flags & 1).any() and (flags & 2).any() and (flags == 0).any()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(coinb1=st.integers(0, 300), extranonce1=st.integers(0, 12),
       extranonce2=st.integers(0, 32), coinb2=st.integers(0, 300),
       branch=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
@example(coinb1=3, extranonce1=0, extranonce2=32, coinb2=0, branch=0, seed=1)  # 9 words
@example(coinb1=61, extranonce1=2, extranonce2=30, coinb2=5, branch=1, seed=2)  # block edge
@example(coinb1=0, extranonce1=0, extranonce2=0, coinb2=0, branch=0, seed=3)  # empty
@example(coinb1=47, extranonce1=0, extranonce2=8, coinb2=0, branch=0, seed=4)  # length edge
def test_kernel_matches_the_cpu_backend_on_every_coinbase_shape(
        kernel_lib, coinb1, extranonce1, extranonce2, coinb2, branch, seed):
    """extranonce2 at every byte alignment, straddling block boundaries, of every size
    from 0 to 32, with the length field on either side of a block edge: the prepared
    words and midstate plus the share's extranonce2 must hash like the whole coinbase."""
    rng = random.Random(seed)
    job = {"job_id": "j", "version": 0x20000000, "prevhash": rng.randbytes(32).hex(),
           "coinb1": rng.randbytes(coinb1).hex(), "coinb2": rng.randbytes(coinb2).hex(),
           "extranonce1": rng.randbytes(extranonce1).hex(), "extranonce2_size": extranonce2,
           "merkle_branch": [rng.randbytes(32).hex() for _ in range(branch)],
           "nbits": 0x207FFFFF, "ntime": 1_700_000_000, "version_mask": 0x1FFFE000,
           "share_difficulty": "2.4e-10"}
    shares = [{"job_id": "j", "extranonce2": rng.randbytes(extranonce2).hex(),
               "ntime": 1_700_000_000, "nonce": rng.getrandbits(32), "version_bits": 0}
              for _ in range(4)]
    packed = parse_batch({"jobs": [job], "shares": shares}).packed
    hashes, flags = run_kernel(kernel_lib, packed)
    cpu = hash_shares_inprocess(packed)
    assert np.array_equal(hashes, cpu.hashes)
    assert np.array_equal(flags, cpu.flags)


def test_plans_lay_out_each_job_after_the_previous(kernel_lib):
    packed = parse_batch(random_batch(seed=3, shares=10, jobs=6)).packed
    plans, words = plan_jobs(packed.jobs)
    assert kernel_lib.plan_size() == PLAN_DTYPE.itemsize
    ends = plans["word_off"] + plans["blocks"] * 16
    assert plans["word_off"][0] == 0 and words == int(ends[-1])
    assert np.array_equal(plans["word_off"][1:], ends[:-1])


def test_header_kernel_on_real_headers(kernel_lib):
    vectors = bitcoin_headers()
    headers = np.frombuffer(b"".join(bytes.fromhex(v["header"]) for v in vectors),
                            dtype=np.uint8).reshape(-1, 80).copy()
    targets = np.frombuffer(b"".join(nbits_to_target(int(v["nbits"], 16)).to_bytes(32, "little")
                                     for v in vectors), dtype=np.uint8).reshape(-1, 32).copy()
    n = len(vectors)
    hashes = np.zeros((n, 32), dtype=np.uint8)
    ok = np.zeros(n, dtype=np.uint8)
    kernel_lib.run_headers(ptr(headers), ptr(targets), ctypes.c_int(n), ctypes.c_int(32),
                           ptr(hashes), ptr(ok))
    assert [bytes(h)[::-1].hex() for h in hashes] == [v["hash"] for v in vectors]
    assert ok.tolist() == [1] * n
    headers[:, 76] ^= 1  # flip a nonce bit
    kernel_lib.run_headers(ptr(headers), ptr(targets), ctypes.c_int(n), ctypes.c_int(32),
                           ptr(hashes), ptr(ok))
    assert ok.tolist() == [0] * n
