"""The CUDA kernel source, checked without a GPU.

``kernels.cu`` is plain C++ once the CUDA qualifiers are defined away, so the system C++
compiler builds it into a host library that runs each "thread" in a loop. That checks the
kernel's logic (byte orders, padding, merkle folding, version rolling, target compare)
bit for bit against the CPU backend; ``test_cuda.py`` runs the same source on a GPU.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.verifier.reference import bitcoin_headers, random_batch
from verifier.batch import parse_batch
from verifier.cpu import hash_shares_inprocess
from verifier.cuda import kernel_source
from verifier.packed import JOB_DTYPE, SHARE_DTYPE
from verifier.target import nbits_to_target

HARNESS = r"""
#define __global__
#define __device__
#define __forceinline__ inline
#define __constant__ static
struct Dim3 { unsigned x; };
static Dim3 blockIdx, blockDim, threadIdx;
#include "kernels.cu"
extern "C" int job_size() { return (int)sizeof(Job); }
extern "C" int share_size() { return (int)sizeof(Share); }
extern "C" void run_verify(const Job* j, const u8* b, const u8* br, const Share* s, int n,
                           u8* h, u8* f) {
    blockDim.x = 1; threadIdx.x = 0;
    for (int i = 0; i < n; ++i) { blockIdx.x = i; verify_shares(j, b, br, s, n, h, f); }
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


@pytest.mark.parametrize("seed", [1, 2])
def test_kernel_matches_the_cpu_backend_bit_for_bit(kernel_lib, seed):
    packed = parse_batch(random_batch(seed=seed, shares=300)).packed
    n = len(packed)
    hashes = np.zeros((n, 32), dtype=np.uint8)
    flags = np.zeros(n, dtype=np.uint8)
    job_bytes = packed.job_bytes if packed.job_bytes.size else np.zeros(1, np.uint8)
    branches = packed.branches if packed.branches.size else np.zeros((1, 32), np.uint8)
    kernel_lib.run_verify(ptr(packed.jobs), ptr(job_bytes), ptr(branches), ptr(packed.shares),
                          ctypes.c_int(n), ptr(hashes), ptr(flags))
    cpu = hash_shares_inprocess(packed)
    assert np.array_equal(flags, cpu.flags)
    assert np.array_equal(hashes, cpu.hashes)
    assert (flags & 1).any() and (flags & 2).any() and (flags == 0).any()


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
