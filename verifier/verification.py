"""Verifying proof batches: per-share verdicts, hashes, block candidates and proved work;
several submissions at once in one backend call (``verify_batches``)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifier.backends import Backend, select_backend
from verifier.batch import ShareBatch
from verifier.config import VerifierConfig
from verifier.packed import (
    HASH_FLAG_HASHED,
    HASH_FLAG_NETWORK,
    HASH_FLAG_SHARE,
    JOB_DTYPE,
    SHARE_DTYPE,
    PackedBatch,
    hashable_mask,
)
from verifier.target import T1
from verifier.verdicts import NTIME_WINDOW_SECONDS, Verdict
from verifier.work import WorkTally

AlreadyAccepted = AbstractSet[bytes] | Callable[[Sequence[bytes]], Collection[bytes]]
"""Hashes accepted earlier for the same licence: a set, or a function that is given the
candidate hashes (internal byte order) and returns those among them already accepted, so
a persistent index can answer one batched query."""


@dataclass(frozen=True)
class ShareResult:
    """The outcome for one share."""

    index: int
    job_id: str
    verdict: Verdict
    hash: bytes  # internal byte order; all zero when the share could not be hashed
    block_candidate: bool
    work: int  # credited work: the job's share work when ACCEPTED, else 0

    @property
    def hash_hex(self) -> str:
        """Returns the hash in display order (byte-reversed, as block explorers show it)."""
        return self.hash[::-1].hex()

    def to_json_dict(self) -> dict[str, Any]:
        """Returns the result as JSON-ready values."""
        return {
            "index": self.index,
            "job_id": self.job_id,
            "verdict": self.verdict.name,
            "hash": self.hash_hex,
            "block_candidate": self.block_candidate,
            "work": self.work,
        }


@dataclass(frozen=True, eq=False)
class VerificationResult:
    """Per-share verdicts (codes), hashes and block-candidate flags, with totals."""

    batch: ShareBatch
    backend: str
    verdicts: np.ndarray  # uint8 Verdict codes, shape (N,)
    hashes: np.ndarray  # uint8, shape (N, 32), internal byte order
    block_candidates: np.ndarray  # bool, shape (N,)
    tally: WorkTally

    @property
    def accepted_work(self) -> int:
        """Returns the total work of accepted shares, in hashes (exact)."""
        return self.tally.work

    @property
    def counts(self) -> dict[str, int]:
        """Returns the number of shares per verdict name (every verdict, zeros included)."""
        counts = np.bincount(self.verdicts, minlength=len(Verdict))
        return {v.name: int(counts[v.value]) for v in Verdict}

    @property
    def accepted_mask(self) -> np.ndarray:
        """Returns a bool array marking the ACCEPTED shares."""
        return self.verdicts == Verdict.ACCEPTED

    def accepted_hashes(self) -> list[bytes]:
        """Returns the hashes of accepted shares (to remember for duplicate detection)."""
        rows = self.hashes[self.accepted_mask]
        return [bytes(r) for r in rows]

    @property
    def ntime_range(self) -> tuple[int, int] | None:
        """Returns (min, max) ntime of the accepted shares, or None when none was accepted."""
        ntime = self.batch.packed.shares["ntime"][self.accepted_mask]
        if ntime.size == 0:
            return None
        return int(ntime.min()), int(ntime.max())

    def share(self, index: int) -> ShareResult:
        """Returns the result of one share."""
        verdict = Verdict(int(self.verdicts[index]))
        job = int(self.batch.packed.shares["job"][index])
        work = self.batch.jobs[job].share_work if verdict is Verdict.ACCEPTED else 0
        return ShareResult(
            index=index,
            job_id=self.batch.share_job_id(index),
            verdict=verdict,
            hash=bytes(self.hashes[index]),
            block_candidate=bool(self.block_candidates[index]),
            work=work,
        )

    def shares(self) -> Iterator[ShareResult]:
        """Yields the result of every share, in submission order."""
        for i in range(len(self.verdicts)):
            yield self.share(i)

    def summary(self) -> dict[str, Any]:
        """Returns the totals as JSON-ready values."""
        return {
            "shares": int(self.verdicts.shape[0]),
            "counts": self.counts,
            "accepted_work": self.accepted_work,
            "block_candidates": int(self.block_candidates.sum()),
            "ntime_range": list(self.ntime_range) if self.ntime_range else None,
            "backend": self.backend,
        }


def verify_batch(
    batch: ShareBatch,
    *,
    coinbase_tags: Sequence[bytes] | None = None,
    foreign_tags: Sequence[bytes] = (),
    inactive_ntime: Sequence[tuple[int, int]] = (),
    already_accepted: AlreadyAccepted | None = None,
    backend: Backend | None = None,
    config: VerifierConfig | None = None,
) -> VerificationResult:
    """Returns the verification of every share of a batch.

    ``coinbase_tags`` are the licence's tags: a job is tagged when any of them occurs in
    its coinb1 or coinb2. Without them the batch's own ``coinbase_tag`` is used, and
    without that no tag is required. ``foreign_tags`` are the tags of every other licence:
    a job carrying any of them is FOREIGN_COINBASE_TAG. ``inactive_ntime`` are the
    half-open ntime spans [low, high) in which the licence was not active: an otherwise
    valid share whose ntime falls inside one is LICENCE_NOT_ACTIVE. ``already_accepted``
    are the hashes accepted earlier anywhere in the country (DUPLICATE).
    """
    return verify_batches([batch], coinbase_tags=[coinbase_tags],
                          foreign_tags=[foreign_tags], inactive_ntime=[inactive_ntime],
                          already_accepted=[already_accepted], backend=backend,
                          config=config)[0]


def verify_batches(
    batches: Sequence[ShareBatch],
    *,
    coinbase_tags: Sequence[Sequence[bytes] | None] | None = None,
    foreign_tags: Sequence[Sequence[bytes]] | None = None,
    inactive_ntime: Sequence[Sequence[tuple[int, int]]] | None = None,
    already_accepted: Sequence[AlreadyAccepted | None] | None = None,
    backend: Backend | None = None,
    config: VerifierConfig | None = None,
) -> list[VerificationResult]:
    """Returns the verification of several submissions, hashed in one backend call (one
    kernel launch's worth of work on the GPU, one pool pass on the CPU).

    ``coinbase_tags``, ``foreign_tags``, ``inactive_ntime`` and ``already_accepted`` give,
    per submission, what :func:`verify_batch` takes; each submission's duplicates are its
    own (shares of two submissions are never compared with each other: a caller checking
    several batches decides them in order, e.g. ``ledger.proof_figures.decide``).
    Each result equals ``verify_batch`` of that submission alone.
    """
    count = len(batches)
    tags_of = list(coinbase_tags) if coinbase_tags is not None else [None] * count
    seen_of = list(already_accepted) if already_accepted is not None else [None] * count
    foreign_of = list(foreign_tags) if foreign_tags is not None else [()] * count
    inactive_of = list(inactive_ntime) if inactive_ntime is not None else [()] * count
    if {len(tags_of), len(seen_of), len(foreign_of), len(inactive_of)} != {count}:
        raise ValueError("each per-submission argument needs one entry per batch")
    backend = backend or select_backend(config)
    combined, starts = concatenate([b.packed for b in batches])
    computed = backend.hash_shares(combined)
    if not np.array_equal(hashable_mask(combined), (computed.flags & HASH_FLAG_HASHED) != 0):
        raise RuntimeError(f"backend {backend.name} hashed a different set of shares")
    return [
        _decide(batch, computed.hashes[a:b], computed.flags[a:b], tags, foreign, inactive,
                seen, backend.name)
        for batch, tags, foreign, inactive, seen, a, b in zip(
            batches, tags_of, foreign_of, inactive_of, seen_of, starts[:-1], starts[1:],
            strict=True)
    ]


def concatenate(parts: Sequence[PackedBatch]) -> tuple[PackedBatch, list[int]]:
    """Returns one packed batch holding every part's jobs and shares (offsets and job
    indices shifted), and where each part's shares start (plus the total at the end).

    Whole-array work per part; nothing per share.
    """
    starts = [0]
    for part in parts:
        starts.append(starts[-1] + len(part))
    if len(parts) == 1:
        return parts[0], starts
    jobs, job_bytes, branches, shares = [], [], [], []
    byte_base = branch_base = job_base = 0
    for part in parts:
        j = part.jobs.copy()
        for name in ("coinb1_off", "extranonce1_off", "coinb2_off"):
            j[name] += byte_base
        j["branch_off"] += branch_base
        s = part.shares.copy()
        s["job"] = np.where(s["job"] >= 0, s["job"] + job_base, -1)
        jobs.append(j)
        job_bytes.append(part.job_bytes)
        branches.append(part.branches.reshape(-1, 32))
        shares.append(s)
        byte_base += part.job_bytes.shape[0]
        branch_base += part.branches.shape[0]
        job_base += part.jobs.shape[0]
    return PackedBatch(
        np.concatenate(jobs) if jobs else np.zeros(0, JOB_DTYPE),
        np.concatenate(job_bytes) if job_bytes else np.zeros(0, np.uint8),
        np.concatenate(branches) if branches else np.zeros((0, 32), np.uint8),
        np.concatenate(shares) if shares else np.zeros(0, SHARE_DTYPE),
    ), starts


def _decide(batch: ShareBatch, hashes: np.ndarray, flags: np.ndarray,
            coinbase_tags: Sequence[bytes] | None, foreign_tags: Sequence[bytes],
            inactive_ntime: Sequence[tuple[int, int]],
            already_accepted: AlreadyAccepted | None, backend: str) -> VerificationResult:
    """Returns one submission's verdicts from its hashes and flags."""
    packed = batch.packed
    n = len(packed)
    shares, jobs = packed.shares, packed.jobs
    tags = list(coinbase_tags) if coinbase_tags is not None else (
        [batch.coinbase_tag] if batch.coinbase_tag is not None else []
    )
    tagged = np.array(
        [not tags or any(job.has_tag(t) for t in tags) for job in batch.jobs], dtype=bool
    )
    foreign = np.array(
        [any(job.has_tag(t) for t in foreign_tags) for job in batch.jobs], dtype=bool
    )

    job = shares["job"]
    known = job >= 0
    safe = np.where(known, job, 0)
    hashable = hashable_mask(packed)
    verdicts = np.full(n, Verdict.ACCEPTED, dtype=np.uint8)
    if jobs.shape[0]:
        job_rows = jobs[safe]
        mask = job_rows["version_mask"]
        job_ntime = job_rows["ntime"].astype(np.int64)
        # Lowest precedence first, so each higher-precedence fault overwrites.
        share_ntime = shares["ntime"].astype(np.int64)
        inactive = np.zeros(n, dtype=bool)
        for low, high in inactive_ntime:
            inactive |= (share_ntime >= low) & (share_ntime < high)
        verdicts[inactive] = Verdict.LICENCE_NOT_ACTIVE
        verdicts[(flags & HASH_FLAG_SHARE) == 0] = Verdict.LOW_DIFFICULTY
        verdicts[~tagged[safe]] = Verdict.UNTAGGED_COINBASE
        verdicts[foreign[safe]] = Verdict.FOREIGN_COINBASE_TAG
        ntime_bad = (share_ntime < job_ntime) | (share_ntime > job_ntime + NTIME_WINDOW_SECONDS)
        verdicts[ntime_bad] = Verdict.NTIME_OUT_OF_RANGE
        verdicts[(shares["version_bits"] & ~mask) != 0] = Verdict.BAD_VERSION_BITS
        verdicts[known & ~hashable] = Verdict.BAD_EXTRANONCE2_SIZE
    verdicts[~known] = Verdict.UNKNOWN_JOB

    _mark_duplicates(verdicts, hashes, already_accepted)

    block = ((flags & HASH_FLAG_NETWORK) != 0) & (
        (verdicts == Verdict.ACCEPTED) | (verdicts == Verdict.LOW_DIFFICULTY)
    )
    accepted = verdicts == Verdict.ACCEPTED
    per_job = np.bincount(job[accepted], minlength=jobs.shape[0]).tolist()
    works = [j.share_work for j in batch.jobs]
    tally = WorkTally(
        shares=int(accepted.sum()),
        work=sum(c * w for c, w in zip(per_job, works, strict=True)),
        work_squared=sum(c * w * w for c, w in zip(per_job, works, strict=True)),
    )
    return VerificationResult(batch, backend, verdicts, hashes, block, tally)


