"""Mining proofs in the ledger: verifying proof batches and closing reconciliations.

:class:`ProofDesk` holds the logic behind ``Ledger.submit_proof_batch`` and
``Ledger.close_reconciliation``; :class:`ProofIndex` is its read model, followed from the
log. The pure functions here (the tally of a period, the licensed capacity over a period,
the policy a reconciliation reads, the reconciliation itself) are shared with the audit
replay check (``ledger.audit.proof_checks``), so an auditor recomputes with the same code.

Why withheld shares only hurt the miner: a share is a proof that about D·2³² hashes were
done, and nothing else can prove work, so the proved work W is a *lower bound* on the work
really done. Withholding shares lowers W and the proved hashrate Ĥ. That can hide running
over capacity, but every other figure then turns against the miner: the output it reports
(all the blocks it really found) exceeds what W can find (OUTPUT_OVER_REPORTED, output not
backed by work), and the energy its meter records is spread over less proved work, so the
implied J/TH rises past the plausible bound (IMPLAUSIBLE_EFFICIENCY) while the metered kWh
still shows the power it drew (ENERGY_OVER_QUOTA). Hiding output is no escape either: with
W proved in full, reporting less than it finds is OUTPUT_UNDER_REPORTED. Duplicates can
never add work: a hash accepted once for a licence is a DUPLICATE ever after.
"""

from __future__ import annotations

import hashlib
import threading
from base64 import b64decode, b64encode
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import numpy as np

from ledger.domain.alert import Alert
from ledger.domain.base import utc
from ledger.domain.envelope import Envelope, check_envelope
from ledger.domain.licence import Capacity, MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.output_report import OutputReport
from ledger.domain.policy import PARAMETERS, POLICY_ID, Policy
from ledger.domain.proof_batch import JSON_BATCH_PAYLOAD_TYPE, ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.errors import InvalidRequest, RuleViolation
from ledger.indexes import TopicFollower
from ledger.receipts import ProofReceipt, Receipt
from ledger.validation import check_after, check_request_id, check_text, event_time
from verifier.backends import Backend, select_backend
from verifier.batch import MalformedBatch, parse_batch
from verifier.batch import ProofBatch as ParsedBatch
from verifier.config import InvalidVerifierConfig, VerifierConfig
from verifier.cuda import CudaUnavailable
from verifier.reconciliation import (
    HASHES_PER_TERAHASH,
    ReconciliationPolicy,
    reconcile,
)
from verifier.reconciliation import Reconciliation as Computed
from verifier.verdicts import Verdict
from verifier.verification import VerificationResult, verify_batch
from verifier.work import WorkTally

if TYPE_CHECKING:
    from ledger.application import Ledger

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
ONE_MICROSECOND = timedelta(microseconds=1)
DEFAULT_ASSET = "BTC"
"""The asset whose output reports a reconciliation counts (the shares are Bitcoin's)."""
STORED_BATCH_MAX_SHARES = 2**62
"""No share limit when re-reading a batch that was already accepted for the record."""

RECONCILIATION_PARAMETERS = (
    "network_difficulty",
    "block_subsidy",
    "mean_fees",
    "capacity_tolerance",
    "efficiency_min_jth",
    "efficiency_max_jth",
)
"""The policy parameters a reconciliation reads (in force at the period's last instant)."""


# --------------------------------------------------------------------------- pure parts


def verdict_string(codes: np.ndarray) -> str:
    """Returns verdict codes (0-7) as one digit per share: the compact stored form."""
    return (codes.astype(np.uint8) + ord("0")).tobytes().decode("ascii")


def verdict_codes(text: str) -> np.ndarray:
    """Returns the verdict codes of the stored digit string."""
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")


def tally_of(batch: ParsedBatch, mask: np.ndarray) -> WorkTally:
    """Returns the exact tally (count, Σwork, Σwork²) of the shares selected by ``mask``."""
    jobs = batch.packed.shares["job"][mask]
    per_job = np.bincount(jobs, minlength=len(batch.jobs)).tolist() if jobs.size else []
    works = [job.share_work for job in batch.jobs]
    return WorkTally(
        shares=int(mask.sum()),
        work=sum(c * w for c, w in zip(per_job, works, strict=False)),
        work_squared=sum(c * w * w for c, w in zip(per_job, works, strict=False)),
    )


