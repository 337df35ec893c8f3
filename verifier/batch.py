"""Proof batches: parsing the JSON form of DESIGN.md §4 into jobs and packed shares.

A structurally malformed batch is rejected whole with :class:`MalformedBatch`, naming the
field and the reason. Faults of a single share that a pool would also see on the wire (an
unknown job id, an extranonce2 of the wrong size, version bits outside the mask, ...) are
not structural: they are kept and get their verdict when the batch is verified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from verifier.packed import (
    JOB_DTYPE,
    MAX_EXTRANONCE2_SIZE,
    SHARE_DTYPE,
    PackedBatch,
)
from verifier.target import (
    InvalidDifficulty,
    InvalidNBits,
    as_difficulty,
    nbits_to_target,
    share_target,
    target_le_bytes,
    work_of_target,
)

DEFAULT_MAX_SHARES = 1_000_000
"""Default largest number of shares accepted in one batch."""
MAX_JOBS = 100_000
"""Largest number of jobs in one batch."""
MAX_MERKLE_BRANCH = 64
"""Largest number of merkle branch entries per job (a block of 2**64 transactions)."""
MAX_COINBASE_BYTES = 100_000
MIN_SHARE_DIFFICULTY = Fraction(1, 2**32)
MAX_SHARE_DIFFICULTY = Fraction(2**64)
"""Share difficulty bounds (DESIGN §3): beyond them a target is meaningless, and an
absurd value would cost exact arithmetic on enormous numbers."""
MAX_DIFFICULTY_CHARS = 64
"""Largest coinbase (coinb1 + extranonce1 + extranonce2 + coinb2) per job, in bytes."""
MAX_JOB_BYTES = 64 * 2**20
"""Largest total of coinbase bytes over all jobs of a batch."""
UINT32_MAX = 0xFFFFFFFF


class MalformedBatch(ValueError):
    """A proof batch that is structurally invalid; nothing in it may be recorded."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Job:
    """One Stratum v1 job (``mining.notify`` plus the pool's share difficulty)."""

    job_id: str
    version: int
    prevhash: bytes  # 32 bytes, internal order
    coinb1: bytes
    coinb2: bytes
    extranonce1: bytes
    extranonce2_size: int
    merkle_branch: tuple[bytes, ...]  # 32 bytes each, internal order
    nbits: int
    ntime: int
    version_mask: int
    share_difficulty: Decimal

    @property
    def share_target(self) -> int:
        """Returns floor(T1 / share_difficulty)."""
        return share_target(self.share_difficulty)

    @property
    def network_target(self) -> int:
        """Returns the target encoded by nbits."""
        return nbits_to_target(self.nbits)

    @property
    def share_work(self) -> int:
        """Returns the work credited for one accepted share of this job."""
        return work_of_target(self.share_target)

    def has_tag(self, tag: bytes) -> bool:
        """Returns True when the tag occurs in coinb1 or in coinb2."""
        return tag in self.coinb1 or tag in self.coinb2

    def to_json_dict(self) -> dict[str, Any]:
        """Returns the job in the JSON form of DESIGN.md §4."""
        return {
            "job_id": self.job_id,
            "version": self.version,
            "prevhash": self.prevhash.hex(),
            "coinb1": self.coinb1.hex(),
            "coinb2": self.coinb2.hex(),
            "extranonce1": self.extranonce1.hex(),
            "extranonce2_size": self.extranonce2_size,
            "merkle_branch": [b.hex() for b in self.merkle_branch],
            "nbits": self.nbits,
            "ntime": self.ntime,
            "version_mask": self.version_mask,
            "share_difficulty": _difficulty_json(self.share_difficulty),
        }