def _mark_duplicates(
    verdicts: np.ndarray, hashes: np.ndarray, already_accepted: AlreadyAccepted | None
) -> None:
    """Marks DUPLICATE: repeats of a hash within the batch, and hashes accepted before."""
    candidates = np.nonzero(verdicts == Verdict.ACCEPTED)[0]
    if candidates.size == 0:
        return
    keys = np.ascontiguousarray(hashes[candidates]).view(np.dtype((np.void, 32))).ravel()
    _, first = np.unique(keys, return_index=True)
    repeat = np.ones(candidates.size, dtype=bool)
    repeat[first] = False
    verdicts[candidates[repeat]] = Verdict.DUPLICATE
    if already_accepted is None:
        return
    firsts = np.sort(first)
    unique_hashes = keys[firsts].tolist()  # bytes objects, made in one C loop
    if callable(already_accepted):
        seen_set = set(already_accepted(unique_hashes))
        again = np.fromiter(map(seen_set.__contains__, unique_hashes), dtype=bool,
                            count=len(unique_hashes))
    else:
        again = np.fromiter(map(already_accepted.__contains__, unique_hashes), dtype=bool,
                            count=len(unique_hashes))
    verdicts[candidates[firsts[again]]] = Verdict.DUPLICATE


def check_headers(
    headers: np.ndarray | Sequence[bytes],
    targets: int | Sequence[int],
    backend: Backend | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (hashes, meets-target) for raw 80-byte headers against integer targets."""
    backend = backend or select_backend()
    if not isinstance(headers, np.ndarray):
        headers = np.frombuffer(b"".join(headers), dtype=np.uint8).reshape(-1, 80)
    if headers.ndim != 2 or headers.shape[1] != 80:
        raise ValueError("headers must be 80 bytes each")
    if isinstance(targets, int):
        tgt = np.frombuffer(targets.to_bytes(32, "little"), dtype=np.uint8)
    else:
        tgt = np.frombuffer(
            b"".join(t.to_bytes(32, "little") for t in targets), dtype=np.uint8
        ).reshape(-1, 32)
    return backend.check_headers(headers, tgt)


def achieved_difficulty(hash_le: bytes) -> float:
    """Returns T1 / hash for a hash in internal byte order (inf for an all-zero hash)."""
    value = int.from_bytes(hash_le, "little")
    return float("inf") if value == 0 else T1 / value
