"""ProofBatch: a verified batch of Stratum shares a miner submitted for one licence.

The event keeps what the miner submitted (the canonical JSON batch and/or the signed
envelope it came in) next to what the verifier found: per-share verdict codes, the hashes
of the accepted shares (the licence's duplicate index is rebuilt from them), counts by
verdict, and the exact accepted work and Σwork² that reconciliation needs.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate, derived_id
from ledger.domain.base64_text import base64_bytes
from ledger.domain.envelope import Envelope, EnvelopeRecord, from_record

JSON_BATCH_PAYLOAD_TYPE = "application/vnd.valedger.proof-batch+json"
"""Payload type of an envelope whose payload is the JSON batch of DESIGN.md §4 itself."""


class ProofBatch(LedgerAggregate):
    """One submitted proof batch and its verification, numbered nationally and per
    licence.

    The id is derived from the batch's national sequence number, so two writers racing
    to record batch *n* of the country (for the same licence or not) conflict on the id:
    the loser re-checks its shares against the winner's before it takes number *n + 1*.
    That is what makes a share hash credited at most once in the whole country.
    ``licences_seen`` is how many mining licences (in grant order) the foreign coinbase
    tags were taken from, and ``licence_version`` the licence version whose inactive
    spans (suspensions, revocation, validity) decided LICENCE_NOT_ACTIVE: the audit
    replay re-derives the verdicts from exactly those inputs.
    """

    @staticmethod
    def create_id(national_sequence: int) -> UUID:
        return derived_id("ProofBatch", "national", national_sequence)

    @event("Verified")
    def __init__(
        self,
        request_id: str,
        at: datetime,
        licence_id: UUID,
        participant_id: UUID,
        sequence: int,
        batch_digest: str,
        batch_json: str,
        envelope: EnvelopeRecord,
        coinbase_tags: list[str],
        backend: str,
        shares: int,
        counts: dict[str, int],
        accepted_shares: int,
        accepted_work: str,
        accepted_work_squared: str,
        ntime_min: int | None,
        ntime_max: int | None,
        verdicts: str,
        accepted_hashes: str,
        block_candidates: list[int],
        national_sequence: int = 0,
        licences_seen: int = 0,
        licence_version: int = 0,
    ) -> None:
        self.request_id = request_id
        self.submitted_at = at
        self.licence_id = licence_id
        self.participant_id = participant_id
        self.sequence = sequence
        self.batch_digest = batch_digest
        self.batch_json = batch_json
        self.envelope_record = dict(envelope)
        self.coinbase_tags = list(coinbase_tags)
        self.backend = backend
        self.shares = shares
        self.counts = dict(counts)
        self.accepted_shares = accepted_shares
        self.accepted_work = int(accepted_work)
        self.accepted_work_squared = int(accepted_work_squared)
        self.ntime_min = ntime_min
        self.ntime_max = ntime_max
        self.verdicts = verdicts
        self.accepted_hashes = accepted_hashes
        self.block_candidates = list(block_candidates)
        self.national_sequence = national_sequence
        self.licences_seen = licences_seen
        self.licence_version = licence_version

    @property
    def envelope(self) -> Envelope | None:
        """Returns the signed envelope the batch came in, or None."""
        return from_record(self.envelope_record)

    def submitted_json(self) -> bytes:
        """Returns the JSON batch as stored (from the envelope when it carries it)."""
        if self.batch_json:
            return self.batch_json.encode()
        envelope = self.envelope
        if envelope is None or envelope.payload_type != JSON_BATCH_PAYLOAD_TYPE:
            raise ValueError(f"proof batch {self.id} stores no JSON batch")
        return envelope.payload

    def verdict_codes(self) -> list[int]:
        """Returns the verdict code of every share, in submission order."""
        return [int(c) for c in self.verdicts]

    def accepted_hash_list(self) -> list[bytes]:
        """Returns the hashes (internal byte order) of the accepted shares, in order."""
        raw = base64_bytes(self.accepted_hashes, validate=False)
        return [raw[i:i + 32] for i in range(0, len(raw), 32)]

    @property
    def ref(self) -> str:
        """Returns the event reference ``aggregate_id:version`` of the Verified event."""
        return f"{self.id}:1"
