"""Choosing a backend: CUDA when CuPy sees a GPU, else CPU, unless configured otherwise."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol

import numpy as np

from verifier.config import VerifierConfig
from verifier.cpu import CpuBackend
from verifier.cuda import CudaBackend, cuda_available
from verifier.packed import PackedBatch, ShareHashes


class Backend(Protocol):
    """What verification needs from a backend; both backends agree bit for bit."""

    name: str

    def describe(self) -> str:
        """Returns a one-line description."""
        ...

    def hash_shares(self, packed: PackedBatch) -> ShareHashes:
        """Returns per-share hashes and HASH_FLAG_* bits."""
        ...

    def check_headers(
        self, headers: np.ndarray, targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (hashes, meets-target) for raw 80-byte headers and LE targets."""
        ...


class DeviceHashing(Protocol):
    """What a backend adds to keep its results on the device (optional; used by
    ``verifier.verification.verify_batches`` when both members are present)."""

    array_module: ModuleType
    """The array module of the results (``cupy``)."""

    def hash_shares_device(self, packed: PackedBatch) -> tuple[Any, Any, Any]:
        """Returns (hashes, flags, records) as ``array_module`` arrays, with the meaning
        of ``hash_shares``: hashes (N, 32) uint8, C-contiguous, internal byte order, zero
        when not hashed; flags (N,) uint8 HASH_FLAG_* bits; records the share records
        the backend uploaded ((N, 52) uint8 SHARE_DTYPE rows, read for the verdicts
        without a second upload), or None when it keeps none."""
        ...


def select_backend(config: VerifierConfig | None = None) -> Backend:
    """Returns the configured backend; ``auto`` prefers CUDA and falls back to CPU.

    Raises CudaUnavailable when ``cuda`` is forced where it cannot run.
    """
    config = config or VerifierConfig.from_environment()
    if config.backend == "cuda" or (config.backend == "auto" and cuda_available()):
        return CudaBackend()
    return CpuBackend(workers=config.workers, inprocess_threshold=config.inprocess_threshold)
