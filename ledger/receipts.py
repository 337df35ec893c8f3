"""What a command returns: the first result of a request id, however often it is retried."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from uuid import UUID


@dataclass(frozen=True)
class Receipt:
    """The aggregate a command wrote, its version after the write, and whether this call
    replayed an earlier result of the same request id instead of recording anything."""

    aggregate_id: UUID
    version: int
    replayed: bool = False


class TradeStatus(Enum):
    """Outcome of a trade: recorded, or blocked by a rule (and still on the record)."""

    RECORDED = "RECORDED"
    BLOCKED = "BLOCKED"


@dataclass(frozen=True)
class TradeReceipt:
    """The stored outcome of one trade request."""

    trade_id: UUID
    status: TradeStatus
    rule: str = ""
    message: str = ""
    figures: dict[str, str] = field(default_factory=dict)
    alert_ids: tuple[UUID, ...] = ()
    replayed: bool = False


@dataclass(frozen=True)
class ProofReceipt:
    """The recorded verification of one proof batch: what the miner is told.

    ``counts`` has every verdict name (zeros included); ``accepted_work`` is exact, in
    hashes; ``batch_digest`` is the hex SHA-256 of the batch's canonical JSON.
    """

    batch_id: UUID
    version: int
    licence_id: UUID
    sequence: int
    batch_digest: str
    backend: str
    shares: int
    counts: dict[str, int]
    accepted_shares: int
    accepted_work: int
    block_candidates: int
    replayed: bool = False