@dataclass(frozen=True, eq=False)
class Outcome:
    """A batch's verification decided against the shares accepted before it."""

    verdicts: np.ndarray
    block_candidates: np.ndarray
    tally: WorkTally
    accepted_hashes: bytes
    ntime_range: tuple[int, int] | None

    @property
    def counts(self) -> dict[str, int]:
        """Returns the number of shares per verdict name (zeros included)."""
        counts = np.bincount(self.verdicts, minlength=len(Verdict))
        return {v.name: int(counts[v.value]) for v in Verdict}


def decide(result: VerificationResult, accepted_before: AbstractSet[bytes]) -> Outcome:
    """Returns the outcome of a batch verified without ``already_accepted``, with every
    share whose hash was accepted earlier for the licence marked DUPLICATE.

    Equal to ``verify_batch(..., already_accepted=accepted_before)`` without hashing
    again, so a writer that lost a race re-decides in microseconds (the audit replay
    runs the full ``verify_batch`` and compares).
    """
    verdicts = result.verdicts.copy()
    block = result.block_candidates.copy()
    candidates = np.nonzero(verdicts == Verdict.ACCEPTED)[0].tolist()
    if accepted_before and candidates:
        hashes = result.hashes
        again = [i for i in candidates if bytes(hashes[i]) in accepted_before]
        verdicts[again] = Verdict.DUPLICATE
        block[again] = False
    accepted = verdicts == Verdict.ACCEPTED
    ntime = result.batch.packed.shares["ntime"][accepted]
    return Outcome(
        verdicts=verdicts,
        block_candidates=block,
        tally=tally_of(result.batch, accepted),
        accepted_hashes=np.ascontiguousarray(result.hashes[accepted]).tobytes(),
        ntime_range=(int(ntime.min()), int(ntime.max())) if ntime.size else None,
    )


def stored_batch(batch: ProofBatch) -> ParsedBatch:
    """Returns the parsed jobs and shares of a recorded proof batch."""
    return parse_batch(batch.submitted_json(), max_shares=STORED_BATCH_MAX_SHARES)


@dataclass(frozen=True, eq=False)
class AcceptedShares:
    """The accepted shares of one recorded batch: ntime and work of each, compactly."""

    ntime: np.ndarray  # int64 per accepted share
    job: np.ndarray  # int64 index into ``works`` per accepted share
    works: tuple[int, ...]  # share work per job

    @classmethod
    def of(cls, parsed: ParsedBatch, codes: np.ndarray) -> AcceptedShares:
        """Returns the accepted shares of a parsed batch and its verdict codes."""
        accepted = codes == Verdict.ACCEPTED
        shares = parsed.packed.shares
        return cls(shares["ntime"][accepted].astype(np.int64),
                   shares["job"][accepted].astype(np.int64),
                   tuple(job.share_work for job in parsed.jobs))

    def tally(self, low: int, high: int) -> WorkTally:
        """Returns the tally of the accepted shares with low <= ntime < high."""
        inside = (self.ntime >= low) & (self.ntime < high)
        per_job = np.bincount(self.job[inside], minlength=len(self.works)).tolist() \
            if inside.any() else []
        return WorkTally(
            shares=int(inside.sum()),
            work=sum(c * w for c, w in zip(per_job, self.works, strict=False)),
            work_squared=sum(c * w * w for c, w in zip(per_job, self.works, strict=False)),
        )


def epoch_ceil(when: datetime) -> int:
    """Returns the smallest whole Unix second at or after ``when``."""
    seconds, rest = divmod(utc(when) - EPOCH, ONE_SECOND)
    return int(seconds) + (1 if rest else 0)


def ntime_bounds(start: datetime, end: datetime) -> tuple[int, int]:
    """Returns [low, high) in whole seconds: an integer ntime lies in [start, end) exactly
    when low <= ntime < high."""
    return epoch_ceil(start), epoch_ceil(end)


