"""The CPU backend: hashlib SHA256d, vectorised assembly in NumPy, across worker processes.

Per job, the coinbases, merkle folding inputs and headers of all its shares are laid out
as fixed-width rows of one NumPy buffer, so the only per-share Python work is the two
``hashlib.sha256`` calls per SHA256d. Large batches are cut into chunks that a pool of
worker processes hashes in parallel, several chunks a process so that a slower core
takes fewer; headers, targets and results of header checks travel through shared
memory, so only names and offsets are pickled. Small batches are hashed in the calling
process, where the pool would cost more than it saves.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from hashlib import sha256
from multiprocessing.shared_memory import SharedMemory
from typing import Any

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
from verifier.worker_pool import WorkerPool

logger = logging.getLogger(__name__)

DEFAULT_INPROCESS_THRESHOLD = 4096
"""Batches with fewer shares (or headers) than this are hashed in the calling process."""

HASH_BLOCK_ROWS = 2048
"""Rows hashed per block by every ``sha256d_rows`` call (headers, coinbases, merkle
pairs): enough to amortise the per-block NumPy calls, few enough that the block's bytes
objects stay in cache (against 8,192 on the 2-core VM: header checks 1-2% and full shares
about 3% faster in one process, bench/RESULTS.md)."""
CHUNKS_PER_WORKER = 4
"""Chunks a large batch is cut into per worker process: on a shared machine cores run at
different speeds, and a faster one takes more chunks."""

_EMPTY_SHA256D = sha256(sha256(b"").digest()).digest()


def cpu_count() -> int:
    """Returns the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def sha256d_rows(rows: np.ndarray) -> np.ndarray:
    """Returns the SHA256d digests, shape (N, 32), of the rows of an (N, width) uint8 array."""
    n, width = rows.shape
    if n == 0:
        return np.zeros((0, 32), dtype=np.uint8)
    if width == 0:
        return np.frombuffer(_EMPTY_SHA256D * n, dtype=np.uint8).reshape(n, 32)
    # A void view turns each row into one bytes object in a single C loop; the list
    # comprehension is the fastest way CPython 3.11 has to call hashlib per row (faster
    # than map chains over methodcaller, which skip the interpreter's call caches).
    # Blocks of rows keep the short-lived objects in cache.
    items = np.ascontiguousarray(rows).view(np.dtype((np.void, width))).ravel()
    out = np.empty((n, 32), dtype=np.uint8)
    flat = out.reshape(-1)
    h = sha256
    for start in range(0, n, HASH_BLOCK_ROWS):
        block = items[start : start + HASH_BLOCK_ROWS].tolist()
        digests = b"".join([h(h(row).digest()).digest() for row in block])
        flat[start * 32 : start * 32 + len(digests)] = np.frombuffer(digests, dtype=np.uint8)
    return out


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
        root = sha256d_rows(coinbase)
        # Merkle folding: root = SHA256d(root | branch[i]).
        b0 = int(job["branch_off"])
        pair = np.empty((m, 64), dtype=np.uint8)
        for k in range(int(job["branch_len"])):
            pair[:, :32] = root
            pair[:, 32:] = packed.branches[b0 + k]
            root = sha256d_rows(pair)
        # Header: version' | prevhash | root | ntime | nbits | nonce, integers little-endian.
        mask = np.uint32(job["version_mask"])
        version = (np.uint32(job["version"]) & ~mask) | (group["version_bits"] & mask)
        header = np.empty((m, 80), dtype=np.uint8)
        header[:, 0:4] = version.astype("<u4").view(np.uint8).reshape(m, 4)
        header[:, 4:36] = job["prevhash"]
        header[:, 36:68] = root
        header[:, 68:72] = group["ntime"].astype("<u4").view(np.uint8).reshape(m, 4)
        header[:, 72:76] = np.array([job["nbits"]], dtype="<u4").view(np.uint8)
        header[:, 76:80] = group["nonce"].astype("<u4").view(np.uint8).reshape(m, 4)
        digests = sha256d_rows(header)
        out.hashes[sel] = digests
        flags = np.full(m, HASH_FLAG_HASHED, dtype=np.uint8)
        flags[le256_leq(digests, job["share_target"])] |= HASH_FLAG_SHARE
        flags[le256_leq(digests, job["network_target"])] |= HASH_FLAG_NETWORK
        out.flags[sel] = flags
    return out


