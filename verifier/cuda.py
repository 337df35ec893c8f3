"""The CUDA backend: ``kernels.cu`` through a CuPy ``RawModule``, one thread per share.

CuPy is imported lazily, so this module imports cleanly where CuPy or a GPU is missing;
:func:`cuda_available` says whether the backend can run. Job data (jobs, their bytes,
merkle branches) is uploaded once per batch; every share's whole path runs on the device.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from verifier.packed import PackedBatch, ShareHashes, empty_hashes

THREADS_PER_BLOCK = 256


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


@functools.cache
def _module() -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise CudaUnavailable("CuPy is not installed (pip install '.[gpu]')") from exc
    if not cuda_available():
        raise CudaUnavailable("CuPy sees no CUDA device")
    return cupy.RawModule(code=kernel_source(), options=("--std=c++14",))


@dataclass(frozen=True, eq=False)
class DeviceBatch:
    """A packed batch resident in GPU memory, with room for the results."""

    jobs: Any
    job_bytes: Any
    branches: Any
    shares: Any
    n: int
    hashes: Any
    flags: Any


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """Returns a contiguous uint8 view of an array, at least one byte long."""
    raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    return raw if raw.size else np.zeros(1, dtype=np.uint8)


class CudaBackend:
    """Verifies shares on the GPU; construction fails with CudaUnavailable without one."""

    name = "cuda"

    def __init__(self) -> None:
        module = _module()  # raises CudaUnavailable before anything imports CuPy
        import cupy

        self._cp = cupy
        self._verify = module.get_function("verify_shares")
        self._check = module.get_function("check_headers")

    def describe(self) -> str:
        """Returns a one-line description of the device."""
        props = self._cp.cuda.runtime.getDeviceProperties(self._cp.cuda.Device().id)
        name = props["name"]
        return f"cuda ({name.decode() if isinstance(name, bytes) else name})"

    def upload(self, packed: PackedBatch) -> DeviceBatch:
        """Returns the batch copied to the device (jobs once, shares once)."""
        cp = self._cp
        n = len(packed)
        return DeviceBatch(
            jobs=cp.asarray(_bytes_of(packed.jobs)),
            job_bytes=cp.asarray(_bytes_of(packed.job_bytes)),
            branches=cp.asarray(_bytes_of(packed.branches)),
            shares=cp.asarray(_bytes_of(packed.shares)),
            n=n,
            hashes=cp.zeros(max(n, 1) * 32, dtype=cp.uint8),
            flags=cp.zeros(max(n, 1), dtype=cp.uint8),
        )

    def run(self, batch: DeviceBatch) -> None:
        """Runs the share kernel on a device-resident batch (results stay on the device)."""
        if batch.n == 0:
            return
        blocks = (batch.n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        self._verify(
            (blocks,),
            (THREADS_PER_BLOCK,),
            (batch.jobs, batch.job_bytes, batch.branches, batch.shares, np.int32(batch.n),
             batch.hashes, batch.flags),
        )

    def download(self, batch: DeviceBatch) -> ShareHashes:
        """Returns the results of a device-resident batch, copied to the host."""
        if batch.n == 0:
            return empty_hashes(0)
        hashes = self._cp.asnumpy(batch.hashes[: batch.n * 32]).reshape(batch.n, 32)
        return ShareHashes(hashes, self._cp.asnumpy(batch.flags[: batch.n]))

    def hash_shares(self, packed: PackedBatch) -> ShareHashes:
        """Returns per-share hashes and flags computed on the GPU."""
        device = self.upload(packed)
        self.run(device)
        return self.download(device)

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
            blocks = (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
            self._check(
                (blocks,),
                (THREADS_PER_BLOCK,),
                (d_headers, d_targets, np.int32(n), np.int32(stride), hashes, ok),
            )
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
