"""Verifying proof batches: per-share verdicts, hashes, block candidates and proved work;
several submissions at once in one backend call (``verify_batches``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from verifier.backends import Backend, select_backend
from verifier.batch import ShareBatch
from verifier.config import VerifierConfig
from verifier.decisions import JobColumns, ShareColumns, decide_shares, hashable_shares
from verifier.duplicates import AlreadyAccepted, to_host
from verifier.packed import HASH_FLAG_HASHED, JOB_DTYPE, SHARE_DTYPE, PackedBatch
from verifier.target import T1
from verifier.verdicts import Verdict
from verifier.work import WorkTally

__all__ = [
    "AlreadyAccepted",
    "ShareResult",
    "VerificationResult",
    "achieved_difficulty",
    "check_headers",
    "concatenate",
    "verify_batch",
    "verify_batches",
]


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

    A backend with ``hash_shares_device(packed) -> (hashes, flags)`` and an
    ``array_module`` (CuPy) keeps the hashes on the device: the verdicts of every
    submission are made there in one :func:`verifier.decisions.decide_shares`, and only
    the verdicts, hashes, block flags, per-job counts and the first occurrences asked
    about in ``already_accepted`` come back to the host.
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
    xp, hashes, flags, records = _hash(backend, combined)
    shares = (ShareColumns.of(xp, combined) if records is None
              else ShareColumns.from_records(xp, records))
    tagged, foreign = _job_tags(batches, tags_of, foreign_of)
    jobs = JobColumns.of(xp, combined, tagged, foreign)
    if not bool(xp.array_equal(hashable_shares(xp, shares, jobs),
                               (flags & HASH_FLAG_HASHED) != 0)):
        raise RuntimeError(f"backend {backend.name} hashed a different set of shares")
    decision = decide_shares(xp, hashes, flags, shares, jobs, starts, inactive_of, seen_of)
    verdicts = to_host(xp, decision.verdicts)
    block = to_host(xp, decision.block_candidates)
    hashes_host = to_host(xp, hashes)
    per_job = to_host(xp, decision.accepted_per_job).tolist()
    results = []
    job_start = 0
    for batch, a, b in zip(batches, starts[:-1], starts[1:], strict=True):
        job_end = job_start + len(batch.jobs)
        counts = per_job[job_start:job_end]
        works = [j.share_work for j in batch.jobs]
        tally = WorkTally(
            shares=sum(counts),
            work=sum(c * w for c, w in zip(counts, works, strict=True)),
            work_squared=sum(c * w * w for c, w in zip(counts, works, strict=True)),
        )
        # Each result owns its verdicts and block flags, as when verified alone.
        own = len(batches) > 1
        results.append(VerificationResult(
            batch, backend.name, verdicts[a:b].copy() if own else verdicts,
            hashes_host[a:b], block[a:b].copy() if own else block, tally))
        job_start = job_end
    return results


def _hash(backend: Backend, combined: PackedBatch) -> tuple[ModuleType, Any, Any, Any]:
    """Returns (array module, hashes, flags, share records or None) of the shares:
    device-resident (CuPy) when the backend offers ``hash_shares_device`` and names its
    ``array_module`` (``verifier.backends.DeviceHashing``), else the host arrays of
    ``hash_shares``."""
    on_device = getattr(backend, "hash_shares_device", None)
    module = getattr(backend, "array_module", None)
    if on_device is not None and isinstance(module, ModuleType):
        hashes, flags, records = on_device(combined)
        return module, hashes, flags, records
    computed = backend.hash_shares(combined)
    return np, computed.hashes, computed.flags, None


def _job_tags(batches: Sequence[ShareBatch], tags_of: Sequence[Sequence[bytes] | None],
              foreign_of: Sequence[Sequence[bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """Returns per job of every batch, in order: whether it carries one of its licence's
    tags (or none is required), and whether it carries another licence's tag."""
    tagged: list[bool] = []
    foreign: list[bool] = []
    for batch, coinbase_tags, foreign_tags in zip(batches, tags_of, foreign_of, strict=True):
        tags = list(coinbase_tags) if coinbase_tags is not None else (
            [batch.coinbase_tag] if batch.coinbase_tag is not None else [])
        tagged.extend(not tags or any(job.has_tag(t) for t in tags) for job in batch.jobs)
        foreign.extend(any(job.has_tag(t) for t in foreign_tags) for job in batch.jobs)
    return np.array(tagged, dtype=bool), np.array(foreign, dtype=bool)


def concatenate(parts: Sequence[PackedBatch]) -> tuple[PackedBatch, list[int]]:
    """Returns one packed batch holding every part's jobs and shares (offsets and job
    indices shifted), and where each part's shares start (plus the total at the end).

    Whole-array work; nothing per part or per share beyond one concatenation.
    """
    starts = [0]
    for part in parts:
        starts.append(starts[-1] + len(part))
    if len(parts) == 1:
        return parts[0], starts
    if not parts:
        return PackedBatch(np.zeros(0, JOB_DTYPE), np.zeros(0, np.uint8),
                           np.zeros((0, 32), np.uint8), np.zeros(0, SHARE_DTYPE)), starts
    branches = [part.branches.reshape(-1, 32) for part in parts]
    job_counts = np.array([part.jobs.shape[0] for part in parts], dtype=np.int64)
    share_counts = np.diff(np.asarray(starts, dtype=np.int64))

    def bases(sizes: Sequence[int] | np.ndarray, repeats: np.ndarray) -> np.ndarray:
        """Returns each part's offset (the sum of the sizes before it), once per row."""
        sizes = np.asarray(sizes, dtype=np.int64)
        return np.repeat(np.cumsum(sizes) - sizes, repeats)

    jobs = np.concatenate([part.jobs for part in parts])
    byte_base = bases([part.job_bytes.shape[0] for part in parts], job_counts)
    for name in ("coinb1_off", "extranonce1_off", "coinb2_off"):
        jobs[name] += byte_base.astype(np.uint32)
    jobs["branch_off"] += bases([b.shape[0] for b in branches], job_counts).astype(np.uint32)
    shares = np.concatenate([part.shares for part in parts])
    job = shares["job"]
    shares["job"] = np.where(job >= 0, job + bases(job_counts, share_counts), -1)
    return PackedBatch(jobs, np.concatenate([part.job_bytes for part in parts]),
                       np.concatenate(branches), shares), starts


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