def check_headers_inprocess(
    headers: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (hashes (N, 32), meets-target bool (N,)) for raw 80-byte headers."""
    digests = sha256d_rows(headers)
    return digests, le256_leq(digests, targets)


@dataclass(frozen=True)
class HeaderLayout:
    """Where the headers, targets, digests and verdicts of a header check lie in the arena."""

    n: int
    per_row_targets: bool

    @property
    def target_rows(self) -> int:
        """Returns the number of 32-byte targets: one per header, or one for all."""
        return self.n if self.per_row_targets else 1

    @property
    def size(self) -> int:
        """Returns the bytes the four arrays take."""
        return self.n * 80 + self.target_rows * 32 + self.n * 32 + self.n

    def arrays(self, buffer: memoryview) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray]:
        """Returns (headers, targets, digests, meets) as views of ``buffer``."""
        n, t = self.n, self.target_rows
        headers = np.ndarray((n, 80), dtype=np.uint8, buffer=buffer)
        targets = np.ndarray((t, 32), dtype=np.uint8, buffer=buffer, offset=n * 80)
        digests = np.ndarray((n, 32), dtype=np.uint8, buffer=buffer, offset=n * 80 + t * 32)
        meets = np.ndarray((n,), dtype=bool, buffer=buffer, offset=n * 112 + t * 32)
        return headers, targets, digests, meets


class SharedArena:
    """One block of shared memory, kept between calls and grown when too small.

    Fresh shared memory costs a page fault per 4 KiB on first touch, in the process that
    fills it and again in every process that maps it: for 400,000 headers that is about
    as long as hashing a tenth of them. Keeping the block (and the workers' mappings of
    it) lets later calls pay only for copying.
    """

    def __init__(self) -> None:
        self.block: SharedMemory | None = None
        self.lock = threading.Lock()

    def reserve(self, size: int) -> SharedMemory:
        """Returns a block of at least ``size`` bytes (hold ``lock`` while using it)."""
        if self.block is None or self.block.size < size:
            self.release()
            self.block = SharedMemory(create=True, size=max(size, 1))
        return self.block

    def release(self) -> None:
        """Frees the block, if any."""
        if self.block is not None:
            # A view may survive a failed call; the OS then frees the block with it.
            with contextlib.suppress(BufferError):
                self.block.close()
            self.block.unlink()
            self.block = None


def _buffer(block: SharedMemory) -> memoryview:
    """Returns the buffer of an open block."""
    if block.buf is None:  # pragma: no cover - only after close()
        raise RuntimeError(f"shared memory {block.name} is closed")
    return block.buf


_WORKER_BLOCKS: dict[str, SharedMemory] = {}
"""In a worker process: the arena block it has mapped (a new name replaces the old)."""


def _mapped(name: str) -> SharedMemory:
    """Returns the named block, mapped once per worker process."""
    block = _WORKER_BLOCKS.get(name)
    if block is None:
        for old in _WORKER_BLOCKS.values():
            old.close()
        _WORKER_BLOCKS.clear()
        block = _WORKER_BLOCKS[name] = SharedMemory(name)
    return block


def _check_shared_headers(name: str, layout: HeaderLayout, rows: slice) -> None:
    """Checks rows of the headers in the named arena, writing their digests and verdicts."""
    headers, targets, digests, meets = layout.arrays(_buffer(_mapped(name)))
    digests[rows] = sha256d_rows(headers[rows])
    meets[rows] = le256_leq(digests[rows], targets[rows] if layout.per_row_targets
                            else targets[0])


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
        """Returns CHUNKS_PER_WORKER slices of rows per worker (fewer for tiny batches)."""
        edges = np.linspace(0, n, min(n, self.workers * CHUNKS_PER_WORKER) + 1).astype(int)
        return [slice(a, b) for a, b in itertools.pairwise(edges.tolist()) if b > a]

    def _pool_for(self, n: int) -> ProcessPoolExecutor | None:
        """Returns the shared pool for a batch of ``n`` rows, or None: hash in the calling
        process (one worker, a small batch, or the pause after a broken pool)."""
        if self.workers == 1 or n < self.inprocess_threshold:
            return None
        return _WORKERS.get(self.workers)

    def hash_shares(self, packed: PackedBatch) -> ShareHashes:
        """Returns per-share hashes and flags."""
        n = len(packed)
        pool = self._pool_for(n)
        if pool is None:
            return hash_shares_inprocess(packed)
        # A share needs a dozen SHA256d or more, so pickling its 52 bytes costs little.
        try:
            parts = list(pool.map(hash_shares_inprocess,
                                  [packed.take(s) for s in self._chunks(n)]))
        except BrokenProcessPool:
            _WORKERS.broke(pool)
            return hash_shares_inprocess(packed)
        return ShareHashes(
            np.concatenate([p.hashes for p in parts]), np.concatenate([p.flags for p in parts])
        )

    def check_headers(
        self, headers: np.ndarray, targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (hashes, meets-target) for raw 80-byte headers and LE targets."""
        n = headers.shape[0]
        pool = self._pool_for(n)
        if pool is None:
            return check_headers_inprocess(headers, targets)
        try:
            return self._check_headers_on(pool, headers, targets)
        except BrokenProcessPool:
            _WORKERS.broke(pool)
            return check_headers_inprocess(headers, targets)

    def _check_headers_on(
        self, pool: ProcessPoolExecutor, headers: np.ndarray, targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (hashes, meets-target), hashed by ``pool``'s workers."""
        n = headers.shape[0]
        # A header needs a single SHA256d, so pickling it would cost a good part of the
        # hashing: headers, targets and results go through shared memory instead.
        layout = HeaderLayout(n, targets.ndim == 2)
        out_digests = np.empty((n, 32), dtype=np.uint8)
        out_meets = np.empty(n, dtype=bool)
        with _ARENA.lock:
            block = _ARENA.reserve(layout.size)
            shared_headers, shared_targets, digests, meets = layout.arrays(_buffer(block))
            shared_targets[:] = targets
            # Each chunk goes to a worker as soon as its headers are in the arena, and its
            # results are copied out as soon as it is done: the copies overlap the hashing
            # instead of standing before and after it.
            pending: dict[Future[None], slice] = {}
            try:
                for rows in self._chunks(n):
                    shared_headers[rows] = headers[rows]
                    pending[pool.submit(_check_shared_headers, block.name, layout, rows)] = rows
                for future in as_completed(pending):
                    future.result()
                    rows = pending[future]
                    out_digests[rows] = digests[rows]
                    out_meets[rows] = meets[rows]
            except BaseException:
                # No worker may still write into the arena once the lock is let go: the
                # next call would read its late digests as its own.
                for future in pending:
                    future.cancel()
                wait(pending)
                raise
            finally:
                del shared_headers, shared_targets, digests, meets  # no view outlives the lock
        return out_digests, out_meets


_ARENA = SharedArena()
_POOL_INITIALIZER: Callable[[int], None] | None = None


def set_pool_initializer(initializer: Callable[[int], None] | None) -> None:
    """Has every worker process of the shared pool started from now on run
    ``initializer(owner_pid)`` first, ``owner_pid`` being the process that started the pool
    (a server ties its workers' lives to its own this way); None: nothing."""
    global _POOL_INITIALIZER
    _POOL_INITIALIZER = initializer


def _start_pool(workers: int) -> ProcessPoolExecutor:
    """Returns a new pool of ``workers`` processes, each running the pool initializer."""
    # forkserver, not fork: the verifier runs inside threaded servers, and forking a
    # threaded process can copy held locks into the child.
    context = multiprocessing.get_context("forkserver")
    if _POOL_INITIALIZER is None:
        return ProcessPoolExecutor(max_workers=workers, mp_context=context)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_POOL_INITIALIZER, initargs=(os.getpid(),))


def _end_strays(pool: ProcessPoolExecutor) -> None:
    """Kills any worker of the broken ``pool`` that may still run (its fork server may
    have gone first, leaving it at work) and lets the shared arena go, so a late writer
    reaches no later call's rows."""
    workers: Any = pool  # the executor's own table of its processes
    for process in list((workers._processes or {}).values()):
        # Only a worker whose end was never reported (None), or lost with its fork
        # server (255), may still run: one whose end was reported is not signalled, its
        # pid may be reused (a small window remains: a 255 can also be a worker that
        # ended while its fork server went).
        if process.exitcode in (None, 255):
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGKILL)
    with _ARENA.lock:
        _ARENA.release()


_WORKERS = WorkerPool(_start_pool, "share verifier workers",
                      "batches are hashed in the calling process", logger,
                      on_break=_end_strays)
"""The one pool of the process's CPU backends, shared by all of them (started with the
size the latest large batch asked for; after a break, paused as ``verifier.worker_pool``
says)."""


def shutdown_pool() -> None:
    """Stops the shared worker pool, if one was started, frees the shared arena and ends
    any pause after a broken pool."""
    _WORKERS.close()
    with _ARENA.lock:
        _ARENA.release()


atexit.register(shutdown_pool)
