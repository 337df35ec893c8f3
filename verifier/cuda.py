"""The CUDA backend: ``kernels.cu`` through a CuPy ``RawModule``, one thread per share.

CuPy is imported lazily, so this module imports cleanly where CuPy or a GPU is missing;
:func:`cuda_available` says whether the backend can run. Per batch, the job data (jobs,
their bytes, merkle branches) is uploaded once and ``prepare_jobs`` turns every job into a
:data:`PLAN_DTYPE` plan (padded coinbase words, midstate); the shares then travel in
chunks through pinned host buffers on two CUDA streams, so the upload of one chunk, the
kernel of another and the download of a third overlap. Every share's whole path runs on
the device.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from verifier.packed import JOB_DTYPE, PackedBatch, ShareHashes, empty_hashes

THREADS_PER_BLOCK = 256
CHUNK_SHARES = 1 << 18
"""Shares per upload/kernel/download chunk by default: enough threads to fill the card
(about 2,000 per SM on an H200), small enough that a batch of a million shares is four
chunks whose copies and kernels overlap."""

PLAN_DTYPE = np.dtype(
    [
        ("word_off", "<u4"),  # where the job's padded coinbase words start
        ("blocks", "<u4"),  # 64-byte blocks of the padded coinbase
        ("extranonce2_at", "<u4"),  # byte offset of extranonce2 in the coinbase
        ("first_block", "<u4"),  # first block a share compresses
        ("midstate", "<u4", (8,)),  # SHA-256 state after the blocks before it
        ("prevhash", "<u4", (8,)),  # big-endian message words
        ("share_target", "<u4", (8,)),  # little-endian limbs
        ("network_target", "<u4", (8,)),
    ]
)
"""A job prepared for the share kernel (``JobPlan`` in kernels.cu): 144 bytes. The host
fills the first four fields (:func:`plan_jobs`); ``prepare_jobs`` on the device fills the
rest."""


class CudaUnavailable(RuntimeError):
    """CuPy is not installed or sees no CUDA device."""


def kernel_source() -> str:
    """Returns the CUDA C++ source of the verification kernels."""
    return resources.files("verifier").joinpath("kernels.cu").read_text(encoding="utf-8")


def cuda_available() -> bool:
    """Returns True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception:  # ImportError, CUDARuntimeError, driver errors: all mean "no"
        return False


def plan_jobs(jobs: np.ndarray) -> tuple[np.ndarray, int]:
    """Returns the jobs' plans with the host's fields filled, and the number of 32-bit
    words the padded coinbases of all jobs take (vectorised: nothing per job in Python).

    Precondition: ``jobs`` has JOB_DTYPE (lengths as the parser bounds them).
    """
    if jobs.dtype != JOB_DTYPE:
        raise ValueError("jobs must have JOB_DTYPE")
    plans = np.zeros(jobs.shape[0], dtype=PLAN_DTYPE)
    if jobs.shape[0] == 0:
        return plans, 0
    e2_at = jobs["coinb1_len"].astype(np.int64) + jobs["extranonce1_len"]
    length = e2_at + jobs["extranonce2_size"] + jobs["coinb2_len"]
    blocks = (length + 9 + 63) // 64  # the 0x80 byte and the 8-byte length always fit
    ends = np.cumsum(blocks * 16)
    if int(ends[-1]) >= 2**32:
        raise ValueError("the batch's coinbases are too large for one launch")
    plans["word_off"] = ends - blocks * 16
    plans["blocks"] = blocks
    plans["extranonce2_at"] = e2_at
    plans["first_block"] = e2_at // 64
    return plans, int(ends[-1])


@functools.cache
def _module(defines: tuple[str, ...] = ()) -> Any:
    """Returns the compiled kernels; ``defines`` are extra compiler options (``-DNAME=V``),
    e.g. ``-DVERIFY_MIN_BLOCKS=3`` to cap the share kernel's registers."""
    try:
        import cupy
    except ImportError as exc:
        raise CudaUnavailable("CuPy is not installed (pip install '.[gpu]')") from exc
    if not cuda_available():
        raise CudaUnavailable("CuPy sees no CUDA device")
    return cupy.RawModule(code=kernel_source(), options=("--std=c++14", *defines))


@dataclass(frozen=True, eq=False)
class DeviceJobs:
    """A batch's jobs on the device, prepared (plans and padded coinbase words)."""

    jobs: Any
    plans: Any
    words: Any
    branches: Any


@dataclass(frozen=True, eq=False)
class DeviceBatch:
    """A packed batch resident in GPU memory, with room for the results."""

    jobs: DeviceJobs
    shares: Any
    n: int
    hashes: Any
    flags: Any


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """Returns a contiguous uint8 view of an array, at least one byte long."""
    raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    return raw if raw.size else np.zeros(1, dtype=np.uint8)


