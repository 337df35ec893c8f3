"""The packed wire form of a proof batch: fixed records and flat sections, little-endian.

A proof batch travels (``ProofBatchPayload.packed_batch``) and is stored in this form;
:func:`decode_packed` turns it into a :class:`~verifier.batch.ShareBatch` whose shares are
NumPy arrays built with ``np.frombuffer`` and vectorised checks (Python runs once per
job, never once per share), and :func:`encode_packed` writes it. The layout is documented
field by field in docs/PACKED-BATCH.md; the summary:

    header      48 bytes   magic "VPB1", then u32 counts (see HEADER_DTYPE), 3 u32 zero
    jobs        76 × J     JOB_RECORD_DTYPE
    unknown     4 × U      u32 length of each job id a share names but no job has
    shares      20 × N     SHARE_RECORD_DTYPE
    branches    32 × B     merkle branch entries of every job, in job order
    job bytes   …          coinb1 ‖ extranonce1 ‖ coinb2 of every job, in job order
    text        …          job_id ‖ share_difficulty of every job, then the unknown ids
    extranonce2 …          each share's extranonce2, in share order
    tag         T          the batch's coinbase tag (none when T = 0)

Every count is checked against its limit, and the total length against the header,
before anything is allocated: the largest array built is a few times the input's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from verifier.batch import (
    DEFAULT_MAX_SHARES,
    MAX_COINBASE_BYTES,
    MAX_JOB_BYTES,
    MAX_JOBS,
    MAX_MERKLE_BRANCH,
    Job,
    MalformedBatch,
    ShareBatch,
    build_job,
    pack_jobs,
)
from verifier.packed import MAX_EXTRANONCE2_SIZE, SHARE_DTYPE, PackedBatch

MAGIC = b"VPB1"
"""The first four bytes of every packed batch (layout version 1)."""
FIELD = "packed_batch"
"""The name errors give the packed form (the protobuf field that carries it)."""

HEADER_DTYPE = np.dtype(
    [
        ("magic", "S4"),
        ("job_count", "<u4"),
        ("share_count", "<u4"),
        ("branch_count", "<u4"),
        ("job_bytes", "<u4"),
        ("text_bytes", "<u4"),
        ("unknown_job_ids", "<u4"),
        ("extranonce2_bytes", "<u4"),
        ("coinbase_tag_bytes", "<u4"),
        ("reserved", "<u4", (3,)),
    ]
)
"""The 48-byte header."""

JOB_RECORD_DTYPE = np.dtype(
    [
        ("version", "<u4"),
        ("version_mask", "<u4"),
        ("ntime", "<u4"),
        ("nbits", "<u4"),
        ("extranonce2_size", "<u4"),
        ("coinb1_len", "<u4"),
        ("extranonce1_len", "<u4"),
        ("coinb2_len", "<u4"),
        ("branch_len", "<u4"),
        ("job_id_len", "<u4"),
        ("difficulty_len", "<u4"),
        ("prevhash", "u1", (32,)),
    ]
)
"""One job: 76 bytes; its bytes, branch entries and text follow in the later sections."""

SHARE_RECORD_DTYPE = np.dtype(
    [
        ("job", "<u4"),  # < J: index of a job; J + k: the k-th unknown job id
        ("ntime", "<u4"),
        ("nonce", "<u4"),
        ("version_bits", "<u4"),
        ("extranonce2_len", "<u4"),
    ]
)
"""One share: 20 bytes; its extranonce2 lies in the extranonce2 section."""

MAX_JOB_ID_BYTES = 256
"""Longest job id (UTF-8 bytes), known or unknown."""
MAX_DIFFICULTY_BYTES = 64
"""Longest share difficulty text (a decimal number, ASCII)."""
MAX_PACKED_EXTRANONCE2 = 255
"""Longest extranonce2 a share may carry in the packed form (longer ones than the job's
size still get BAD_EXTRANONCE2_SIZE; a pool never sends more than 32)."""
MAX_UNKNOWN_JOB_IDS = MAX_JOBS
"""Most distinct unknown job ids one batch may name."""
MAX_COINBASE_TAG = 1024
"""Longest coinbase tag carried in the batch, in bytes."""

_COUNT_LIMITS = {
    "job_count": MAX_JOBS,
    "branch_count": MAX_JOBS * MAX_MERKLE_BRANCH,
    "job_bytes": MAX_JOB_BYTES,
    "text_bytes": (MAX_JOBS + MAX_UNKNOWN_JOB_IDS) * MAX_JOB_ID_BYTES
    + MAX_JOBS * MAX_DIFFICULTY_BYTES,
    "unknown_job_ids": MAX_UNKNOWN_JOB_IDS,
    "coinbase_tag_bytes": MAX_COINBASE_TAG,
}


def packed_size(counts: Mapping[str, int]) -> int:
    """Returns the exact length in bytes of a packed batch with these header counts."""
    return (
        HEADER_DTYPE.itemsize
        + counts["job_count"] * JOB_RECORD_DTYPE.itemsize
        + counts["unknown_job_ids"] * 4
        + counts["share_count"] * SHARE_RECORD_DTYPE.itemsize
        + counts["branch_count"] * 32
        + counts["job_bytes"]
        + counts["text_bytes"]
        + counts["extranonce2_bytes"]
        + counts["coinbase_tag_bytes"]
    )


def is_packed(data: bytes) -> bool:
    """Returns True when ``data`` starts like a packed batch (JSON never starts so)."""
    return data[:4] == MAGIC


def decode_packed(data: bytes, max_shares: int = DEFAULT_MAX_SHARES) -> ShareBatch:
    """Returns the batch of a packed buffer; MalformedBatch naming the field otherwise.

    Sizes are checked before any allocation; shares are decoded with whole-array NumPy
    operations, jobs one by one (at most MAX_JOBS).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedBatch(FIELD, "must be bytes")
    data = bytes(data)
    counts = _header(data, max_shares)
    j, u, n = counts["job_count"], counts["unknown_job_ids"], counts["share_count"]
    offset = HEADER_DTYPE.itemsize
    records = np.frombuffer(data, JOB_RECORD_DTYPE, j, offset)
    offset += j * JOB_RECORD_DTYPE.itemsize
    unknown_lengths = np.frombuffer(data, "<u4", u, offset).astype(np.int64)
    offset += 4 * u
    share_records = np.frombuffer(data, SHARE_RECORD_DTYPE, n, offset)
    offset += n * SHARE_RECORD_DTYPE.itemsize
    branch_end = offset + 32 * counts["branch_count"]
    branches = data[offset:branch_end]
    offset = branch_end
    job_bytes = data[offset : offset + counts["job_bytes"]]
    offset += counts["job_bytes"]
    text = data[offset : offset + counts["text_bytes"]]
    offset += counts["text_bytes"]
    extranonce2 = np.frombuffer(data, np.uint8, counts["extranonce2_bytes"], offset)
    offset += counts["extranonce2_bytes"]
    tag = data[offset : offset + counts["coinbase_tag_bytes"]] or None

    _check_job_records(records, counts)
    if unknown_lengths.size and int(unknown_lengths.max()) > MAX_JOB_ID_BYTES:
        raise MalformedBatch(f"{FIELD}.unknown_job_ids",
                             f"a job id is longer than {MAX_JOB_ID_BYTES} bytes")
    job_text = int(records["job_id_len"].sum(dtype=np.int64)
                   + records["difficulty_len"].sum(dtype=np.int64))
    if job_text + int(unknown_lengths.sum()) != counts["text_bytes"]:
        raise MalformedBatch(f"{FIELD}.text_bytes", "does not match the jobs' and unknown "
                                                    "job ids' text lengths")
    jobs = _jobs(records, branches, job_bytes, text)
    index = {job.job_id: i for i, job in enumerate(jobs)}
    if len(index) != len(jobs):
        raise MalformedBatch(f"{FIELD}.jobs", "two jobs have the same job_id")
    unknown_ids = _unknown_ids(text[job_text:], unknown_lengths, index)
    packed_jobs, packed_job_bytes, packed_branches = pack_jobs(jobs)
    shares, starts = _shares(share_records, extranonce2, j, u, counts)
    unknown_rows = np.nonzero(shares["job"] < 0)[0]
    oversized_rows = np.nonzero(share_records["extranonce2_len"] > MAX_EXTRANONCE2_SIZE)[0]
    return ShareBatch(
        jobs=jobs,
        packed=PackedBatch(packed_jobs, packed_job_bytes, packed_branches, shares),
        coinbase_tag=tag,
        unknown_job_ids=_UnknownJobIds(unknown_rows, share_records["job"], j, unknown_ids),
        oversized_extranonce2=_Oversized(oversized_rows, starts,
                                         share_records["extranonce2_len"], extranonce2),
        packed_source=data,
    )