@dataclass(frozen=True, eq=False)
class ShareBatch:
    """A parsed proof batch: its jobs as objects and its shares packed."""

    jobs: tuple[Job, ...]
    packed: PackedBatch
    coinbase_tag: bytes | None = None
    unknown_job_ids: Mapping[int, str] = field(default_factory=dict)
    """The job id as submitted, for each share (by index) whose job is unknown."""
    oversized_extranonce2: Mapping[int, bytes] = field(default_factory=dict)
    """The full extranonce2, for each share (by index) whose extranonce2 exceeds 32 bytes."""
    packed_source: bytes | None = None
    """The packed bytes the batch was decoded from (``verifier.wire_format``), if any:
    its digest is then theirs, so a packed batch is never re-encoded to JSON."""

    def __len__(self) -> int:
        return len(self.packed)

    def share_job_id(self, index: int) -> str:
        """Returns the job id that share ``index`` was submitted for."""
        job = int(self.packed.shares["job"][index])
        return self.unknown_job_ids[index] if job < 0 else self.jobs[job].job_id

    def share_extranonce2(self, index: int) -> bytes:
        """Returns the extranonce2 of share ``index`` as submitted."""
        if index in self.oversized_extranonce2:
            return self.oversized_extranonce2[index]
        row = self.packed.shares[index]
        return bytes(row["extranonce2"][: int(row["extranonce2_len"])])

    def to_json_dict(self) -> dict[str, Any]:
        """Returns the batch in the JSON form of DESIGN.md §4 (shares as submitted)."""
        shares = self.packed.shares
        out: dict[str, Any] = {
            "jobs": [job.to_json_dict() for job in self.jobs],
            "shares": [
                {
                    "job_id": self.share_job_id(i),
                    "extranonce2": self.share_extranonce2(i).hex(),
                    "ntime": int(ntime),
                    "nonce": int(nonce),
                    "version_bits": int(vbits),
                }
                for i, (ntime, nonce, vbits) in enumerate(
                    zip(
                        shares["ntime"].tolist(),
                        shares["nonce"].tolist(),
                        shares["version_bits"].tolist(),
                        strict=True,
                    )
                )
            ],
        }
        if self.coinbase_tag is not None:
            out["coinbase_tag"] = self.coinbase_tag.hex()
        return out

    def canonical_json(self) -> bytes:
        """Returns the canonical JSON encoding: sorted keys, no spaces, UTF-8."""
        return json.dumps(self.to_json_dict(), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> bytes:
        """Returns the batch digest: SHA-256 of the packed bytes when the batch came
        packed, else of the canonical JSON encoding."""
        if self.packed_source is not None:
            return hashlib.sha256(self.packed_source).digest()
        return hashlib.sha256(self.canonical_json()).digest()


def _check_difficulty_size(raw: object, field: str) -> None:
    """Raises MalformedBatch when a share difficulty is too long or its magnitude is far
    outside the bounds: checked before any exact arithmetic on it, in time linear in its
    length (so ``1e999999`` never becomes a million-digit integer)."""
    if isinstance(raw, bool):
        return  # as_difficulty refuses it with its own message
    if isinstance(raw, int):
        if raw.bit_length() > 66:
            raise MalformedBatch(field, "must lie within [2^-32, 2^64] (DESIGN §3)")
        return
    if isinstance(raw, str | float | Decimal):
        text = raw if isinstance(raw, str) else repr(raw) if isinstance(raw, float) else None
        if text is not None and len(text) > MAX_DIFFICULTY_CHARS:
            raise MalformedBatch(field, f"at most {MAX_DIFFICULTY_CHARS} characters")
        try:
            number = raw if isinstance(raw, Decimal) else Decimal(str(text).strip())
        except InvalidOperation:
            return  # as_difficulty says why
        if number.is_finite() and number and not -12 <= number.adjusted() <= 20:
            raise MalformedBatch(field, "must lie within [2^-32, 2^64] (DESIGN §3)")


def _difficulty_json(value: Decimal) -> int | float | str:
    """Returns a difficulty as a JSON number when that is exact, else as a string."""
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def load_batch(path: str | Path, max_shares: int = DEFAULT_MAX_SHARES) -> ShareBatch:
    """Returns the batch parsed from a JSON file; MalformedBatch for unreadable files."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MalformedBatch("file", f"cannot be read: {exc.strerror or exc}") from exc
    return parse_batch(data, max_shares=max_shares)


def parse_batch(
    source: str | bytes | Mapping[str, Any], max_shares: int = DEFAULT_MAX_SHARES
) -> ShareBatch:
    """Returns the batch parsed from JSON text or an already decoded mapping.

    Raises MalformedBatch naming the first structurally invalid field.
    """
    doc = _decode_json(source) if isinstance(source, str | bytes) else source
    if not isinstance(doc, Mapping):
        raise MalformedBatch("batch", "must be a JSON object")
    jobs_raw = _required(doc, "jobs", "batch")
    shares_raw = _required(doc, "shares", "batch")
    if not isinstance(jobs_raw, list):
        raise MalformedBatch("jobs", "must be a list")
    if not isinstance(shares_raw, list):
        raise MalformedBatch("shares", "must be a list")
    if len(jobs_raw) > MAX_JOBS:
        raise MalformedBatch("jobs", f"has {len(jobs_raw)} jobs, more than the maximum {MAX_JOBS}")
    if len(shares_raw) > max_shares:
        raise MalformedBatch(
            "shares", f"has {len(shares_raw)} shares, more than the maximum {max_shares}"
        )
    tag: bytes | None = None
    if doc.get("coinbase_tag") is not None:
        tag = _hex(doc["coinbase_tag"], "coinbase_tag")
        if not tag:
            raise MalformedBatch("coinbase_tag", "must not be empty")
    jobs = tuple(_parse_job(raw, i) for i, raw in enumerate(jobs_raw))
    index: dict[str, int] = {}
    for i, job in enumerate(jobs):
        if job.job_id in index:
            raise MalformedBatch(f"jobs[{i}].job_id", f"duplicates jobs[{index[job.job_id]}]")
        index[job.job_id] = i
    packed_jobs, job_bytes, branches = pack_jobs(jobs)
    shares, unknown, oversized = _parse_shares(shares_raw, index)
    return ShareBatch(
        jobs=jobs,
        packed=PackedBatch(packed_jobs, job_bytes, branches, shares),
        coinbase_tag=tag,
        unknown_job_ids=unknown,
        oversized_extranonce2=oversized,
    )


def _decode_json(source: str | bytes) -> Any:
    def refuse_constant(name: str) -> Any:
        raise MalformedBatch("batch", f"{name} is not a valid JSON number here")

    try:
        return json.loads(source, parse_float=Decimal, parse_constant=refuse_constant)
    except MalformedBatch:
        raise
    except (ValueError, RecursionError) as exc:
        raise MalformedBatch("batch", f"is not valid JSON: {exc}") from exc


def _required(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise MalformedBatch(f"{where}.{key}" if where != "batch" else key, "is missing")
    return obj[key]


def _hex(value: Any, name: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise MalformedBatch(name, "must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise MalformedBatch(name, "is not valid hex") from exc
    if 2 * len(raw) != len(value):  # fromhex skips whitespace; we do not
        raise MalformedBatch(name, "is not valid hex")
    if size is not None and len(raw) != size:
        raise MalformedBatch(name, f"must be {size} bytes, got {len(raw)}")
    return raw


def _uint(value: Any, name: str, maximum: int = UINT32_MAX) -> int:
    if type(value) is not int:
        raise MalformedBatch(name, "must be an integer")
    if not 0 <= value <= maximum:
        raise MalformedBatch(name, f"must be between 0 and {maximum}, got {value}")
    return value


def _parse_job(raw: Any, i: int) -> Job:
    where = f"jobs[{i}]"
    if not isinstance(raw, Mapping):
        raise MalformedBatch(where, "must be an object")

    def get(key: str) -> Any:
        return _required(raw, key, where)

    job_id = get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedBatch(f"{where}.job_id", "must be a non-empty string")
    branch_raw = get("merkle_branch")
    if not isinstance(branch_raw, list):
        raise MalformedBatch(f"{where}.merkle_branch", "must be a list")
    if len(branch_raw) > MAX_MERKLE_BRANCH:
        raise MalformedBatch(
            f"{where}.merkle_branch", f"has more than {MAX_MERKLE_BRANCH} entries"
        )
    branch = tuple(
        _hex(b, f"{where}.merkle_branch[{k}]", 32) for k, b in enumerate(branch_raw)
    )
    return build_job(
        where,
        job_id=job_id,
        version=_uint(get("version"), f"{where}.version"),
        prevhash=_hex(get("prevhash"), f"{where}.prevhash", 32),
        coinb1=_hex(get("coinb1"), f"{where}.coinb1"),
        coinb2=_hex(get("coinb2"), f"{where}.coinb2"),
        extranonce1=_hex(get("extranonce1"), f"{where}.extranonce1"),
        extranonce2_size=_uint(
            get("extranonce2_size"), f"{where}.extranonce2_size", MAX_EXTRANONCE2_SIZE
        ),
        merkle_branch=branch,
        nbits=_uint(get("nbits"), f"{where}.nbits"),
        ntime=_uint(get("ntime"), f"{where}.ntime"),
        version_mask=_uint(raw.get("version_mask", 0), f"{where}.version_mask"),
        difficulty_raw=get("share_difficulty"),
    )


def build_job(
    where: str,
    *,
    job_id: str,
    version: int,
    prevhash: bytes,
    coinb1: bytes,
    coinb2: bytes,
    extranonce1: bytes,
    extranonce2_size: int,
    merkle_branch: tuple[bytes, ...],
    nbits: int,
    ntime: int,
    version_mask: int,
    difficulty_raw: object,
) -> Job:
    """Returns the job after the checks every form of a batch shares (nbits, share
    difficulty, coinbase size); MalformedBatch naming ``where``'s field otherwise.

    The JSON parser above and the packed decoder (``verifier.wire_format``) both build
    their jobs here, so the two forms accept exactly the same jobs.
    """
    try:
        nbits_to_target(nbits)
    except InvalidNBits as exc:
        raise MalformedBatch(f"{where}.nbits", str(exc)) from exc
    _check_difficulty_size(difficulty_raw, f"{where}.share_difficulty")
    try:
        exact = as_difficulty(difficulty_raw)
    except InvalidDifficulty as exc:
        raise MalformedBatch(f"{where}.share_difficulty", str(exc)) from exc
    if not MIN_SHARE_DIFFICULTY <= exact <= MAX_SHARE_DIFFICULTY:
        raise MalformedBatch(f"{where}.share_difficulty",
                             "must lie within [2^-32, 2^64] (DESIGN §3)")
    difficulty = (
        difficulty_raw
        if isinstance(difficulty_raw, Decimal)
        else Decimal(difficulty_raw if isinstance(difficulty_raw, int) else str(difficulty_raw))
    )
    size = len(coinb1) + len(extranonce1) + extranonce2_size + len(coinb2)
    if size > MAX_COINBASE_BYTES:
        raise MalformedBatch(
            f"{where}.coinb1", f"coinbase of {size} bytes exceeds {MAX_COINBASE_BYTES}"
        )
    return Job(
        job_id=job_id,
        version=version,
        prevhash=prevhash,
        coinb1=coinb1,
        coinb2=coinb2,
        extranonce1=extranonce1,
        extranonce2_size=extranonce2_size,
        merkle_branch=merkle_branch,
        nbits=nbits,
        ntime=ntime,
        version_mask=version_mask,
        share_difficulty=difficulty,
    )


def pack_jobs(jobs: Sequence[Job]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (jobs array, job bytes, branches) for a sequence of jobs."""
    packed = np.zeros(len(jobs), dtype=JOB_DTYPE)
    chunks: list[bytes] = []
    branch_rows: list[bytes] = []
    offset = 0
    for i, job in enumerate(jobs):
        row = packed[i]
        row["version"] = job.version
        row["version_mask"] = job.version_mask
        row["ntime"] = job.ntime
        row["nbits"] = job.nbits
        row["extranonce2_size"] = job.extranonce2_size
        for name, part in (
            ("coinb1", job.coinb1),
            ("extranonce1", job.extranonce1),
            ("coinb2", job.coinb2),
        ):
            row[f"{name}_off"] = offset
            row[f"{name}_len"] = len(part)
            chunks.append(part)
            offset += len(part)
        if offset > MAX_JOB_BYTES:
            raise MalformedBatch("jobs", f"coinbase bytes exceed {MAX_JOB_BYTES} in total")
        row["branch_off"] = len(branch_rows)
        row["branch_len"] = len(job.merkle_branch)
        branch_rows.extend(job.merkle_branch)
        row["prevhash"] = np.frombuffer(job.prevhash, dtype=np.uint8)
        row["share_target"] = np.frombuffer(target_le_bytes(job.share_target), dtype=np.uint8)
        row["network_target"] = np.frombuffer(
            target_le_bytes(job.network_target), dtype=np.uint8
        )
    job_bytes = np.frombuffer(b"".join(chunks), dtype=np.uint8).copy()
    branches = np.frombuffer(b"".join(branch_rows), dtype=np.uint8).reshape(-1, 32).copy()
    return packed, job_bytes, branches


def _parse_shares(
    raw_shares: list[Any], index: Mapping[str, int]
) -> tuple[np.ndarray, dict[int, str], dict[int, bytes]]:
    n = len(raw_shares)
    job_col = np.empty(n, dtype=np.int64)
    ntime_col = np.empty(n, dtype=np.int64)
    nonce_col = np.empty(n, dtype=np.int64)
    vbits_col = np.empty(n, dtype=np.int64)
    en2_list: list[bytes] = []
    unknown: dict[int, str] = {}
    oversized: dict[int, bytes] = {}
    for i, raw in enumerate(raw_shares):
        if not isinstance(raw, dict):
            raise MalformedBatch(f"shares[{i}]", "must be an object")
        try:
            job_id = raw["job_id"]
            en2_hex = raw["extranonce2"]
            ntime = raw["ntime"]
            nonce = raw["nonce"]
        except KeyError as exc:
            raise MalformedBatch(f"shares[{i}].{exc.args[0]}", "is missing") from None
        vbits = raw.get("version_bits", 0)
        if not isinstance(job_id, str):
            raise MalformedBatch(f"shares[{i}].job_id", "must be a string")
        job = index.get(job_id, -1)
        if job < 0:
            unknown[i] = job_id
        job_col[i] = job
        en2 = _hex(en2_hex, f"shares[{i}].extranonce2")
        if len(en2) > MAX_EXTRANONCE2_SIZE:
            oversized[i] = en2
        en2_list.append(en2)
        # Checked inline (not via _uint) because this loop runs once per share.
        if type(ntime) is not int or not 0 <= ntime <= UINT32_MAX:
            _uint(ntime, f"shares[{i}].ntime")
        if type(nonce) is not int or not 0 <= nonce <= UINT32_MAX:
            _uint(nonce, f"shares[{i}].nonce")
        if type(vbits) is not int or not 0 <= vbits <= UINT32_MAX:
            _uint(vbits, f"shares[{i}].version_bits")
        ntime_col[i] = ntime
        nonce_col[i] = nonce
        vbits_col[i] = vbits
    shares = np.zeros(n, dtype=SHARE_DTYPE)
    shares["job"] = job_col
    shares["ntime"] = ntime_col
    shares["nonce"] = nonce_col
    shares["version_bits"] = vbits_col
    lengths = np.fromiter((len(e) for e in en2_list), dtype=np.int64, count=n)
    shares["extranonce2_len"] = lengths
    en2_col = shares["extranonce2"]
    for size in np.unique(lengths).tolist():
        if size == 0:
            continue
        rows = np.nonzero(lengths == size)[0]
        keep = min(size, MAX_EXTRANONCE2_SIZE)
        data = b"".join(en2_list[r][:keep] for r in rows.tolist())
        en2_col[rows, :keep] = np.frombuffer(data, dtype=np.uint8).reshape(-1, keep)
    return shares, unknown, oversized