def _blocks(n: int) -> int:
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


class CudaBackend:
    """Verifies shares on the GPU; construction fails with CudaUnavailable without one."""

    name = "cuda"

    def __init__(self, defines: tuple[str, ...] = (), chunk_shares: int = CHUNK_SHARES) -> None:
        module = _module(defines)  # raises CudaUnavailable before anything imports CuPy
        import cupy
        import cupyx

        self._cp = cupy
        self._cpx = cupyx
        self.array_module = cupy
        """The array module of the arrays :meth:`hash_shares_device` returns."""
        self._prepare = module.get_function("prepare_jobs")
        self._verify = module.get_function("verify_shares")
        self._check = module.get_function("check_headers")
        self.kernel_resources = {
            "registers": int(getattr(self._verify, "num_regs", -1)),
            "local_bytes": int(getattr(self._verify, "local_size_bytes", -1)),
        }
        """The share kernel's registers per thread and local (spilled) bytes."""
        self._streams = (cupy.cuda.Stream(non_blocking=True),
                         cupy.cuda.Stream(non_blocking=True))
        self._staging: list[Any] = [None, None]  # pinned share buffers, one per stream
        self._pipeline_lock = threading.Lock()  # one batch at a time owns the buffers
        self.chunk_shares = chunk_shares

    def describe(self) -> str:
        """Returns a one-line description of the device."""
        props = self._cp.cuda.runtime.getDeviceProperties(self._cp.cuda.Device().id)
        name = props["name"]
        return f"cuda ({name.decode() if isinstance(name, bytes) else name})"

    def upload_jobs(self, packed: PackedBatch) -> DeviceJobs:
        """Returns the batch's jobs on the device, prepared by ``prepare_jobs``."""
        cp = self._cp
        plans, words = plan_jobs(packed.jobs)
        jobs = cp.asarray(_bytes_of(packed.jobs))
        d_plans = cp.asarray(_bytes_of(plans))
        d_words = cp.zeros(max(words, 4), dtype=cp.uint32)
        n_jobs = int(packed.jobs.shape[0])
        if n_jobs:
            self._prepare((_blocks(n_jobs),), (THREADS_PER_BLOCK,),
                          (jobs, cp.asarray(_bytes_of(packed.job_bytes)), np.int32(n_jobs),
                           d_plans, d_words))
        return DeviceJobs(jobs, d_plans, d_words, cp.asarray(_bytes_of(packed.branches)))

    def upload(self, packed: PackedBatch) -> DeviceBatch:
        """Returns the batch copied to the device (jobs once, shares once)."""
        cp = self._cp
        n = len(packed)
        return DeviceBatch(
            jobs=self.upload_jobs(packed),
            shares=cp.asarray(_bytes_of(packed.shares)),
            n=n,
            hashes=cp.zeros(max(n, 1) * 32, dtype=cp.uint8),
            flags=cp.zeros(max(n, 1), dtype=cp.uint8),
        )

    def _launch(self, jobs: DeviceJobs, shares: Any, n: int, hashes: Any, flags: Any) -> None:
        self._verify((_blocks(n),), (THREADS_PER_BLOCK,),
                     (jobs.jobs, jobs.plans, jobs.words, jobs.branches, shares, np.int32(n),
                      hashes, flags))

    def run(self, batch: DeviceBatch) -> None:
        """Runs the share kernel on a device-resident batch (results stay on the device)."""
        if batch.n:
            self._launch(batch.jobs, batch.shares, batch.n, batch.hashes, batch.flags)

    def download(self, batch: DeviceBatch) -> ShareHashes:
        """Returns the results of a device-resident batch, copied to the host."""
        if batch.n == 0:
            return empty_hashes(0)
        hashes = self._cp.asnumpy(batch.hashes[: batch.n * 32]).reshape(batch.n, 32)
        return ShareHashes(hashes, self._cp.asnumpy(batch.flags[: batch.n]))

    def _pinned(self, slot: int, nbytes: int) -> np.ndarray:
        """Returns the pinned staging buffer of a stream, at least ``nbytes`` long."""
        buffer = self._staging[slot]
        if buffer is None or buffer.size < nbytes:
            buffer = self._cpx.empty_pinned(max(nbytes, 1), dtype=np.uint8)
            self._staging[slot] = buffer
        return buffer

    def _pipeline(self, packed: PackedBatch, hashes: Any, flags: Any,
                  host: ShareHashes | None) -> Any:
        """Hashes every share into the device arrays ``hashes`` and ``flags``, chunk by
        chunk on alternating streams, and copies each chunk's results into ``host``
        (pinned arrays) when given; returns the share records uploaded on the way (one
        device array of N × 52 bytes). Returns once everything has finished."""
        with self._pipeline_lock:
            return self._pipeline_locked(packed, hashes, flags, host)

    def _pipeline_locked(self, packed: PackedBatch, hashes: Any, flags: Any,
                         host: ShareHashes | None) -> Any:
        cp = self._cp
        n = len(packed)
        jobs = self.upload_jobs(packed)
        raw = _bytes_of(packed.shares)
        size = packed.shares.dtype.itemsize
        records = cp.empty(max(n, 1) * size, dtype=cp.uint8)
        cp.cuda.get_current_stream().synchronize()  # plans and buffers ready for both streams
        chunk_shares = self.chunk_shares
        for chunk, start in enumerate(range(0, n, chunk_shares)):
            slot = chunk % 2
            stream = self._streams[slot]
            stop = min(n, start + chunk_shares)
            m = stop - start
            stream.synchronize()  # this slot's previous chunk no longer needs its staging
            staging = self._pinned(slot, m * size)
            staging[: m * size] = raw[start * size: stop * size]
            chunk_records = records[start * size: stop * size]
            with stream:
                chunk_records.set(staging[: m * size], stream=stream)
                self._launch(jobs, chunk_records, m, hashes[start * 32: stop * 32],
                             flags[start:stop])
                if host is not None:
                    hashes[start * 32: stop * 32].get(
                        stream=stream, out=host.hashes.reshape(-1)[start * 32: stop * 32],
                        blocking=False)
                    flags[start:stop].get(stream=stream, out=host.flags[start:stop],
                                          blocking=False)
        for stream in self._streams:
            stream.synchronize()
        return records[: n * size].reshape(n, size)

    def hash_shares(self, packed: PackedBatch) -> ShareHashes:
        """Returns per-share hashes and flags computed on the GPU (in pinned host memory)."""
        n = len(packed)
        if n == 0:
            return empty_hashes(0)
        cp, cpx = self._cp, self._cpx
        host = ShareHashes(cpx.empty_pinned((n, 32), dtype=np.uint8),
                           cpx.empty_pinned(n, dtype=np.uint8))
        self._pipeline(packed, cp.empty(n * 32, dtype=cp.uint8), cp.empty(n, dtype=cp.uint8),
                       host)
        return host

    def hash_shares_device(self, packed: PackedBatch) -> tuple[Any, Any, Any]:
        """Returns per-share hashes ((N, 32) uint8), flags ((N,) uint8) and the share
        records ((N, 52) uint8, SHARE_DTYPE rows) as CuPy arrays left on the device, for
        verdicts computed there."""
        cp = self._cp
        n = len(packed)
        hashes = cp.zeros(max(n, 1) * 32, dtype=cp.uint8)
        flags = cp.zeros(max(n, 1), dtype=cp.uint8)
        if n == 0:
            return hashes[:0].reshape(0, 32), flags[:0], None
        records = self._pipeline(packed, hashes, flags, None)
        return hashes[: n * 32].reshape(n, 32), flags[:n], records

    def upload_headers(self, headers: np.ndarray, targets: np.ndarray) -> tuple[Any, Any, int]:
        """Returns (headers, targets, target stride) on the device."""
        cp = self._cp
        targets = np.ascontiguousarray(targets, dtype=np.uint8)
        stride = 0 if targets.ndim == 1 else 32
        return cp.asarray(_bytes_of(headers)), cp.asarray(_bytes_of(targets)), stride

    def run_headers(self, d_headers: Any, d_targets: Any, stride: int, n: int) -> tuple[Any, Any]:
        """Runs the header kernel on device-resident headers; returns device results."""
        cp = self._cp
        hashes = cp.zeros(max(n, 1) * 32, dtype=cp.uint8)
        ok = cp.zeros(max(n, 1), dtype=cp.uint8)
        if n:
            self._check((_blocks(n),), (THREADS_PER_BLOCK,),
                        (d_headers, d_targets, np.int32(n), np.int32(stride), hashes, ok))
        return hashes, ok

    def check_headers(
        self, headers: np.ndarray, targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (hashes, meets-target) for raw 80-byte headers and LE targets."""
        n = int(headers.shape[0])
        d_headers, d_targets, stride = self.upload_headers(headers, targets)
        hashes, ok = self.run_headers(d_headers, d_targets, stride, n)
        return (
            self._cp.asnumpy(hashes[: n * 32]).reshape(n, 32),
            self._cp.asnumpy(ok[:n]).astype(bool),
        )

    def synchronize(self) -> None:
        """Waits for queued kernels to finish."""
        self._cp.cuda.runtime.deviceSynchronize()
