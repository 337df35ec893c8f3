"""Per-share verdicts from hashes and flags, for several submissions at once.

Array-module generic: ``xp`` is NumPy, or CuPy when the hashes and flags live on the GPU
(the backend's ``hash_shares_device``), so only the verdicts, block flags and per-job
counts need to come back. Per-job facts that need Python (coinbase tags, share work) are
worked out on the host by the caller and given as small per-job arrays; nothing here
loops over shares in Python.

Owner of the verdict precedence of ``verifier.verdicts.Verdict`` (DESIGN.md §4);
``verifier.verification`` builds its results from :func:`decide_shares`, and the ledger
and the audit rely on those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from verifier.duplicates import AlreadyAccepted, Array, accepted_before, repeated_hashes
from verifier.packed import HASH_FLAG_NETWORK, HASH_FLAG_SHARE, SHARE_DTYPE, PackedBatch
from verifier.verdicts import NTIME_WINDOW_SECONDS, Verdict


@dataclass(frozen=True, eq=False)
class ShareColumns:
    """The share fields verdicts depend on, as ``xp`` arrays of shape (N,)."""

    job: Array  # int32, index into the jobs, -1 for an unknown job
    ntime: Array  # uint32
    version_bits: Array  # uint32
    extranonce2_len: Array  # uint32

    @classmethod
    def of(cls, xp: ModuleType, packed: PackedBatch) -> ShareColumns:
        """Returns the packed batch's share columns as ``xp`` arrays (copied to the
        device when ``xp`` is CuPy)."""
        shares = packed.shares
        return cls(*(xp.asarray(np.ascontiguousarray(shares[name])) for name in
                     ("job", "ntime", "version_bits", "extranonce2_len")))

    @classmethod
    def from_records(cls, xp: ModuleType, records: Array) -> ShareColumns:
        """Returns the columns of shares given as raw SHARE_DTYPE records, an (N, 52)
        uint8 ``xp`` array (e.g. the copy already on the device for the kernel), without
        going through the host."""
        def column(name: str) -> Array:
            dtype, offset = SHARE_DTYPE.fields[name][:2]  # type: ignore[index]
            raw = xp.ascontiguousarray(records[:, offset:offset + dtype.itemsize])
            return raw.view(xp.dtype(dtype.str)).reshape(-1)

        return cls(column("job"), column("ntime"), column("version_bits"),
                   column("extranonce2_len"))


@dataclass(frozen=True, eq=False)
class JobColumns:
    """The job facts verdicts depend on, as ``xp`` arrays of shape (J,)."""

    ntime: Array  # uint32
    version_mask: Array  # uint32
    extranonce2_size: Array  # uint32
    tagged: Array  # bool: carries one of its licence's tags, or none is required
    foreign: Array  # bool: carries another licence's tag

    @classmethod
    def of(cls, xp: ModuleType, packed: PackedBatch, tagged: np.ndarray,
           foreign: np.ndarray) -> JobColumns:
        """Returns the packed batch's job columns with the host-computed tag facts, as
        ``xp`` arrays."""
        jobs = packed.jobs
        return cls(*(xp.asarray(np.ascontiguousarray(column)) for column in (
            jobs["ntime"], jobs["version_mask"], jobs["extranonce2_size"],
            np.asarray(tagged, dtype=bool), np.asarray(foreign, dtype=bool))))


@dataclass(frozen=True, eq=False)
class Decision:
    """Verdicts of every share of every submission, as ``xp`` arrays."""

    verdicts: Array  # uint8 Verdict codes, shape (N,)
    block_candidates: Array  # bool, shape (N,)
    accepted_per_job: Array  # int64, shape (J,): ACCEPTED shares per job


def hashable_shares(xp: ModuleType, shares: ShareColumns, jobs: JobColumns) -> Array:
    """Returns an ``xp`` bool array: shares whose job is known and whose extranonce2 fits
    it (those a backend hashes; ``verifier.packed.hashable_mask`` on the host)."""
    known = shares.job >= 0
    if int(jobs.ntime.shape[0]) == 0:
        return xp.zeros(int(shares.job.shape[0]), dtype=bool)
    size = jobs.extranonce2_size[xp.where(known, shares.job, 0)]
    return known & (shares.extranonce2_len == size)


def decide_shares(
    xp: ModuleType,
    hashes: Array,
    flags: Array,
    shares: ShareColumns,
    jobs: JobColumns,
    starts: Sequence[int],
    inactive_ntime: Sequence[Sequence[tuple[int, int]]],
    already_accepted: Sequence[AlreadyAccepted | None],
) -> Decision:
    """Returns the verdicts, block candidates and accepted shares per job of several
    submissions hashed together.

    ``hashes`` (N, 32) uint8 and ``flags`` (N,) uint8 are the backend's results for the
    shares; submission k holds shares ``starts[k]:starts[k+1]`` (and its own jobs: a
    share's job index never points into another submission's jobs). ``inactive_ntime``
    and ``already_accepted`` are per submission; duplicates are looked for within each
    submission only, and each ``already_accepted`` is asked once, about that
    submission's first occurrences. When several faults apply the highest-precedence
    verdict wins (order of ``Verdict``'s docstring); DUPLICATE is decided last.
    """
    n = int(shares.job.shape[0])
    job_count = int(jobs.ntime.shape[0])
    if len(starts) != len(inactive_ntime) + 1 or len(starts) != len(already_accepted) + 1:
        raise ValueError("starts, inactive_ntime and already_accepted disagree in length")
    known = shares.job >= 0
    verdicts = xp.full(n, int(Verdict.ACCEPTED), dtype=xp.uint8)
    if job_count:
        safe = xp.where(known, shares.job, 0)
        share_ntime = shares.ntime.astype(xp.int64)
        job_ntime = jobs.ntime[safe].astype(xp.int64)
        inactive = xp.zeros(n, dtype=bool)
        for low_share, high_share, spans in zip(starts[:-1], starts[1:], inactive_ntime,
                                                strict=True):
            part = share_ntime[low_share:high_share]
            for low, high in spans:
                inactive[low_share:high_share] |= (part >= low) & (part < high)
        hashable = hashable_shares(xp, shares, jobs)
        # Lowest precedence first, so each higher-precedence fault overwrites.
        for fault, verdict in (
            (inactive, Verdict.LICENCE_NOT_ACTIVE),
            ((flags & HASH_FLAG_SHARE) == 0, Verdict.LOW_DIFFICULTY),
            (~jobs.tagged[safe], Verdict.UNTAGGED_COINBASE),
            (jobs.foreign[safe], Verdict.FOREIGN_COINBASE_TAG),
            ((share_ntime < job_ntime) | (share_ntime > job_ntime + NTIME_WINDOW_SECONDS),
             Verdict.NTIME_OUT_OF_RANGE),
            ((shares.version_bits & ~jobs.version_mask[safe]) != 0,
             Verdict.BAD_VERSION_BITS),
            (known & ~hashable, Verdict.BAD_EXTRANONCE2_SIZE),
        ):
            verdicts = xp.where(fault, xp.uint8(verdict), verdicts)
    verdicts = xp.where(known, verdicts, xp.uint8(Verdict.UNKNOWN_JOB))

    candidates = xp.nonzero(verdicts == int(Verdict.ACCEPTED))[0]
    repeat = repeated_hashes(xp, hashes, candidates, starts)
    verdicts[candidates[repeat]] = int(Verdict.DUPLICATE)
    again = accepted_before(xp, hashes, candidates[~repeat], starts, already_accepted)
    if again.shape[0]:
        verdicts[xp.asarray(again)] = int(Verdict.DUPLICATE)

    block = ((flags & HASH_FLAG_NETWORK) != 0) & (
        (verdicts == int(Verdict.ACCEPTED)) | (verdicts == int(Verdict.LOW_DIFFICULTY)))
    if job_count:
        counted = xp.where(verdicts == int(Verdict.ACCEPTED), shares.job, job_count)
        per_job = xp.bincount(counted, minlength=job_count + 1)[:job_count].astype(xp.int64)
    else:
        per_job = xp.zeros(0, dtype=xp.int64)
    return Decision(verdicts, block, per_job)
