"""Mining proofs in the ledger: verifying and recording proof batches.

:class:`ProofSubmission` verifies and records proof batches (``ProofBatch.Verified``);
closing reconciliations is ``ledger.reconciliations``; the read model both follow is
``ledger.proof_index`` and the figures they compute are ``ledger.proof_figures``, shared
with the audit replay check so an auditor recomputes with the same code.

Why withheld shares only hurt the miner: a share is a proof that about D·2³² hashes were
done, and nothing else can prove work, so the proved work W is a *lower bound* on the work
really done. Withholding shares lowers W and the proved hashrate Ĥ. That can hide running
over capacity, but every other figure then turns against the miner: the output it reports
(all the blocks it really found) exceeds what W can find (OUTPUT_OVER_REPORTED, output not
backed by work), and the energy its meter records is spread over less proved work, so the
implied J/TH rises past the plausible bound (IMPLAUSIBLE_EFFICIENCY) while the metered kWh
still shows the power it drew (ENERGY_OVER_QUOTA). Hiding output is no escape either: with
W proved in full, reporting less than it finds is OUTPUT_UNDER_REPORTED. Duplicates can
never add work: a hash accepted once for any licence in the country is a DUPLICATE ever
after, and a coinbase carrying another licence's tag is FOREIGN_COINBASE_TAG, so the same
shares are never credited to two licences. Shares whose ntime falls where the licence was
not active (a suspension, after revocation or expiry) are LICENCE_NOT_ACTIVE and raise a
MINED_WHILE_NOT_ACTIVE alert with the batch.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import numpy as np

from ledger.clock import Clock
from ledger.commands import UseCase
from ledger.compression import compress_ahead
from ledger.domain.alert import Alert
from ledger.domain.base import Stamp
from ledger.domain.base64_text import base64_text
from ledger.domain.envelope import Envelope
from ledger.domain.licence import MiningLicence
from ledger.domain.participant import Participant
from ledger.domain.proof_batch import JSON_BATCH_PAYLOAD_TYPE, ProofBatch
from ledger.errors import InvalidRequest, RuleViolation
from ledger.keys import EnvelopeVerifier
from ledger.lifetime import pool_worker_dies_with
from ledger.proof_figures import decide, inactive_ntime_spans, verdict_string
from ledger.proof_index import NationalView, ProofIndex
from ledger.proof_payloads import PACKED_BATCH_PAYLOAD_TYPE, batch_of_envelope
from ledger.receipts import ProofReceipt
from ledger.requests import participant_requester
from ledger.standing import licensed_holder
from ledger.store import LedgerStore
from ledger.validation import check_request_id
from ledger.windows import WindowKind
from verifier.backends import Backend, select_backend
from verifier.batch import MalformedBatch, parse_batch
from verifier.batch import ShareBatch as ParsedBatch
from verifier.config import InvalidVerifierConfig, VerifierConfig
from verifier.cpu import set_pool_initializer
from verifier.cuda import CudaUnavailable
from verifier.verification import VerificationResult, verify_batch
from verifier.wire_format import is_packed


def proof_receipt(batch: ProofBatch, replayed: bool = False) -> ProofReceipt:
    """Returns the receipt a recorded proof batch stands for."""
    return ProofReceipt(
        batch_id=batch.id,
        version=1,
        licence_id=batch.licence_id,
        sequence=batch.sequence,
        batch_digest=batch.batch_digest,
        backend=batch.backend,
        shares=batch.shares,
        counts=dict(batch.counts),
        accepted_shares=batch.accepted_shares,
        accepted_work=batch.accepted_work,
        block_candidates=len(batch.block_candidates),
        replayed=replayed,
    )



class ProofSubmission(UseCase):
    """Verifies proof batches and records ``ProofBatch.Verified``: the one owner of
    recording a batch (the services' SubmitProofBatch comes here)."""

    def __init__(self, store: LedgerStore, clock: Clock, index: ProofIndex,
                 envelopes: EnvelopeVerifier, config: VerifierConfig | None = None) -> None:
        super().__init__(store, clock)
        self.index = index
        self.envelopes = envelopes
        self.config = config or VerifierConfig.from_environment()
        self._backends: dict[str, Backend] = {}
        self._backends_lock = threading.Lock()
        self._deciding = threading.Lock()
        """Held while a batch is decided and saved (hashing stays outside it): this
        process's batches take national numbers one at a time instead of conflicting
        after encoding and sending a whole batch. Writers in other processes still
        conflict on the number and decide again (``UseCase.run``); a request's twin,
        sent while its first call saves, finds that call's batch in either case (the
        look under the lock comes after the national number is read)."""

    def backend(self, name: str | None) -> Backend:
        """Returns the verifier backend of that name (``auto``/``cpu``/``cuda``; None: the
        configured one), created once."""
        key = name if name is not None else self.config.backend
        if not isinstance(key, str):
            raise InvalidRequest("backend", "must be auto, cpu or cuda")
        with self._backends_lock:
            if key not in self._backends:
                try:
                    config = VerifierConfig(backend=key.strip().lower(),
                                            max_shares=self.config.max_shares,
                                            workers=self.config.workers,
                                            inprocess_threshold=self.config.inprocess_threshold)
                    # Its CPU workers die with this process, even one killed outright.
                    set_pool_initializer(pool_worker_dies_with)
                    self._backends[key] = select_backend(config)
                except (InvalidVerifierConfig, CudaUnavailable) as exc:
                    raise InvalidRequest("backend", str(exc)) from None
            return self._backends[key]

    def parse(self, batch: str | bytes | Mapping[str, Any] | Envelope,
              envelope: Envelope | None) -> tuple[ParsedBatch, Envelope | None, bool]:
        """Returns (parsed batch, envelope to store, whether the envelope carries the batch:
        JSON or packed, ``ledger.proof_payloads``); InvalidRequest naming the field when
        the batch is malformed."""
        if isinstance(batch, Envelope):
            if envelope is not None and envelope != batch:
                raise InvalidRequest("envelope", "give the envelope once: as batch or envelope")
            parsed = batch_of_envelope(batch, self.config.max_shares)
            envelope = batch
        elif isinstance(batch, str | bytes | Mapping):
            if isinstance(batch, bytes) and is_packed(batch):
                raise InvalidRequest("batch", "a packed batch comes in its signed envelope "
                                              f"(payload type {PACKED_BATCH_PAYLOAD_TYPE!r})")
            try:
                parsed = parse_batch(batch, max_shares=self.config.max_shares)
            except MalformedBatch as exc:
                raise InvalidRequest(exc.field, exc.reason) from None
        else:
            raise InvalidRequest("batch", "must be JSON text, a mapping or an Envelope")
        if envelope is not None and not isinstance(envelope, Envelope):
            raise InvalidRequest("envelope", "must be an Envelope")
        if len(parsed) == 0:
            raise InvalidRequest("shares", "a proof batch needs at least one share")
        carries = envelope is not None and (envelope is batch or
                                            envelope.payload_type == JSON_BATCH_PAYLOAD_TYPE)
        return parsed, envelope, carries

    def submit(self, request_id: str, licence_id: UUID,
               batch: str | bytes | Mapping[str, Any] | Envelope,
               at: datetime | None = None, backend: str | None = None,
               envelope: Envelope | None = None) -> ProofReceipt:
        """Verifies a batch and records ``ProofBatch.Verified``; see
        ``Ledger.submit_proof_batch``."""
        check_request_id(request_id)
        if not isinstance(licence_id, UUID):
            raise InvalidRequest("licence_id", "must be a UUID")
        parsed, stored_envelope, carried = self.parse(batch, envelope)
        canonical = b"" if carried else parsed.canonical_json()
        # SHA-256 of the canonical JSON, or of the packed bytes for a packed batch.
        digest = hashlib.sha256(canonical).hexdigest() if canonical else parsed.digest().hex()
        holder_id = self.store.read_typed(licence_id, MiningLicence,
                                          "mining licence").participant_id
        requester = participant_requester(holder_id)
        stamp, when = self.begin("SubmitProofBatch", requester, request_id, at, None,
                                 licence_id=licence_id, batch_digest=digest)
        recorded_at = stamp.recorded_at
        verified: list[tuple[tuple[int, int], VerificationResult]] = []
        envelope_record = {} if stored_envelope is None else stored_envelope.to_record()

        def hashed(licence: MiningLicence, national: NationalView) -> VerificationResult | None:
            # The verification for these inputs, if made already: hash once; a retry
            # re-decides only the duplicates unless a licence was granted or this one
            # changed meanwhile.
            inputs = (len(national.tags), licence.version)
            return verified[0][1] if verified and verified[0][0] == inputs else None

        def hash_for(licence: MiningLicence, tags: list[bytes],
                     national: NationalView) -> None:
            if hashed(licence, national) is None:
                verified[:] = [((len(national.tags), licence.version), verify_batch(
                    parsed, coinbase_tags=tags,
                    foreign_tags=national.foreign_tags(licence_id, tags),
                    inactive_ntime=inactive_ntime_spans(licence),
                    backend=self.backend(backend)))]

        def replayed() -> ProofReceipt | None:
            # The receipt of this request's batch when it is recorded already.
            first = self.index.batch_for_request(requester, request_id)
            if first is None:
                return None
            stored = self.store.get_typed(first, ProofBatch, "proof batch")
            stored.version_of_request(requester, request_id, stamp.digest)
            return proof_receipt(stored, replayed=True)

        def attempt() -> ProofReceipt:
            replay = replayed()
            if replay is not None:
                return replay
            licence, holder = self._active_licence(request_id, licence_id, when, recorded_at,
                                                   stamp, digest, len(parsed))
            if stored_envelope is not None:
                self.envelopes.require(stored_envelope, holder, when, recorded_at)
                # Its payload's blocks for the event, made while the shares are hashed
                # (wasted on the rare request that is not saved after all: a twin saved
                # meanwhile, a hashing that fails).
                compress_ahead(envelope_record["payload"])
            tags = [bytes.fromhex(t) for t in licence.coinbase_tags]
            while True:
                hash_for(licence, tags, self.index.national())  # the long part: unlocked
                with self._deciding:
                    receipt = decide_and_save(licence, tags)
                if receipt is not None:
                    return receipt
                # A licence was granted between the hashing and the lock: hash again.

        def decide_and_save(licence: MiningLicence, tags: list[bytes]) -> ProofReceipt | None:
            national = self.index.national()  # the number before the hashes (ProofIndex)
            # ... and before the requests: a twin of this request saved after this read
            # is seen below, or takes this number and makes this save conflict.
            replay = replayed()
            if replay is not None:
                return replay
            result = hashed(licence, national)
            if result is None:
                return None
            entry = self.index.licence(licence_id)
            sequence = entry.next_sequence
            outcome = decide(result, national.accepted)
            self.before_save(sequence)
            alerts = self._not_active_alerts(request_id, when, licence, outcome.counts,
                                             national.next_sequence)
            record = ProofBatch(
                request_id=request_id, at=when, licence_id=licence_id,
                participant_id=licence.participant_id, sequence=sequence,
                batch_digest=digest,
                batch_json=canonical.decode(),
                envelope=envelope_record,
                coinbase_tags=list(licence.coinbase_tags), backend=result.backend,
                shares=len(parsed), counts=outcome.counts,
                accepted_shares=outcome.tally.shares,
                accepted_work=str(outcome.tally.work),
                accepted_work_squared=str(outcome.tally.work_squared),
                ntime_min=outcome.ntime_range[0] if outcome.ntime_range else None,
                ntime_max=outcome.ntime_range[1] if outcome.ntime_range else None,
                verdicts=verdict_string(outcome.verdicts),
                accepted_hashes=base64_text(outcome.accepted_hashes),
                block_candidates=np.nonzero(outcome.block_candidates)[0].tolist(),
                national_sequence=national.next_sequence, licences_seen=len(national.tags),
                licence_version=licence.version,
            )
            # The index takes the batch as decided, not read back and decoded.
            for recording in self.store.save(record, *alerts):
                if recording.domain_event.originator_id == record.id:
                    self.index.recorded(recording.notification.id, recording.domain_event,
                                        outcome.accepted_hashes)
            return proof_receipt(record)

        return self.run(stamp, attempt)

    @staticmethod
    def _not_active_alerts(request_id: str, when: datetime, licence: MiningLicence,
                           counts: Mapping[str, int], national_sequence: int) -> list[Alert]:
        """Returns the MINED_WHILE_NOT_ACTIVE alert of a batch with shares mined where
        the licence was not active (none otherwise)."""
        count = counts.get("LICENCE_NOT_ACTIVE", 0)
        if not count:
            return []
        return [Alert(
            request_id=request_id, at=when, kind="MINED_WHILE_NOT_ACTIVE",
            subject_id=licence.id, participant_id=licence.participant_id,
            message=f"proof batch for licence {licence.id}: {count} shares were mined "
                    "while the licence was suspended, revoked, expired or not yet valid; "
                    "they are not credited",
            evidence=[f"{ProofBatch.create_id(national_sequence)}:1"],
            figures={"shares_not_active": str(count)})]

    def before_save(self, sequence: int) -> None:
        """Hook called after a batch is decided and before it is saved, with this
        process's decide lock held (tests use it to make two writers of two ledgers race;
        a hook that waited for another submission to this ledger would wait for ever)."""

    def _active_licence(self, request_id: str, licence_id: UUID, when: datetime,
                        recorded_at: datetime, stamp: Stamp, digest: str,
                        shares: int) -> tuple[MiningLicence, Participant]:
        """Returns the licence and its holder when they may act (``licensed_holder``);
        otherwise records an alert (once per request) so the refused attempt stays on the
        record, and raises the RuleViolation."""
        try:
            return licensed_holder(self.store, WindowKind.PROOF_BATCH, licence_id,
                                   MiningLicence, when, recorded_at, "mining licence")
        except RuleViolation as refusal:
            licence = self.store.read_typed(licence_id, MiningLicence, "mining licence")
            alert_id = Alert.create_id(stamp.requester, request_id, refusal.rule, licence_id)
            if self.store.find(alert_id) is None:
                figures = dict(refusal.figures, batch_digest=digest, shares=str(shares))
                self.store.save(Alert(
                    request_id=request_id, at=when, kind=refusal.rule, subject_id=licence_id,
                    participant_id=licence.participant_id,
                    message=f"proof batch refused: {refusal.message}", evidence=[],
                    figures=figures))
            raise