def _header(data: bytes, max_shares: int) -> dict[str, int]:
    """Returns the header's counts after checking each against its limit and the total
    length against the buffer's."""
    if len(data) < HEADER_DTYPE.itemsize:
        raise MalformedBatch(FIELD, f"is {len(data)} bytes, shorter than its "
                                    f"{HEADER_DTYPE.itemsize}-byte header")
    header = np.frombuffer(data, HEADER_DTYPE, 1)[0]
    if bytes(header["magic"]) != MAGIC:
        raise MalformedBatch(f"{FIELD}.magic", f"must be {MAGIC!r} (layout version 1)")
    if header["reserved"].any():
        raise MalformedBatch(f"{FIELD}.reserved", "must be zero")
    counts = {name: int(header[name]) for name in HEADER_DTYPE.names or ()
              if name not in ("magic", "reserved")}
    if counts["share_count"] > max_shares:
        raise MalformedBatch(f"{FIELD}.share_count", f"has {counts['share_count']} shares, "
                                                     f"more than the maximum {max_shares}")
    for name, limit in _COUNT_LIMITS.items():
        if counts[name] > limit:
            raise MalformedBatch(f"{FIELD}.{name}", f"is {counts[name]}, more than the "
                                                    f"maximum {limit}")
    if counts["extranonce2_bytes"] > counts["share_count"] * MAX_PACKED_EXTRANONCE2:
        raise MalformedBatch(f"{FIELD}.extranonce2_bytes",
                             f"more than {MAX_PACKED_EXTRANONCE2} bytes per share")
    expected = packed_size(counts)
    if expected != len(data):
        raise MalformedBatch(FIELD, f"is {len(data)} bytes but its header describes "
                                    f"{expected}")
    return counts


