"""What an audit can find: the kinds of fault and where each one is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """Kinds of fault an audit reports."""

    CHANGED = "CHANGED"
    """A record's bytes differ from those the follower integrated."""
    DELETED = "DELETED"
    """A record the follower integrated is missing."""
    INSERTED = "INSERTED"
    """A record the follower never integrated sits inside the integrated range."""
    REORDERED = "REORDERED"
    """A record appears out of the order in which it was integrated."""
    MALFORMED_RECORD = "MALFORMED_RECORD"
    """Leaf data that is not a canonical encoding."""
    ROOT_MISMATCH = "ROOT_MISMATCH"
    """The records before a checkpoint do not hash to the root it signs."""
    SIZE_MISMATCH = "SIZE_MISMATCH"
    """A checkpoint signs more (or fewer) records than precede it."""
    BAD_SIGNATURE = "BAD_SIGNATURE"
    """A checkpoint whose signature by a trusted key fails (forged or altered), or whose
    origin is not the expected one."""
    UNTRUSTED_KEY = "UNTRUSTED_KEY"
    """A checkpoint signed by no trusted key: forged, or signed by a key the auditor did
    not pass (e.g. the key before a rotation)."""
    INCONSISTENT_CHECKPOINT = "INCONSISTENT_CHECKPOINT"
    """Two signed checkpoints that cannot both describe one append-only log."""
    MISSING_CHECKPOINT = "MISSING_CHECKPOINT"
    """A gap in the checkpoint sequence numbers, or no checkpoint at all."""
    UNDECODABLE_EVENT = "UNDECODABLE_EVENT"
    """With the cipher key: stored state that does not decode."""
    AGGREGATE_REBUILD = "AGGREGATE_REBUILD"
    """With the cipher key: an event that does not apply to its aggregate."""
    VERDICT_MISMATCH = "VERDICT_MISMATCH"
    """With the cipher key: a recomputed verdict that differs from the stored one."""
    ENVELOPE_INVALID = "ENVELOPE_INVALID"
    """With the cipher key: a stored signed envelope that does not verify against the
    signer's key valid at the event's time."""
    UNUSABLE_KEY = "UNUSABLE_KEY"
    """With the cipher key: a registered signing key no private key could have made
    (small or mixed order, off the curve, not canonical). The ledger has refused to
    register one since 2026-12-02 and refuses envelopes under one; a verifier with
    OpenSSL's rules accepts forged signatures under some of them."""
    UNWITNESSED = "UNWITNESSED"
    """A checkpoint with fewer valid cosignatures from the trusted witnesses than the
    quorum (or with a cosignature by a trusted witness key that does not verify)."""
    UNSIGNED = "UNSIGNED"
    """With ``--require-signed``: records after the last signed checkpoint."""
    DUPLICATE_EVENT = "DUPLICATE_EVENT"
    """A record repeating an (aggregate id, version) pair already in the log, or going
    back to an earlier version of its aggregate."""
    FORMAT = "FORMAT"
    """An export file that is damaged or not in the documented format."""


@dataclass(frozen=True)
class Fault:
    """One finding, located as precisely as the evidence allows."""

    kind: FaultKind
    message: str
    leaf_index: int | None = None
    notification_id: int | None = None
    event: str | None = None
    checkpoint_seq: int | None = None

    def where(self) -> str:
        """Returns the position of the fault in words."""
        parts = []
        if self.leaf_index is not None:
            parts.append(f"leaf {self.leaf_index}")
        if self.notification_id is not None:
            parts.append(f"notification {self.notification_id}")
        if self.event is not None:
            parts.append(f"event {self.event}")
        if self.checkpoint_seq is not None:
            parts.append(f"checkpoint {self.checkpoint_seq}")
        return ", ".join(parts) or "-"

    def __str__(self) -> str:
        return f"{self.kind} at {self.where()}: {self.message}"
