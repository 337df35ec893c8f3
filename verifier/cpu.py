"""The CPU backend: hashlib SHA256d, vectorised assembly in NumPy, across worker processes.

Per job, the coinbases, merkle folding inputs and headers of all its shares are laid out
as fixed-width rows of one NumPy buffer, so the only per-share Python work is the two
``hashlib.sha256`` calls per SHA256d. Large batches are cut into chunks that worker
processes hash in parallel; small ones are hashed in the calling process, where starting
the pool would cost more than it saves.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from hashlib import sha256

import numpy as np

from verifier.packed import (
    HASH_FLAG_HASHED,
    HASH_FLAG_NETWORK,
    HASH_FLAG_SHARE,
    PackedBatch,
    ShareHashes,
    empty_hashes,
    hashable_mask,
    le256_leq,
)

DEFAULT_INPROCESS_THRESHOLD = 4096
"""Batches with fewer shares (or headers) than this are hashed in the calling process."""


def cpu_count() -> int:
    """Returns the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def sha256d_rows(buffer: bytes, width: int) -> bytes:
    """Returns the concatenated SHA256d digests of consecutive ``width``-byte rows."""
    h = sha256  # a local name: one lookup fewer per call in this hot loop
    return b"".join([h(h(buffer[i : i + width]).digest()).digest()
                     for i in range(0, len(buffer), width)])


def _rows(digests: bytes) -> np.ndarray:
    return np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32)


def hash_shares_inprocess(packed: PackedBatch) -> ShareHashes:
    """Returns the hashes and flags of every share, computed in this process."""
    n = len(packed)
    out = empty_hashes(n)
    if n == 0:
        return out
    shares, jobs, job_bytes = packed.shares, packed.jobs, packed.job_bytes
    ok = hashable_mask(packed)
    job_col = shares["job"]
    for j in np.unique(job_col[ok]).tolist():
        sel = np.nonzero(ok & (job_col == j))[0]
        job = jobs[j]
        group = shares[sel]
        m = sel.shape[0]
        # Coinbase rows: coinb1 | extranonce1 | extranonce2 | coinb2.
        c1 = job_bytes[int(job["coinb1_off"]) : int(job["coinb1_off"]) + int(job["coinb1_len"])]
        e1o, e1n = int(job["extranonce1_off"]), int(job["extranonce1_len"])
        e1 = job_bytes[e1o : e1o + e1n]
        c2 = job_bytes[int(job["coinb2_off"]) : int(job["coinb2_off"]) + int(job["coinb2_len"])]
        e2 = int(job["extranonce2_size"])
        width = c1.shape[0] + e1n + e2 + c2.shape[0]
        coinbase = np.empty((m, width), dtype=np.uint8)
        p = c1.shape[0]
        coinbase[:, :p] = c1
        coinbase[:, p : p + e1n] = e1
        p += e1n
        coinbase[:, p : p + e2] = group["extranonce2"][:, :e2]
        coinbase[:, p + e2 :] = c2
        root = sha256d_rows(coinbase.tobytes(), width) if width else _empty_root(m)
        # Merkle folding: root = SHA256d(root | branch[i]).
        b0 = int(job["branch_off"])
        pair = np.empty((m, 64), dtype=np.uint8)
        for k in range(int(job["branch_len"])):
            pair[:, :32] = _rows(root)
            pair[:, 32:] = packed.branches[b0 + k]
            root = sha256d_rows(pair.tobytes(), 64)
        # Header: version' | prevhash | root | ntime | nbits | nonce, integers little-endian.
        mask = np.uint32(job["version_mask"])
        version = (np.uint32(job["version"]) & ~mask) | (group["version_bits"] & mask)
        header = np.empty((m, 80), dtype=np.uint8)
        header[:, 0:4] = version.astype("<u4").view(np.uint8).reshape(m, 4)
        header[:, 4:36] = job["prevhash"]
        header[:, 36:68] = _rows(root)
        header[:, 68:72] = group["ntime"].astype("<u4").view(np.uint8).reshape(m, 4)
        header[:, 72:76] = np.array([job["nbits"]], dtype="<u4").view(np.uint8)
        header[:, 76:80] = group["nonce"].astype("<u4").view(np.uint8).reshape(m, 4)
        digests = _rows(sha256d_rows(header.tobytes(), 80))
        out.hashes[sel] = digests
        flags = np.full(m, HASH_FLAG_HASHED, dtype=np.uint8)
        flags[le256_leq(digests, job["share_target"])] |= HASH_FLAG_SHARE
        flags[le256_leq(digests, job["network_target"])] |= HASH_FLAG_NETWORK
        out.flags[sel] = flags
    return out


def _empty_root(m: int) -> bytes:
    return sha256(sha256(b"").digest()).digest() * m


def check_headers_inprocess(
    headers: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (hashes (N, 32), meets-target bool (N,)) for raw 80-byte headers."""
    if headers.shape[0] == 0:
        return np.zeros((0, 32), dtype=np.uint8), np.zeros(0, dtype=bool)
    digests = _rows(sha256d_rows(np.ascontiguousarray(headers).tobytes(), 80)).copy()
    return digests, le256_leq(digests, targets)


class CpuBackend:
    """Verifies shares with hashlib, across ``workers`` processes for large batches."""

    name = "cpu"

    def __init__(
        self, workers: int | None = None, inprocess_threshold: int = DEFAULT_INPROCESS_THRESHOLD
    ) -> None:
        self.workers = max(1, workers if workers is not None else cpu_count())
        self.inprocess_threshold = inprocess_threshold

    def describe(self) -> str:
        """Returns a one-line description of the backend."""
        return f"cpu (hashlib, {self.workers} worker process(es))"

    def _chunks(self, n: int) -> list[slice]:
        count = min(n, self.workers * 2)
        edges = np.linspace(0, n, count + 1).astype(int).tolist()
        return [slice(a, b) for a, b in itertools.pairwise(edges) if b > a]

    def hash_shares(self, packed: PackedBatch) -> ShareHashes:
        """Returns per-share hashes and flags."""
        n = len(packed)
        if self.workers == 1 or n < self.inprocess_threshold:
            return hash_shares_inprocess(packed)
        pool = _pool(self.workers)
        parts = list(pool.map(hash_shares_inprocess, [packed.take(s) for s in self._chunks(n)]))
        return ShareHashes(
            np.concatenate([p.hashes for p in parts]), np.concatenate([p.flags for p in parts])
        )

    def check_headers(
        self, headers: np.ndarray, targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (hashes, meets-target) for raw 80-byte headers and LE targets."""
        n = headers.shape[0]
        if self.workers == 1 or n < self.inprocess_threshold:
            return check_headers_inprocess(headers, targets)
        targets = np.broadcast_to(targets, (n, 32))
        pool = _pool(self.workers)
        chunks = self._chunks(n)
        parts = list(
            pool.map(check_headers_inprocess, [headers[s] for s in chunks],
                     [targets[s] for s in chunks])
        )
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ProcessPoolExecutor:
    """Returns the shared worker pool, (re)created with ``workers`` processes."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or workers != _POOL_SIZE:
            if _POOL is not None:
                _POOL.shutdown(wait=True)
            # forkserver, not fork: the verifier runs inside threaded servers, and forking
            # a threaded process can copy held locks into the child.
            context = multiprocessing.get_context("forkserver")
            _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            _POOL_SIZE = workers
        return _POOL


def shutdown_pool() -> None:
    """Stops the shared worker pool, if one was started."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=True)
        _POOL, _POOL_SIZE = None, 0


atexit.register(shutdown_pool)