def _check_job_records(records: np.ndarray, counts: Mapping[str, int]) -> None:
    """Raises MalformedBatch unless every job's lengths are within limits and add up to
    the header's section sizes."""
    def bad(name: str, reason: str, where: np.ndarray) -> None:
        if where.any():
            first = int(np.nonzero(where)[0][0])
            raise MalformedBatch(f"{FIELD}.jobs[{first}].{name}", reason)

    wide = {name: records[name].astype(np.int64) for name in JOB_RECORD_DTYPE.names or ()
            if name != "prevhash"}
    bad("extranonce2_size", f"must be at most {MAX_EXTRANONCE2_SIZE}",
        wide["extranonce2_size"] > MAX_EXTRANONCE2_SIZE)
    bad("branch_len", f"has more than {MAX_MERKLE_BRANCH} entries",
        wide["branch_len"] > MAX_MERKLE_BRANCH)
    bad("job_id_len", f"must be 1 to {MAX_JOB_ID_BYTES} bytes",
        (wide["job_id_len"] < 1) | (wide["job_id_len"] > MAX_JOB_ID_BYTES))
    bad("difficulty_len", f"must be 1 to {MAX_DIFFICULTY_BYTES} bytes",
        (wide["difficulty_len"] < 1) | (wide["difficulty_len"] > MAX_DIFFICULTY_BYTES))
    coinbase = (wide["coinb1_len"] + wide["extranonce1_len"] + wide["coinb2_len"]
                + wide["extranonce2_size"])
    bad("coinb1_len", f"coinbase exceeds {MAX_COINBASE_BYTES} bytes",
        coinbase > MAX_COINBASE_BYTES)
    if int(wide["branch_len"].sum()) != counts["branch_count"]:
        raise MalformedBatch(f"{FIELD}.branch_count", "does not match the jobs' branches")
    spent = int((wide["coinb1_len"] + wide["extranonce1_len"] + wide["coinb2_len"]).sum())
    if spent != counts["job_bytes"]:
        raise MalformedBatch(f"{FIELD}.job_bytes", "does not match the jobs' coinbase parts")


