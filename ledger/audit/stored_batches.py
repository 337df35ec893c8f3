"""Decoding recorded proof batches for the audit replay, several at once in worker
processes (``ledger.audit.proof_checks`` verifies them together afterwards).

A recorded batch is read exactly as ``ledger.proof_figures.stored_batch`` reads it (the
one owner of that rule): packed from its signed envelope, else its JSON. Parsing JSON costs
Python per share, so a replay hands the stored bytes of many batches to a pool of processes
(``ledger.audit.workers``) and gets back the parsed batches with their digests; a packed
batch decodes in whole-array NumPy wherever it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.audit.workers import cpu_count, process_pool
from ledger.domain.proof_batch import ProofBatch
from ledger.errors import LedgerError
from ledger.proof_figures import STORED_BATCH_MAX_SHARES
from ledger.proof_payloads import stored_packed
from verifier.batch import MalformedBatch, ShareBatch, parse_batch
from verifier.wire_format import decode_packed

PARALLEL_MIN_BYTES = 256 * 1024
"""Below this many stored bytes in all, batches are decoded in the calling process (the
round trip to the workers would cost more than it saves)."""


@dataclass(frozen=True)
class StoredSource:
    """The bytes a recorded batch was submitted as: packed, or its JSON."""

    packed: bool
    data: bytes


@dataclass(frozen=True, eq=False)
class Decoded:
    """A decoded batch and its digest (hex), or why it could not be read."""

    batch: ShareBatch | None
    digest: str
    error: str | None


def source_of(stored: ProofBatch) -> StoredSource:
    """Returns what to decode for a recorded batch; LedgerError or ValueError when its
    envelope or JSON cannot be found (the replay reports that as unreadable)."""
    packed = stored_packed(stored)
    if packed is not None:
        return StoredSource(True, packed)
    return StoredSource(False, stored.submitted_json())


def decode_source(source: StoredSource) -> Decoded:
    """Returns the decoded batch and digest of stored bytes (what
    ``ledger.proof_figures.stored_batch`` returns, plus the digest computed beside it)."""
    try:
        batch = (decode_packed(source.data, max_shares=STORED_BATCH_MAX_SHARES)
                 if source.packed
                 else parse_batch(source.data, max_shares=STORED_BATCH_MAX_SHARES))
    except (MalformedBatch, LedgerError, ValueError) as e:
        return Decoded(None, "", str(e))
    return Decoded(batch, batch.digest().hex(), None)


def decode_sources(sources: Sequence[StoredSource], workers: int | None = None
                   ) -> list[Decoded]:
    """Returns every source decoded, in order: JSON ones across worker processes when
    there are several and enough bytes, the rest here. Results equal ``decode_source``
    one by one."""
    workers = workers if workers is not None else cpu_count()
    # Packed batches decode at millions of shares a second: shipping them to a worker
    # would cost more than decoding them here. JSON is what the workers are for.
    slow = [k for k, s in enumerate(sources) if not s.packed]
    total = sum(len(sources[k].data) for k in slow)
    decoded: list[Decoded | None] = [None] * len(sources)
    if workers > 1 and len(slow) >= 2 and total >= PARALLEL_MIN_BYTES:
        for k, found in zip(slow, process_pool(workers).map(decode_source,
                                                     [sources[k] for k in slow]), strict=True):
            decoded[k] = found
    return [found if found is not None else decode_source(source)
            for found, source in zip(decoded, sources, strict=True)]
