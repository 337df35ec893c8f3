"""The packed form of a proof batch: NumPy structured arrays that both backends consume.

Jobs, the bytes they reference and the shares are three flat arrays, so a batch of a
million shares is a few contiguous buffers (copied to worker processes or to the GPU as
they are) rather than a million Python objects. The record layouts are mirrored by the
structs in ``kernels.cu``; change both together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_EXTRANONCE2_SIZE = 32
"""The largest extranonce2 a job may ask for, in bytes (real pools use 4 to 8)."""

JOB_DTYPE = np.dtype(
    [
        ("version", "<u4"),
        ("version_mask", "<u4"),
        ("ntime", "<u4"),
        ("nbits", "<u4"),
        ("extranonce2_size", "<u4"),
        ("coinb1_off", "<u4"),
        ("coinb1_len", "<u4"),
        ("extranonce1_off", "<u4"),
        ("extranonce1_len", "<u4"),
        ("coinb2_off", "<u4"),
        ("coinb2_len", "<u4"),
        ("branch_off", "<u4"),  # index of the first entry in ``branches``
        ("branch_len", "<u4"),
        ("prevhash", "u1", (32,)),  # internal byte order, as hashed
        ("share_target", "u1", (32,)),  # little-endian 256-bit integer
        ("network_target", "u1", (32,)),  # little-endian 256-bit integer
    ]
)
"""One Stratum job: 148 bytes, 4-byte aligned, no padding."""

SHARE_DTYPE = np.dtype(
    [
        ("job", "<i4"),  # index into jobs, -1 for an unknown job id
        ("ntime", "<u4"),
        ("nonce", "<u4"),
        ("version_bits", "<u4"),
        ("extranonce2_len", "<u4"),  # length as submitted; bytes beyond 32 are not kept
        ("extranonce2", "u1", (MAX_EXTRANONCE2_SIZE,)),
    ]
)
"""One submitted share: 52 bytes, 4-byte aligned, no padding."""

HASH_FLAG_SHARE = 1
"""Result flag bit: the hash meets the job's share target."""
HASH_FLAG_NETWORK = 2
"""Result flag bit: the hash meets the job's network (nBits) target."""
HASH_FLAG_HASHED = 4
"""Result flag bit: the share was hashed (its job is known and extranonce2 fits)."""


@dataclass(frozen=True, eq=False)
class PackedBatch:
    """Jobs, their variable-length bytes, merkle branches and shares as flat arrays."""

    jobs: np.ndarray  # JOB_DTYPE, shape (J,)
    job_bytes: np.ndarray  # uint8, coinb1 / extranonce1 / coinb2 of every job
    branches: np.ndarray  # uint8, shape (B, 32)
    shares: np.ndarray  # SHARE_DTYPE, shape (N,)

    def __len__(self) -> int:
        return int(self.shares.shape[0])

    def take(self, index: np.ndarray | slice) -> PackedBatch:
        """Returns the same jobs with a subset of the shares."""
        return PackedBatch(self.jobs, self.job_bytes, self.branches, self.shares[index])


@dataclass(frozen=True, eq=False)
class ShareHashes:
    """What a backend computes per share: the SHA256d hash and the flag bits."""

    hashes: np.ndarray  # uint8, shape (N, 32), internal byte order; zero when not hashed
    flags: np.ndarray  # uint8, shape (N,), HASH_FLAG_* bits


def empty_hashes(n: int) -> ShareHashes:
    """Returns zeroed results for n shares."""
    return ShareHashes(np.zeros((n, 32), dtype=np.uint8), np.zeros(n, dtype=np.uint8))


def hashable_mask(packed: PackedBatch) -> np.ndarray:
    """Returns a bool array: shares whose job is known and whose extranonce2 fits it."""
    job = packed.shares["job"]
    known = job >= 0
    if packed.jobs.shape[0] == 0:
        return np.zeros(job.shape[0], dtype=bool)
    size = packed.jobs["extranonce2_size"][np.where(known, job, 0)]
    return known & (packed.shares["extranonce2_len"] == size)


def le256_leq(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Returns, per row, whether a little-endian 256-bit value is at most its target.

    ``values`` is (N, 32) uint8; ``targets`` is (N, 32) or (32,) uint8.
    """
    if values.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    # Four little-endian 64-bit words per value, word 0 the least significant: compare
    # from the least significant word up, each higher word overriding unless equal.
    v = np.ascontiguousarray(values).view("<u8")
    t = np.ascontiguousarray(targets).view("<u8")
    result = v[:, 0] <= t[..., 0]
    for k in range(1, 4):
        result = (v[:, k] < t[..., k]) | ((v[:, k] == t[..., k]) & result)
    return np.asarray(result, dtype=bool)