def _jobs(records: np.ndarray, branches: bytes, job_bytes: bytes, text: bytes
          ) -> tuple[Job, ...]:
    """Returns the jobs of the checked records (one Python step per job)."""
    jobs: list[Job] = []
    byte_at = branch_at = text_at = 0
    for i, row in enumerate(records.tolist()):
        (version, mask, ntime, nbits, en2_size, c1, e1, c2, branch_len, id_len, diff_len,
         prevhash) = row
        where = f"{FIELD}.jobs[{i}]"
        try:
            job_id = text[text_at : text_at + id_len].decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedBatch(f"{where}.job_id", "is not UTF-8 text") from None
        try:
            difficulty = text[text_at + id_len : text_at + id_len + diff_len].decode("ascii")
        except UnicodeDecodeError:
            raise MalformedBatch(f"{where}.share_difficulty", "is not ASCII text") from None
        text_at += id_len + diff_len
        coinb1 = job_bytes[byte_at : byte_at + c1]
        extranonce1 = job_bytes[byte_at + c1 : byte_at + c1 + e1]
        coinb2 = job_bytes[byte_at + c1 + e1 : byte_at + c1 + e1 + c2]
        byte_at += c1 + e1 + c2
        branch = tuple(branches[k : k + 32]
                       for k in range(branch_at, branch_at + 32 * branch_len, 32))
        branch_at += 32 * branch_len
        jobs.append(build_job(
            where, job_id=job_id, version=version, prevhash=bytes(prevhash), coinb1=coinb1,
            coinb2=coinb2, extranonce1=extranonce1, extranonce2_size=en2_size,
            merkle_branch=branch, nbits=nbits, ntime=ntime, version_mask=mask,
            difficulty_raw=_difficulty_text(difficulty, f"{where}.share_difficulty")))
    return tuple(jobs)


def _difficulty_text(text: str, field: str) -> str:
    """Returns the difficulty text when it is a plain decimal number (no sign, exponent
    letters only as Decimal writes them, no spaces)."""
    if text != text.strip() or not text or text[0] in "+-":
        raise MalformedBatch(field, "must be a positive decimal number")
    return text