def prorated(value: Decimal, span: tuple[datetime, datetime],
             period: tuple[datetime, datetime]) -> Decimal | None:
    """Returns the part of ``value`` (spread evenly over ``span``) that falls in ``period``,
    ``value`` itself when the span lies inside, None when they do not overlap."""
    (s, e), (ps, pe) = span, period
    if s >= ps and e <= pe:
        return value
    overlap = min(e, pe) - max(s, ps)
    if overlap <= timedelta(0):
        return None
    return value * Decimal(overlap // ONE_MICROSECOND) / Decimal((e - s) // ONE_MICROSECOND)


def capacity_over(capacities: Sequence[Capacity], start: datetime, end: datetime
                  ) -> tuple[Decimal, Decimal]:
    """Returns (MW, J/TH) standing for the licensed capacity over [start, end).

    One capacity in force over the whole period is returned as it is. When an amendment
    takes effect inside the period, MW is the time-weighted mean power and J/TH is chosen
    so that MW × 10⁶ ÷ (J/TH) is the time-weighted mean hashrate cap: the energy quota
    and the capacity test then both follow the licence exactly.
    """
    def at(when: datetime) -> Capacity:
        current = capacities[0]
        for capacity in capacities:
            if capacity.effective_from <= when:
                current = capacity
        return current

    cuts = sorted({start, end} | {c.effective_from for c in capacities
                                  if start < c.effective_from < end})
    segments = [(at(a), Decimal((b - a) // ONE_MICROSECOND)) for a, b in pairwise(cuts)]
    if len({(c.power_mw, c.efficiency_jth) for c, _ in segments}) == 1:
        first = segments[0][0]
        return first.power_mw, first.efficiency_jth
    total = sum((length for _, length in segments), Decimal(0))
    mw = sum((c.power_mw * length for c, length in segments), Decimal(0)) / total
    cap_ths = sum((c.hashrate_cap_ths * length for c, length in segments), Decimal(0)) / total
    return mw, mw * Decimal(1_000_000) / cap_ths


def policy_inputs(policy: Policy | None, at: datetime, max_version: int | None = None
                  ) -> dict[str, Decimal]:
    """Returns the reconciliation parameters in force at ``at`` (defaults where never set),
    counting only policy events up to ``max_version`` when it is given."""
    values: dict[str, Decimal] = {}
    for name in RECONCILIATION_PARAMETERS:
        current = PARAMETERS[name].default
        history = policy.history.get(name, []) if policy is not None else []
        for value in history:
            if value.effective_from <= at and (max_version is None
                                               or value.version <= max_version):
                current = value.value
        values[name] = Decimal(current)
    return values


@dataclass(frozen=True)
class PeriodInputs:
    """Everything one reconciliation is computed from."""

    start: datetime
    end: datetime
    tally: WorkTally
    licensed_mw: Decimal
    declared_j_per_th: Decimal
    policy: Mapping[str, Decimal]
    reported_output: Decimal | None
    metered_kwh: Decimal | None

    @property
    def seconds(self) -> Decimal:
        """Returns the period's length T in seconds."""
        return Decimal((self.end - self.start) // ONE_MICROSECOND) / Decimal(1_000_000)


def compute(inputs: PeriodInputs) -> Computed:
    """Returns the verifier's reconciliation of the inputs (DESIGN.md §5)."""
    policy = inputs.policy
    return reconcile(
        tally=inputs.tally,
        seconds=inputs.seconds,
        licensed_mw=inputs.licensed_mw,
        declared_j_per_th=inputs.declared_j_per_th,
        network_difficulty=policy["network_difficulty"],
        subsidy=policy["block_subsidy"],
        mean_fees=policy["mean_fees"],
        reported_output=inputs.reported_output,
        metered_kwh=inputs.metered_kwh,
        policy=ReconciliationPolicy(
            capacity_tolerance=policy["capacity_tolerance"],
            efficiency_min_j_per_th=policy["efficiency_min_jth"],
            efficiency_max_j_per_th=policy["efficiency_max_jth"],
        ),
    )


def figures_of(inputs: PeriodInputs, computed: Computed) -> dict[str, str]:
    """Returns every figure of a reconciliation, name → decimal string."""
    proved = computed.proved
    quota = inputs.licensed_mw * inputs.seconds / Decimal(3600) * Decimal(1000)
    figures: dict[str, Decimal | int | None] = {
        "seconds": inputs.seconds,
        "shares": proved.shares,
        "effective_shares": proved.effective_shares,
        "proved_work": proved.work,
        "proved_work_squared": inputs.tally.work_squared,
        "hashrate_hs": proved.hashrate,
        "hashrate_low_hs": proved.low,
        "hashrate_high_hs": proved.high,
        "hashrate_ths": proved.hashrate / HASHES_PER_TERAHASH,
        "hashrate_low_ths": proved.low / HASHES_PER_TERAHASH,
        "hashrate_high_ths": proved.high / HASHES_PER_TERAHASH,
        "licensed_mw": inputs.licensed_mw,
        "declared_j_per_th": inputs.declared_j_per_th,
        "licensed_capacity_ths": computed.licensed_capacity_ths,
        "quota_kwh": quota,
        "reported_output": computed.reported_output,
        "metered_kwh": computed.metered_kwh,
        "implied_j_per_th": computed.implied_j_per_th,
        "confidence": computed.policy.confidence,
    }
    figures.update(inputs.policy)
    if computed.expected is not None:
        figures.update({
            "expected_blocks": computed.expected.expected_blocks,
            "expected_output": computed.expected.expected,
            "expected_output_low": computed.expected.low,
            "expected_output_high": computed.expected.high,
            "reward_per_block": computed.expected.reward_per_block,
        })
    return {name: str(value) for name, value in figures.items() if value is not None}


def checks_of(computed: Computed) -> list[dict[str, Any]]:
    """Returns each evaluated check as stored: verdict, triggered, figures, p-value."""
    return [{
        "verdict": check.verdict.value,
        "triggered": check.triggered,
        "figures": {k: str(v) for k, v in check.figures.items()},
        "p_value": None if check.p_value is None else str(check.p_value),
        "detail": check.detail,
    } for check in computed.checks]


# ---------------------------------------------------------------------------- read model


@dataclass
class BatchEntry:
    """What the index keeps of one recorded batch."""

    batch_id: UUID
    sequence: int
    ntime_min: int | None
    ntime_max: int | None
    tally: WorkTally


@dataclass(frozen=True)
class PeriodEntry:
    """An output report or meter reading: its event, period and amount (or kWh)."""

    ref: str
    start: datetime
    end: datetime
    value: Decimal
    asset: str = ""


@dataclass
class LicenceProofs:
    """Everything the index holds for one licence."""

    next_sequence: int = 0
    accepted: set[bytes] = field(default_factory=set)
    batches: list[BatchEntry] = field(default_factory=list)
    reports: list[PeriodEntry] = field(default_factory=list)
    readings: list[PeriodEntry] = field(default_factory=list)
    reconciliations: list[UUID] = field(default_factory=list)


class ProofIndex:
    """Proof batches, output reports, meter readings and reconciliations by licence,
    followed from the log (rebuilt on start, advanced before each use).

    It is the persistent duplicate index of DESIGN.md §4: the hashes of every share
    accepted for a licence, held in memory (about 100 bytes per accepted share).
    """

    def __init__(self, ledger: Ledger) -> None:
        self._licences: dict[UUID, LicenceProofs] = {}
        self._requests: dict[str, tuple[UUID, UUID]] = {}
        self._reconciliations: list[UUID] = []
        self._lock = threading.RLock()
        self._follower = TopicFollower(
            ledger.recorder, ledger.mapper,
            [cast(Any, ProofBatch).Verified, cast(Any, OutputReport).Reported,
             cast(Any, MeterReading).Recorded, cast(Any, Reconciliation).Closed],
            self._handle)

    def _licence(self, licence_id: UUID) -> LicenceProofs:
        entry = self._licences.get(licence_id)
        if entry is None:
            entry = self._licences[licence_id] = LicenceProofs()
        return entry

    def _handle(self, _position: int, event: Any) -> None:
        entry = self._licence(event.licence_id)
        if isinstance(event, cast(Any, ProofBatch).Verified):
            raw = b64decode(event.accepted_hashes)
            # Hashes before the sequence number: a reader that sees the new number also
            # sees the batch's hashes.
            entry.accepted.update(raw[i:i + 32] for i in range(0, len(raw), 32))
            entry.batches.append(BatchEntry(
                event.originator_id, event.sequence, event.ntime_min, event.ntime_max,
                WorkTally(event.accepted_shares, int(event.accepted_work),
                          int(event.accepted_work_squared))))
            entry.next_sequence = max(entry.next_sequence, event.sequence + 1)
            self._requests[event.request_id] = (event.originator_id, event.licence_id)
        elif isinstance(event, cast(Any, OutputReport).Reported):
            entry.reports.append(PeriodEntry(f"{event.originator_id}:1", event.period_start,
                                             event.period_end, event.amount, event.asset))
        elif isinstance(event, cast(Any, MeterReading).Recorded):
            entry.readings.append(PeriodEntry(f"{event.originator_id}:1", event.period_start,
                                              event.period_end, event.kwh))
        elif isinstance(event, cast(Any, Reconciliation).Closed):
            entry.reconciliations.append(event.originator_id)
            self._reconciliations.append(event.originator_id)

    def refresh(self) -> None:
        """Takes in every relevant event recorded since the last refresh."""
        with self._lock:
            self._follower.refresh()

    def batch_for_request(self, request_id: str) -> tuple[UUID, UUID] | None:
        """Returns (batch id, licence id) of the batch a request recorded, or None."""
        self.refresh()
        return self._requests.get(request_id)

    def licence(self, licence_id: UUID) -> LicenceProofs:
        """Returns the licence's live entry, refreshed (empty for a licence without any).

        Later refreshes only add to it: a writer that reads ``next_sequence`` first and
        then sees hashes of a later batch conflicts on the batch id and decides again.
        """
        with self._lock:
            self._follower.refresh()
            return self._licences.get(licence_id) or LicenceProofs()

    def snapshot(self, licence_id: UUID) -> LicenceProofs:
        """Returns a refreshed copy of the licence's batches, reports, readings and
        reconciliations that later refreshes leave alone (its ``accepted`` is empty)."""
        with self._lock:
            self._follower.refresh()
            entry = self._licences.get(licence_id) or LicenceProofs()
            return LicenceProofs(entry.next_sequence, set(), list(entry.batches),
                                 list(entry.reports), list(entry.readings),
                                 list(entry.reconciliations))

    def reconciliation_ids(self, licence_id: UUID | None = None) -> list[UUID]:
        """Returns reconciliation ids in the order they were closed."""
        with self._lock:
            self._follower.refresh()
            if licence_id is None:
                return list(self._reconciliations)
            entry = self._licences.get(licence_id)
            return list(entry.reconciliations) if entry else []


# -------------------------------------------------------------------------------- desk


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


class ProofDesk:
    """Submits proof batches and closes reconciliations for one ledger."""

    def __init__(self, ledger: Ledger, config: VerifierConfig | None = None) -> None:
        self.ledger = ledger
        self.config = config or VerifierConfig.from_environment()
        self.index = ProofIndex(ledger)
        self._backends: dict[str, Backend] = {}
        self._backends_lock = threading.Lock()

    # -------------------------------------------------------------------- proof batches

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
                    self._backends[key] = select_backend(config)
                except (InvalidVerifierConfig, CudaUnavailable) as exc:
                    raise InvalidRequest("backend", str(exc)) from None
            return self._backends[key]

    def parse(self, batch: str | bytes | Mapping[str, Any] | Envelope,
              envelope: Envelope | None) -> tuple[ParsedBatch, Envelope | None, bool]:
        """Returns (parsed batch, envelope to store, whether the envelope carries the JSON);
        InvalidRequest naming the field when the batch is malformed."""
        source: str | bytes | Mapping[str, Any]
        if isinstance(batch, Envelope):
            if envelope is not None and envelope != batch:
                raise InvalidRequest("envelope", "give the envelope once: as batch or envelope")
            if batch.payload_type != JSON_BATCH_PAYLOAD_TYPE:
                raise InvalidRequest(
                    "envelope.payload_type",
                    f"an envelope given as the batch must carry {JSON_BATCH_PAYLOAD_TYPE!r}, "
                    f"got {batch.payload_type!r} (pass the decoded batch as batch and the "
                    "envelope as envelope)")
            envelope, source = batch, batch.payload
        elif isinstance(batch, str | bytes | Mapping):
            source = batch
        else:
            raise InvalidRequest("batch", "must be JSON text, a mapping or an Envelope")
        if envelope is not None and not isinstance(envelope, Envelope):
            raise InvalidRequest("envelope", "must be an Envelope")
        try:
            parsed = parse_batch(source, max_shares=self.config.max_shares)
        except MalformedBatch as exc:
            raise InvalidRequest(exc.field, exc.reason) from None
        if len(parsed) == 0:
            raise InvalidRequest("shares", "a proof batch needs at least one share")
        carries = envelope is not None and envelope.payload_type == JSON_BATCH_PAYLOAD_TYPE
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
        when = event_time(at)
        parsed, stored_envelope, carries_json = self.parse(batch, envelope)
        canonical = b"" if carries_json else parsed.canonical_json()
        digest = hashlib.sha256(canonical or parsed.canonical_json()).hexdigest()
        ledger = self.ledger
        verified: list[VerificationResult] = []

        def attempt() -> ProofReceipt:
            first = self.index.batch_for_request(request_id)
            if first is not None:
                if first[1] != licence_id:
                    raise InvalidRequest("request_id", "already used for another licence")
                return proof_receipt(ledger.get_typed(first[0], ProofBatch, "proof batch"),
                                     replayed=True)
            licence = self._active_licence(request_id, licence_id, when, digest, len(parsed))
            if stored_envelope is not None:
                participant = ledger.get_participant(licence.participant_id)
                check_envelope(stored_envelope, participant.keys, when, participant.id)
            tags = [bytes.fromhex(t) for t in licence.coinbase_tags]
            if not verified:  # hash once; a retry re-decides only the duplicates
                verified.append(verify_batch(parsed, coinbase_tags=tags,
                                             backend=self.backend(backend)))
            entry = self.index.licence(licence_id)
            sequence = entry.next_sequence  # read before the hashes (see ProofIndex)
            outcome = decide(verified[0], entry.accepted)
            self.before_save(sequence)
            record = ProofBatch(
                request_id=request_id, at=when, licence_id=licence_id,
                participant_id=licence.participant_id, sequence=sequence,
                batch_digest=digest,
                batch_json=canonical.decode(),
                envelope={} if stored_envelope is None else stored_envelope.to_record(),
                coinbase_tags=list(licence.coinbase_tags), backend=verified[0].backend,
                shares=len(parsed), counts=outcome.counts,
                accepted_shares=outcome.tally.shares,
                accepted_work=str(outcome.tally.work),
                accepted_work_squared=str(outcome.tally.work_squared),
                ntime_min=outcome.ntime_range[0] if outcome.ntime_range else None,
                ntime_max=outcome.ntime_range[1] if outcome.ntime_range else None,
                verdicts=verdict_string(outcome.verdicts),
                accepted_hashes=b64encode(outcome.accepted_hashes).decode("ascii"),
                block_candidates=np.nonzero(outcome.block_candidates)[0].tolist(),
            )
            ledger.save(record)
            return proof_receipt(record)

        return cast(ProofReceipt, ledger.retrying(attempt))

    def before_save(self, sequence: int) -> None:
        """Hook called after a batch is decided and before it is saved (tests use it to
        make two writers race)."""

    def _active_licence(self, request_id: str, licence_id: UUID, when: datetime,
                        digest: str, shares: int) -> MiningLicence:
        """Returns the licence when it and its holder are active at ``when``; otherwise
        records an alert (once per request) so the refused attempt stays on the record,
        and raises the RuleViolation."""
        ledger = self.ledger
        try:
            return ledger.require_active_licence(licence_id, MiningLicence, when)
        except RuleViolation as refusal:
            alert_id = Alert.create_id(request_id, refusal.rule, licence_id)
            if ledger.find(alert_id) is None:
                licence = ledger.get_mining_licence(licence_id)
                figures = dict(refusal.figures, batch_digest=digest, shares=str(shares))
                ledger.save(Alert(
                    request_id=request_id, at=when, kind=refusal.rule, subject_id=licence_id,
                    participant_id=licence.participant_id,
                    message=f"proof batch refused: {refusal.message}", evidence=[],
                    figures=figures))
            raise

    # ------------------------------------------------------------------ reconciliations

    def close(self, request_id: str, licence_id: UUID, period_start: datetime,
              period_end: datetime, at: datetime | None = None,
              asset: str = DEFAULT_ASSET) -> Receipt:
        """Computes and records ``Reconciliation.Closed`` with its alerts; see
        ``Ledger.close_reconciliation``.

        Only accepted shares count as work, so proved work is a lower bound: withholding
        shares can at most hide OVER_CAPACITY, and it makes OUTPUT_OVER_REPORTED and
        IMPLAUSIBLE_EFFICIENCY fire against the miner (see the module docstring).
        """
        check_request_id(request_id)
        if not isinstance(licence_id, UUID):
            raise InvalidRequest("licence_id", "must be a UUID")
        for name, value in (("period_start", period_start), ("period_end", period_end)):
            if not isinstance(value, datetime):
                raise InvalidRequest(name, "must be a datetime")
        start, end, when = utc(period_start), utc(period_end), event_time(at)
        check_after("period_end", end, start)
        check_text("asset", asset)
        recon_id = Reconciliation.create_id(licence_id, start, end)
        ledger = self.ledger

        def attempt() -> Receipt:
            existing = ledger.find(recon_id)
            if isinstance(existing, Reconciliation):
                if existing.request_id == request_id:
                    return Receipt(recon_id, 1, replayed=True)
                raise RuleViolation(
                    "RECONCILIATION_ALREADY_CLOSED",
                    f"licence {licence_id} was already reconciled for {start.isoformat()} to "
                    f"{end.isoformat()} (reconciliation {recon_id})",
                    {"reconciliation": recon_id})
            licence = ledger.get_mining_licence(licence_id)
            if end > when:
                raise RuleViolation(
                    "PERIOD_NOT_ENDED",
                    f"the period ends {end.isoformat()}, after {when.isoformat()}",
                    {"period_end": end.isoformat(), "at": when.isoformat()})
            policy = cast(Policy | None, ledger.find(POLICY_ID))
            entry = self.index.snapshot(licence_id)
            inputs, evidence = self.gather(licence, entry, policy, start, end, asset)
            computed = compute(inputs)
            figures = figures_of(inputs, computed)
            refs = [ref for kind in evidence.values() for ref in kind]
            alerts = [Alert(
                request_id=request_id, at=when, kind=check.verdict.value, subject_id=recon_id,
                participant_id=licence.participant_id,
                message=f"reconciliation of licence {licence_id} for {start.isoformat()} to "
                        f"{end.isoformat()}: {check.detail}",
                evidence=refs,
                figures={k: str(v) for k, v in check.figures.items()}
                | ({} if check.p_value is None else {"p_value": str(check.p_value)}),
            ) for check in computed.checks if check.triggered]
            recon = Reconciliation(
                request_id=request_id, at=when, licence_id=licence_id,
                participant_id=licence.participant_id, period_start=start, period_end=end,
                asset=asset, licence_version=licence.version,
                policy_version=policy.version if policy is not None else 0,
                batches_read=len(entry.batches), figures=figures, checks=checks_of(computed),
                verdicts=[v.value for v in computed.verdicts], evidence=evidence,
                alert_ids=[str(a.id) for a in alerts])
            ledger.save(recon, *alerts)
            return Receipt(recon_id, 1)

        return cast(Receipt, ledger.retrying(attempt))

    def gather(self, licence: MiningLicence, entry: LicenceProofs, policy: Policy | None,
               start: datetime, end: datetime, asset: str
               ) -> tuple[PeriodInputs, dict[str, list[str]]]:
        """Returns the inputs of a reconciliation and the evidence references they came
        from: accepted shares with ntime in [start, end), output reports of ``asset`` and
        meter readings prorated to the period."""
        low, high = ntime_bounds(start, end)
        tally = WorkTally()
        batch_refs: list[str] = []
        for batch in entry.batches:
            if batch.ntime_min is None or batch.ntime_max is None:
                continue
            if batch.ntime_max < low or batch.ntime_min >= high:
                continue
            if low <= batch.ntime_min and batch.ntime_max < high:
                part = batch.tally
            else:
                stored = self.ledger.get_typed(batch.batch_id, ProofBatch, "proof batch")
                part = AcceptedShares.of(stored_batch(stored),
                                         verdict_codes(stored.verdicts)).tally(low, high)
            if part.shares:
                tally += part
                batch_refs.append(f"{batch.batch_id}:1")
        reported, report_refs = period_sum(
            (r for r in entry.reports if r.asset == asset), start, end)
        metered, reading_refs = period_sum(entry.readings, start, end)
        mw, jth = capacity_over(licence.capacities, start, end)
        inputs = PeriodInputs(start, end, tally, mw, jth,
                              policy_inputs(policy, end - ONE_MICROSECOND),
                              reported, metered)
        evidence = {"proof_batches": batch_refs, "output_reports": report_refs,
                    "meter_readings": reading_refs}
        return inputs, evidence


def period_sum(entries: Iterable[PeriodEntry], start: datetime, end: datetime
               ) -> tuple[Decimal | None, list[str]]:
    """Returns the prorated sum of the entries overlapping [start, end) (None when none
    does) and their event references."""
    total: Decimal | None = None
    refs: list[str] = []
    for entry in entries:
        part = prorated(entry.value, (entry.start, entry.end), (start, end))
        if part is not None:
            total = part if total is None else total + part
            refs.append(entry.ref)
    return total, refs