def _unknown_ids(text: bytes, lengths: np.ndarray, known: Mapping[str, int]) -> list[str]:
    """Returns the unknown job ids (one Python step each, at most MAX_UNKNOWN_JOB_IDS),
    distinct from each other and from every job's id."""
    ids: list[str] = []
    at = 0
    for length in lengths.tolist():
        try:
            ids.append(text[at : at + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise MalformedBatch(f"{FIELD}.unknown_job_ids[{len(ids)}]",
                                 "is not UTF-8 text") from None
        at += length
    if len(set(ids)) != len(ids) or any(i in known for i in ids):
        raise MalformedBatch(f"{FIELD}.unknown_job_ids",
                             "must be distinct and name no job of the batch")
    return ids


def _shares(records: np.ndarray, extranonce2: np.ndarray, jobs: int, unknown: int,
            counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Returns (shares as SHARE_DTYPE, start of each share's extranonce2), vectorised."""
    n = records.shape[0]
    ref = records["job"].astype(np.int64)
    if n and int(ref.max()) >= jobs + unknown:
        first = int(np.nonzero(ref >= jobs + unknown)[0][0])
        raise MalformedBatch(f"{FIELD}.shares[{first}].job",
                             "names neither a job nor an unknown job id")
    lengths = records["extranonce2_len"].astype(np.int64)
    if n and int(lengths.max()) > MAX_PACKED_EXTRANONCE2:
        first = int(np.nonzero(lengths > MAX_PACKED_EXTRANONCE2)[0][0])
        raise MalformedBatch(f"{FIELD}.shares[{first}].extranonce2_len",
                             f"must be at most {MAX_PACKED_EXTRANONCE2}")
    if int(lengths.sum()) != counts["extranonce2_bytes"]:
        raise MalformedBatch(f"{FIELD}.extranonce2_bytes",
                             "does not match the shares' extranonce2 lengths")
    shares = np.zeros(n, dtype=SHARE_DTYPE)
    shares["job"] = np.where(ref < jobs, ref, -1)
    shares["ntime"] = records["ntime"]
    shares["nonce"] = records["nonce"]
    shares["version_bits"] = records["version_bits"]
    shares["extranonce2_len"] = lengths
    starts = np.cumsum(lengths) - lengths
    column = shares["extranonce2"]
    # One gather per distinct length (at most 256 of them; one for a well-formed batch).
    for size in np.unique(lengths).tolist():
        if size == 0:
            continue
        keep = min(size, MAX_EXTRANONCE2_SIZE)
        rows = np.nonzero(lengths == size)[0]
        if rows.shape[0] == n:
            column[:, :keep] = extranonce2.reshape(n, size)[:, :keep]
        else:
            column[rows, :keep] = extranonce2[starts[rows, None] + np.arange(keep)]
    return shares, starts


class _UnknownJobIds(Mapping[int, str]):
    """Share index → the unknown job id it names, looked up in the decoded arrays."""

    def __init__(self, rows: np.ndarray, refs: np.ndarray, jobs: int, ids: list[str]) -> None:
        self.rows, self.refs, self.jobs, self.ids = rows, refs, jobs, ids

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < self.refs.shape[0] or int(self.refs[index]) < self.jobs:
            raise KeyError(index)
        return self.ids[int(self.refs[index]) - self.jobs]

    def __iter__(self) -> Iterator[int]:
        return iter(self.rows.tolist())

    def __len__(self) -> int:
        return int(self.rows.shape[0])


class _Oversized(Mapping[int, bytes]):
    """Share index → its whole extranonce2, for those longer than MAX_EXTRANONCE2_SIZE."""

    def __init__(self, rows: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                 flat: np.ndarray) -> None:
        self.rows, self.starts, self.lengths, self.flat = rows, starts, lengths, flat

    def __getitem__(self, index: int) -> bytes:
        if (not 0 <= index < self.lengths.shape[0]
                or int(self.lengths[index]) <= MAX_EXTRANONCE2_SIZE):
            raise KeyError(index)
        start = int(self.starts[index])
        return self.flat[start : start + int(self.lengths[index])].tobytes()

    def __iter__(self) -> Iterator[int]:
        return iter(self.rows.tolist())

    def __len__(self) -> int:
        return int(self.rows.shape[0])


def encode_packed(batch: ShareBatch) -> bytes:
    """Returns the packed form of a batch; MalformedBatch when it does not fit the
    layout's limits (an extranonce2 over MAX_PACKED_EXTRANONCE2 bytes, say)."""
    jobs = batch.jobs
    shares = batch.packed.shares
    n = shares.shape[0]
    job_index = {job.job_id: i for i, job in enumerate(jobs)}
    unknown_ids = list(dict.fromkeys(batch.unknown_job_ids[i]
                                     for i in sorted(batch.unknown_job_ids)))
    if any(i in job_index for i in unknown_ids):
        raise MalformedBatch("shares", "an unknown job id names a job of the batch")
    unknown_index = {job_id: len(jobs) + k for k, job_id in enumerate(unknown_ids)}
    records = np.zeros(len(jobs), dtype=JOB_RECORD_DTYPE)
    job_bytes: list[bytes] = []
    text: list[bytes] = []
    branches: list[bytes] = []
    for i, job in enumerate(jobs):
        job_id = job.job_id.encode()
        difficulty = str(job.share_difficulty).encode("ascii")
        records[i] = (job.version, job.version_mask, job.ntime, job.nbits,
                      job.extranonce2_size, len(job.coinb1), len(job.extranonce1),
                      len(job.coinb2), len(job.merkle_branch), len(job_id), len(difficulty),
                      np.frombuffer(job.prevhash, np.uint8))
        job_bytes += (job.coinb1, job.extranonce1, job.coinb2)
        text += (job_id, difficulty)
        branches += job.merkle_branch
    text += [job_id.encode() for job_id in unknown_ids]
    too_long = [t for t in text[0 : 2 * len(jobs) : 2] + text[2 * len(jobs):]
                if len(t) > MAX_JOB_ID_BYTES]
    if too_long:
        raise MalformedBatch("job_id", f"longer than {MAX_JOB_ID_BYTES} bytes")
    if len(batch.coinbase_tag or b"") > MAX_COINBASE_TAG:
        raise MalformedBatch("coinbase_tag", f"longer than {MAX_COINBASE_TAG} bytes")
    unknown_lengths = np.array([len(t) for t in text[2 * len(jobs):]], dtype="<u4")

    lengths = shares["extranonce2_len"].astype(np.int64)
    if n and int(lengths.max()) > MAX_PACKED_EXTRANONCE2:
        first = int(np.nonzero(lengths > MAX_PACKED_EXTRANONCE2)[0][0])
        raise MalformedBatch(f"shares[{first}].extranonce2",
                             f"longer than {MAX_PACKED_EXTRANONCE2} bytes")
    share_records = np.zeros(n, dtype=SHARE_RECORD_DTYPE)
    ref = shares["job"].astype(np.int64)
    if len(batch.unknown_job_ids):
        rows = np.fromiter(batch.unknown_job_ids, dtype=np.int64)
        ref[rows] = [unknown_index[batch.unknown_job_ids[r]] for r in rows.tolist()]
    share_records["job"] = ref
    share_records["ntime"] = shares["ntime"]
    share_records["nonce"] = shares["nonce"]
    share_records["version_bits"] = shares["version_bits"]
    share_records["extranonce2_len"] = lengths
    if len(batch.oversized_extranonce2):
        extranonce2 = b"".join(batch.share_extranonce2(i) for i in range(n))
    else:
        inside = np.arange(MAX_EXTRANONCE2_SIZE) < lengths[:, None]
        extranonce2 = shares["extranonce2"][inside].tobytes()
    tag = batch.coinbase_tag or b""
    header = np.zeros(1, dtype=HEADER_DTYPE)
    header[0] = (MAGIC, len(jobs), n, len(branches), sum(map(len, job_bytes)),
                 sum(map(len, text)), len(unknown_ids), len(extranonce2), len(tag),
                 (0, 0, 0))
    return b"".join([header.tobytes(), records.tobytes(), unknown_lengths.tobytes(),
                     share_records.tobytes(), *branches, *job_bytes, *text, extranonce2,
                     tag])

