"""Replay checks of mining proofs: re-verify every proof batch, recompute every
reconciliation, re-check every stored signed envelope (DESIGN.md §6, with the cipher key).

The checks follow the log in order and keep only what they need: the licences' coinbase
tags and capacities, the policy, the accepted shares of each licence, output reports and
meter readings, participants' keys. Each stored result is recomputed with the same code
the ledger used (``verifier.verify_batch`` and ``ledger.proofs``) and every difference is
reported as a ``VERDICT_MISMATCH`` fault at the event's leaf; an envelope that does not
verify against the participant's key valid at the event's time is ``ENVELOPE_INVALID``,
and a registered key no private key could have made is ``UNUSABLE_KEY``.

It is long because the replay must rebuild, in log order, every input a batch or a
reconciliation was decided on (national index, tags, inactive spans per licence version,
pools, sales, policy) before it can recompute them with the ledger's own code, and
because the proof batch check has two paths that must agree: each batch alone as it comes,
and many gathered, decoded in parallel and verified together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, cast
from uuid import UUID

import numpy as np

from ledger.audit.faults import Fault, FaultKind
from ledger.audit.stored_batches import Decoded, StoredSource, decode_sources, source_of
from ledger.domain.base64_text import base64_bytes
from ledger.domain.envelope import Envelope
from ledger.domain.licence import Capacity, ExchangeLicence, Licence, MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.output_report import OutputReport
from ledger.domain.participant import Participant, SigningKey
from ledger.domain.policy import Policy
from ledger.domain.pool import MiningPool
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.domain.trade import Trade
from ledger.errors import LedgerError
from ledger.keys import EnvelopeVerifier, Signed
from ledger.proof_figures import (
    NTIME_NEVER,
    ONE_MICROSECOND,
    AcceptedShares,
    Outcome,
    PeriodInputs,
    compute,
    decide,
    epoch_ceil,
    figures_of,
    inactive_spans,
    licensed_over,
    network_windows,
    policy_inputs,
    pool_terms,
    stored_batch,
    verdict_codes,
    verdict_string,
)
from ledger.proof_index import PeriodEntry, Sale, foreign_tags, period_sum
from ledger.signatures import SignatureChecker, usable_public_key
from verifier.backends import Backend, select_backend
from verifier.batch import MalformedBatch
from verifier.batch import ShareBatch as ParsedBatch
from verifier.verification import VerificationResult, verify_batch, verify_batches
from verifier.work import WorkTally

DEFAULT_REPLAY_SHARES = 500_000
"""Shares the replay gathers before decoding and verifying them together: one large
launch on a GPU, one pass of the worker pool on CPUs, at about 200 bytes a share."""

EXACT_FIGURES = (
    "shares",
    "proved_work",
    "proved_work_squared",
    "licensed_mw",
    "declared_j_per_th",
    "licensed_capacity_ths",
    "quota_kwh",
    "reported_output",
    "report_missing",
    "metered_kwh",
    "sold_through_exchanges",
    "shares_not_active",
    "proved_blocks",
    "pool_fee",
    "network_spans",
    "capacity_tolerance",
    "efficiency_min_jth",
    "efficiency_max_jth",
    "mandatory_sale_share",
    "pool_output_tolerance",
)
"""Figures recomputed exactly (integers and decimal arithmetic, no floating point), with
every ``span_*`` figure (the network figures and the work of each span): a difference in
any of them is a fault. Interval bounds and p-values come from scipy's
floating point and are compared through the verdicts they decide."""


def _ref(event: Any) -> str:
    return f"{event.originator_id}:{event.originator_version}"


@dataclass(frozen=True, slots=True)
class TradeSale:
    """What the proof check reads of a recorded trade (a parallel audit's workers send
    this instead of the whole event)."""

    originator_id: UUID
    originator_version: int
    seller_id: UUID
    at: datetime
    asset: str
    quantity: Decimal


def trade_sale(event: Any) -> TradeSale:
    """Returns the sale part of a ``Trade.Recorded`` event."""
    return TradeSale(event.originator_id, event.originator_version, event.seller_id,
                     event.at, event.asset, event.quantity)


@dataclass
class _Licence:
    tags: list[bytes]
    capacities: list[tuple[int, Capacity]]  # (licence version, capacity) as recorded
    state: MiningLicence
    version: int = 1
    batches: dict[int, tuple[UUID, AcceptedShares]] = field(default_factory=dict)
    inactive: dict[int, list[tuple[datetime, datetime | None]]] = field(default_factory=dict)
    """Inactive spans (suspensions, revocation, validity) at each licence version."""

    def apply(self, event: Any) -> None:
        """Applies a licence event and remembers the inactive spans it leaves."""
        with suppress(Exception):  # the rebuild reports events that do not apply
            self.state = event.mutate(self.state)
        self.version = event.originator_version
        self.inactive[self.version] = inactive_spans(self.state)

    def capacities_at(self, version: int) -> list[Capacity]:
        """Returns the capacities the licence had at ``version``, as the aggregate sorts
        them (stably by effective time)."""
        known = [c for v, c in self.capacities if v <= version]
        return sorted(known, key=lambda c: c.effective_from)


@dataclass(frozen=True)
class _Pending:
    """A batch waiting to be checked, with the inputs it was decided on as the log stood
    at its event, and the faults of its national numbering."""

    leaf: int
    event: Any
    licence: _Licence
    tags: list[bytes]
    foreign: list[bytes]
    inactive: list[tuple[int, int]]
    early: list[Fault]


@dataclass(frozen=True)
class _Recomputed:
    """What the replay recomputes of one batch, to compare with what was stored."""

    verdicts: str
    counts: dict[str, int]
    tally: WorkTally
    accepted_hashes: bytes
    block_candidates: list[int]
    ntime_range: tuple[int, int] | None


def _recomputed(outcome: Outcome) -> _Recomputed:
    """Returns the comparable form of a decided outcome."""
    return _Recomputed(verdict_string(outcome.verdicts), outcome.counts, outcome.tally,
                       outcome.accepted_hashes,
                       [int(i) for i in outcome.block_candidates.nonzero()[0]],
                       outcome.ntime_range)


def _decided(result: VerificationResult, accepted: set[bytes]) -> _Recomputed:
    """Returns a result verified alone, decided against the acceptances so far (equal to
    verifying it with them: ``ledger.proof_figures.decide``)."""
    return _recomputed(decide(result, accepted))


class ProofReplayCheck:
    """Re-verifies every ``ProofBatch.Verified`` and recomputes every
    ``Reconciliation.Closed``; reports each difference from the stored result.

    Batches are gathered until ``batch_shares`` shares wait (or a reconciliation needs
    them, or the replay ends), then decoded in parallel processes and hashed in one
    ``verify_batches`` call; the verdicts equal those of checking each batch alone.
    """

    name = "proofs"

    def __init__(self, backend: Backend | None = None, *,
                 batch_shares: int = DEFAULT_REPLAY_SHARES, decode_workers: int | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self._backend = backend
        self.batch_shares = batch_shares
        """Shares gathered before they are decoded and verified together (0: each batch
        alone, as it comes)."""
        self.decode_workers = decode_workers
        self.progress = progress
        """Called with the number of shares re-verified after each step."""
        self._pending: list[_Pending] = []
        self._pending_shares = 0
        self.licences: dict[UUID, _Licence] = {}
        self.granted: list[tuple[UUID, list[bytes]]] = []
        self.accepted: set[bytes] = set()  # the national index of accepted hashes
        self.next_batch = 0
        self.policy: Policy | None = None
        self.reports: dict[str, tuple[UUID, PeriodEntry]] = {}
        self.readings: dict[str, tuple[UUID, PeriodEntry]] = {}
        self.sales: dict[str, tuple[UUID, Sale]] = {}
        self.pools: dict[UUID, MiningPool] = {}
        self.miners: set[UUID] = set()
        self.batches_checked = 0
        self.reconciliations_checked = 0
        handlers: dict[Any, Callable[[int, Any], Iterable[Fault]]] = {
            cast(Any, MiningLicence).Granted: self._granted,
            cast(Any, MiningLicence).CapacityAmended: self._amended,
            cast(Any, ProofBatch).Verified: self._batch,
            cast(Any, OutputReport).Reported: self._report,
            cast(Any, MeterReading).Recorded: self._reading,
            cast(Any, Reconciliation).Closed: self._reconciliation,
            cast(Any, Trade).Recorded: self._trade,
            TradeSale: self._trade,
            cast(Any, MiningPool).Registered: self._pool,
        }
        for cls in (cast(Any, Policy).Created, cast(Any, Policy).Set):
            handlers[cls] = self._policy
        self._handlers = handlers
        self.watches: tuple[type, ...] = (*handlers, cast(Any, Licence).Event)
        """The events ``observe`` looks at: those it handles and every licence's
        (suspensions, revocations … change a mining licence's spans; they are stored as
        events of ``Licence`` itself as well as of ``MiningLicence``)."""
        self.projections: dict[type, Callable[[Any], Any]] = {
            cast(Any, Trade).Recorded: trade_sale}
        """What of an event ``observe`` reads, by event class, where that is less than the
        event (``ReplayCheck``)."""

    @property
    def backend(self) -> Backend:
        """Returns the verifier backend (configured by VALEDGER_VERIFIER_* by default)."""
        if self._backend is None:
            self._backend = select_backend()
        return self._backend

    def observe(self, leaf_index: int, event: Any) -> Iterable[Fault]:
        """Returns the faults of one event (only proof events are looked at)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            return handler(leaf_index, event)
        licence = self.licences.get(event.originator_id)
        if licence is not None:  # suspended, reinstated, revoked, expired, ...
            licence.apply(event)
        return ()

    def finish(self, aggregates: Mapping[Any, Any]) -> Iterable[Fault]:
        """Returns the faults of the batches still waiting to be checked."""
        return self.flush()

    def _fault(self, leaf_index: int, event: Any, message: str) -> Fault:
        return Fault(FaultKind.VERDICT_MISMATCH, message, leaf_index, event=_ref(event))

    # ------------------------------------------------------------------------ state

    def _granted(self, _leaf: int, event: Any) -> Iterable[Fault]:
        tags = [bytes.fromhex(t) for t in event.coinbase_tags]
        state = cast(MiningLicence, event.mutate(None))
        self.licences[event.originator_id] = licence = _Licence(
            tags, [(event.originator_version,
                    Capacity(event.valid_from, event.power_mw, event.efficiency_jth))],
            state)
        licence.inactive[1] = inactive_spans(state)
        self.granted.append((event.originator_id, tags))
        self.miners.add(event.participant_id)
        return ()

    def _amended(self, _leaf: int, event: Any) -> Iterable[Fault]:
        licence = self.licences.get(event.originator_id)
        if licence is not None:
            licence.apply(event)
            licence.capacities.append((event.originator_version, Capacity(
                event.effective_from, event.power_mw, event.efficiency_jth)))
        return ()

    def _policy(self, _leaf: int, event: Any) -> Iterable[Fault]:
        # The rebuild already reports events that do not apply to their aggregate.
        with suppress(Exception):
            self.policy = event.mutate(self.policy)
        return ()

    def _trade(self, _leaf: int, event: Any) -> Iterable[Fault]:
        # As ledger.proof_index: only sellers holding a mining licence granted before.
        if event.seller_id in self.miners:
            ref = _ref(event)
            self.sales[ref] = (event.seller_id,
                               Sale(ref, event.at, event.asset, event.quantity))
        return ()

    def _pool(self, _leaf: int, event: Any) -> Iterable[Fault]:
        with suppress(Exception):  # the rebuild reports events that do not apply
            self.pools[event.originator_id] = cast(MiningPool, event.mutate(None))
        return ()

    def _report(self, _leaf: int, event: Any) -> Iterable[Fault]:
        self.reports[_ref(event)] = (event.licence_id, PeriodEntry(
            _ref(event), event.period_start, event.period_end, event.amount, event.asset))
        return ()

    def _reading(self, _leaf: int, event: Any) -> Iterable[Fault]:
        self.readings[_ref(event)] = (event.licence_id, PeriodEntry(
            _ref(event), event.period_start, event.period_end, event.kwh))
        return ()

    # ---------------------------------------------------------------------- batches

    def _batch(self, leaf: int, event: Any) -> Iterable[Fault]:
        self.batches_checked += 1
        licence = self.licences.get(event.licence_id)
        if licence is None:
            return [self._fault(leaf, event, f"proof batch for unknown licence "
                                             f"{event.licence_id}")]
        # What the batch was decided on, as the log stands now: later events may change
        # the national numbering, the licences granted and the licence's spans.
        pending = self._inputs(leaf, event, licence)
        if self.batch_shares <= 0:
            return self._batch_alone(pending)
        self._pending.append(pending)
        self._pending_shares += max(1, int(event.shares))
        return self.flush() if self._pending_shares >= self.batch_shares else ()

    def _inputs(self, leaf: int, event: Any, licence: _Licence) -> _Pending:
        """Returns the batch with the inputs it was decided on and the faults of its
        national numbering (checked in log order, before it is decoded)."""
        early: list[Fault] = []
        national = getattr(event, "national_sequence", 0)
        if national != self.next_batch:
            early.append(self._fault(leaf, event, f"national proof batch number {national} "
                                                  f"follows {self.next_batch} batches"))
        self.next_batch += 1
        seen = getattr(event, "licences_seen", 0)
        version = getattr(event, "licence_version", 0)
        if seen > len(self.granted) or version not in licence.inactive:
            early.append(self._fault(leaf, event, f"it read {seen} licences and licence "
                                                  f"version {version}, not in the log "
                                                  "before it"))
        spans = licence.inactive.get(version, [])
        return _Pending(
            leaf, event, licence, list(licence.tags),
            list(foreign_tags(self.granted[:seen], event.licence_id, licence.tags)),
            [(epoch_ceil(a), NTIME_NEVER if b is None else epoch_ceil(b)) for a, b in spans],
            early)

    def flush(self) -> list[Fault]:
        """Checks every batch waiting since the last flush, in log order: decoded across
        processes (``ledger.audit.stored_batches``), hashed in one ``verify_batches``
        call, then each decided against the acceptances before it. Returns their faults
        (the same as checking each alone, as it came)."""
        pending, self._pending, self._pending_shares = self._pending, [], 0
        if not pending:
            return []
        unread = Decoded(None, "", None)
        entries: list[tuple[_Pending, ProofBatch | None, Decoded]] = []
        sources: list[StoredSource] = []
        waiting: list[int] = []
        for item in pending:
            try:
                record = cast(ProofBatch, item.event.mutate(None))
                source = source_of(record)
            except (MalformedBatch, LedgerError, ValueError) as e:
                entries.append((item, None, Decoded(None, "", str(e))))
                continue
            waiting.append(len(entries))
            entries.append((item, record, unread))
            sources.append(source)
        for at, found in zip(waiting, decode_sources(sources, self.decode_workers),
                             strict=True):
            entries[at] = (entries[at][0], entries[at][1], found)
        readable = [k for k, (_, record, found) in enumerate(entries)
                    if record is not None and found.batch is not None]
        results = dict(zip(readable, verify_batches(
            [cast(ParsedBatch, entries[k][2].batch) for k in readable],
            coinbase_tags=[entries[k][0].tags for k in readable],
            foreign_tags=[entries[k][0].foreign for k in readable],
            inactive_ntime=[entries[k][0].inactive for k in readable],
            backend=self.backend), strict=True))
        faults: list[Fault] = []
        for k, (item, kept, found) in enumerate(entries):
            if kept is None or found.batch is None:
                faults += self._check(item, None, None, "", found.error, lambda: None)
            else:
                faults += self._check(item, kept, found.batch, found.digest, None,
                                      partial(_decided, results[k], self.accepted))
        if self.progress is not None:
            self.progress(sum(len(cast(ParsedBatch, entries[k][2].batch)) for k in readable))
        return faults

    def _batch_alone(self, item: _Pending) -> list[Fault]:
        """Checks one batch as it comes (the sequential path; ``batch_shares`` 0)."""
        try:
            stored = cast(ProofBatch, item.event.mutate(None))
            parsed = stored_batch(stored)
        except (MalformedBatch, LedgerError, ValueError) as e:
            return self._check(item, None, None, "", str(e), lambda: None)

        def recompute() -> _Recomputed:
            result = verify_batch(parsed, coinbase_tags=item.tags, foreign_tags=item.foreign,
                                  inactive_ntime=item.inactive,
                                  already_accepted=self.accepted, backend=self.backend)
            return _Recomputed(verdict_string(result.verdicts), result.counts, result.tally,
                               b"".join(result.accepted_hashes()),
                               [int(i) for i in result.block_candidates.nonzero()[0]],
                               result.ntime_range)

        faults = self._check(item, stored, parsed, parsed.digest().hex(), None, recompute)
        if self.progress is not None:
            self.progress(len(parsed))
        return faults

    def _check(self, item: _Pending, stored: ProofBatch | None, parsed: ParsedBatch | None,
               digest: str, error: str | None,
               recompute: Callable[[], _Recomputed | None]) -> list[Fault]:
        """Returns the faults of one batch given its decoding (or why it failed) and a
        function recomputing its result against the acceptances before it; records its
        accepted shares for later batches and reconciliations."""
        leaf, event, licence = item.leaf, item.event, item.licence
        faults: list[Fault] = []
        if event.sequence in licence.batches or event.sequence != len(licence.batches):
            faults.append(self._fault(leaf, event, f"proof batch number {event.sequence} "
                                                   f"follows {len(licence.batches)} batches"))
        faults += item.early
        if error is not None or stored is None or parsed is None:
            return [*faults, self._fault(leaf, event, f"stored batch unreadable: {error}")]
        codes = verdict_codes(stored.verdicts)
        licence.batches[event.sequence] = (event.originator_id,
                                           AcceptedShares.of(parsed, codes,
                                                             stored.block_candidates))
        if digest != stored.batch_digest:
            faults.append(self._fault(leaf, event, "batch digest differs from the stored "
                                                   "jobs and shares"))
        result = cast(_Recomputed, recompute())
        raw = result.accepted_hashes
        self.accepted.update(
            np.frombuffer(raw, dtype=np.dtype((np.void, 32))).tolist() if raw else ())
        again = result.verdicts
        if again != stored.verdicts:
            diff = [i for i, (a, b) in enumerate(zip(again, stored.verdicts, strict=False))
                    if a != b]
            faults.append(self._fault(
                leaf, event, f"share verdicts differ: {len(diff)} shares (first at index "
                             f"{diff[0] if diff else min(len(again), len(stored.verdicts))})"
                             f", recomputed {result.counts} against stored {stored.counts}"))
        expected = {
            "counts": result.counts,
            "accepted_shares": result.tally.shares,
            "accepted_work": result.tally.work,
            "accepted_work_squared": result.tally.work_squared,
            "accepted_hashes": raw,
            "block_candidates": result.block_candidates,
            "ntime_range": result.ntime_range,
        }
        found = {
            "counts": stored.counts,
            "accepted_shares": stored.accepted_shares,
            "accepted_work": stored.accepted_work,
            "accepted_work_squared": stored.accepted_work_squared,
            "accepted_hashes": base64_bytes(stored.accepted_hashes, validate=False),
            "block_candidates": stored.block_candidates,
            "ntime_range": (None if stored.ntime_min is None
                            else (stored.ntime_min, stored.ntime_max)),
        }
        differing = [k for k in expected if expected[k] != found[k]]
        if differing:
            faults.append(self._fault(leaf, event, "recomputed " + ", ".join(differing)
                                      + " differ from the stored ones"))
        return faults

    # -------------------------------------------------------------- reconciliations

    def _reconciliation(self, leaf: int, event: Any) -> Iterable[Fault]:
        faults = self.flush()  # it reads the batches before it
        self.reconciliations_checked += 1
        licence = self.licences.get(event.licence_id)
        if licence is None:
            return [*faults, self._fault(leaf, event, f"reconciliation of unknown licence "
                                                      f"{event.licence_id}")]
        start, end = event.period_start, event.period_end
        if event.licence_version > licence.version or \
                event.licence_version not in licence.inactive:
            faults.append(self._fault(leaf, event, f"licence version {event.licence_version} "
                                                   "it read is not in the log before it"))
        spans = licence.inactive.get(event.licence_version, [])
        excluded = [(epoch_ceil(a), NTIME_NEVER if b is None else epoch_ceil(b))
                    for a, b in spans]
        windows = network_windows(self.policy, start, end, max_version=event.policy_version)
        cuts = [w.low for w in windows] + [windows[-1].high]
        parts = [WorkTally() for _ in windows]
        not_active = blocks = 0
        batch_refs: list[str] = []
        for sequence in range(event.batches_read):
            if sequence not in licence.batches:
                faults.append(self._fault(leaf, event, f"proof batch number {sequence} it "
                                                       "read is not in the log before it"))
                continue
            batch_id, shares = licence.batches[sequence]
            credit = shares.credit(cuts, excluded)
            for i, part in enumerate(credit.tallies):
                parts[i] += part
            not_active += credit.not_active
            blocks += credit.blocks
            if credit.counts:
                batch_refs.append(f"{batch_id}:1")
        evidence = event.evidence
        if batch_refs != list(evidence.get("proof_batches", [])):
            faults.append(self._fault(leaf, event, "the proof batches it counts differ from "
                                                   "its evidence"))
        reports = self._entries(leaf, event, evidence.get("output_reports", []),
                                self.reports, faults)
        readings = self._entries(leaf, event, evidence.get("meter_readings", []),
                                 self.readings, faults)
        reported, _ = period_sum((r for r in reports if r.asset == event.asset), start, end)
        metered, _ = period_sum(readings, start, end)
        sold = self._sold(leaf, event, licence.state.participant_id,
                          evidence.get("trades", []), faults)
        known_policy = self.policy.version if self.policy is not None else 0
        if event.policy_version > known_policy:
            faults.append(self._fault(leaf, event, f"policy version {event.policy_version} it "
                                                   f"read is not in the log before it"))
        capacities = licence.capacities_at(event.licence_version)
        if not capacities:
            return [*faults, self._fault(leaf, event, "no licence capacity at the version "
                                                      "it read")]
        pool_id = licence.state.pool_id
        pool = None if pool_id is None else self.pools.get(pool_id)
        if pool_id is not None and pool is None:
            faults.append(self._fault(leaf, event, f"pool {pool_id} of the licence is not "
                                                   "in the log before it"))
        mw, jth, cap = licensed_over(capacities, spans, start, end)
        inputs = PeriodInputs(
            start, end, sum(parts, WorkTally()), mw, jth,
            policy_inputs(self.policy, end - ONE_MICROSECOND,
                          max_version=event.policy_version),
            reported, metered, capacity_ths=cap,
            network=tuple(zip(windows, parts, strict=True)),
            report_missing=reported is None, pool=pool_terms(pool), sold=sold,
            shares_not_active=not_active, proved_blocks=blocks)
        try:
            computed = compute(inputs)
        except (ValueError, ArithmeticError) as e:
            return [*faults, self._fault(leaf, event, f"cannot be recomputed: {e}")]
        verdicts = [v.value for v in computed.verdicts]
        if verdicts != list(event.verdicts):
            faults.append(self._fault(leaf, event, f"verdicts differ: recomputed {verdicts}, "
                                                   f"stored {list(event.verdicts)}"))
        stored_checks = [(c.get("verdict"), c.get("triggered")) for c in event.checks]
        recomputed_checks = [(c.verdict.value, c.triggered) for c in computed.checks]
        if stored_checks != recomputed_checks:
            faults.append(self._fault(leaf, event, "recorded checks differ from the "
                                                   "recomputed ones"))
        figures = figures_of(inputs, computed)
        names = [*EXACT_FIGURES, *sorted({n for n in (*figures, *event.figures)
                                          if n.startswith("span_")})]
        differing = [name for name in names
                     if _number(figures.get(name)) != _number(event.figures.get(name))]
        if differing:
            faults.append(self._fault(leaf, event, "figures differ: " + ", ".join(
                f"{n} recomputed {figures.get(n)} stored {event.figures.get(n)}"
                for n in differing)))
        return faults

    def _sold(self, leaf: int, event: Any, seller: UUID, refs: Iterable[str],
              faults: list[Fault]) -> Decimal:
        """Returns the quantity of the trades ``refs`` (each must be a recorded sale of
        the asset by ``seller`` inside the period, before the event in the log)."""
        total = Decimal(0)
        for ref in refs:
            sale = self.sales.get(ref)
            if sale is None or sale[0] != seller or sale[1].asset != event.asset or \
                    not event.period_start <= sale[1].at < event.period_end:
                faults.append(self._fault(leaf, event, f"evidence {ref} is not a sale by the "
                                                       "licence holder in the period before it"))
                continue
            total += sale[1].quantity
        return total

    def _entries(self, leaf: int, event: Any, refs: Iterable[str],
                 known: Mapping[str, tuple[UUID, PeriodEntry]],
                 faults: list[Fault]) -> list[PeriodEntry]:
        entries = []
        for ref in refs:
            found = known.get(ref)
            if found is None or found[0] != event.licence_id:
                faults.append(self._fault(leaf, event, f"evidence {ref} is not a record of "
                                                       f"licence {event.licence_id} before it"))
                continue
            entries.append(found[1])
        return entries


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class EnvelopeCheck:
    """Re-checks every stored signed envelope against the signer's key valid at the
    event's own time (keys as registered in the log before the event), and every
    registered key by the rule the ledger registers keys by
    (``ledger.signatures.usable_public_key``).

    Proof batches and output reports are checked; trades only with ``trades=True``: one
    Ed25519 verification (about 50 µs) per trade would dominate a replay of millions.
    """

    name = "envelopes"

    def __init__(self, trades: bool = False) -> None:
        self.keys: dict[UUID, dict[str, SigningKey]] = {}
        self.exchange_holders: dict[UUID, UUID] = {}
        self.checked = 0
        self.verifier = EnvelopeVerifier(SignatureChecker())
        handlers: dict[Any, Callable[[int, Any], Iterable[Fault]]] = {
            cast(Any, Participant).KeyRegistered: self._key_registered,
            cast(Any, Participant).KeyRevoked: self._key_revoked,
            cast(Any, ProofBatch).Verified: self._signed_by_participant,
            cast(Any, OutputReport).Reported: self._signed_by_participant,
        }
        if trades:
            handlers[cast(Any, ExchangeLicence).Granted] = self._exchange_granted
            handlers[cast(Any, Trade).Recorded] = self._trade
            handlers[cast(Any, Trade).Blocked] = self._trade
        self._handlers = handlers
        self.watches: tuple[type, ...] = tuple(handlers)
        """The events ``observe`` looks at."""

    def observe(self, leaf_index: int, event: Any) -> Iterable[Fault]:
        """Returns the fault of one event's envelope, if any."""
        handler = self._handlers.get(type(event))
        return handler(leaf_index, event) if handler is not None else ()

    def finish(self, aggregates: Mapping[Any, Any]) -> Iterable[Fault]:
        """Returns no faults: every envelope is checked in log order."""
        return ()

    def _key_registered(self, leaf: int, event: Any) -> Iterable[Fault]:
        public_key = bytes.fromhex(event.public_key)
        self.keys.setdefault(event.originator_id, {})[event.key_id] = SigningKey(
            event.key_id, public_key, event.at)
        if usable_public_key(public_key):
            return ()
        # Registered before the ledger refused such keys (ledger.keys.register_key): every
        # envelope under it is refused as well, and reported at its own event.
        return [Fault(FaultKind.UNUSABLE_KEY,
                      f"key {event.key_id!r} of participant {event.originator_id} is not "
                      "a point of the curve's prime-order group: no private key made it",
                      leaf, event=_ref(event))]

    def _key_revoked(self, _leaf: int, event: Any) -> Iterable[Fault]:
        key = self.keys.get(event.originator_id, {}).get(event.key_id)
        if key is not None:
            key.revoked_at = event.at
        return ()

    def _exchange_granted(self, _leaf: int, event: Any) -> Iterable[Fault]:
        self.exchange_holders[event.originator_id] = event.participant_id
        return ()

    def _trade(self, leaf: int, event: Any) -> Iterable[Fault]:
        holder = self.exchange_holders.get(event.exchange_licence_id)
        return self._check(leaf, event, holder, getattr(event, "envelope", None))

    def _signed_by_participant(self, leaf: int, event: Any) -> Iterable[Fault]:
        return self._check(leaf, event, event.participant_id,
                           getattr(event, "envelope", None))

    def _check(self, leaf: int, event: Any, participant: UUID | None,
               record: Mapping[str, str] | None) -> Iterable[Fault]:
        if not record:
            return ()
        self.checked += 1
        try:
            envelope = Envelope.from_record(record)
        except LedgerError as e:
            return [Fault(FaultKind.ENVELOPE_INVALID, f"stored envelope unreadable: {e}",
                          leaf, event=_ref(event))]
        keys = self.keys.get(participant, {}) if participant is not None else {}
        signer = participant if participant is not None else UUID(int=0)
        # The ledger's own check: the key valid at the client's time and when recorded.
        refusal = self.verifier.refusals(
            [Signed(envelope, signer, keys, event.at, event.recorded_at)])[0]
        if refusal is None:
            return ()
        return [Fault(FaultKind.ENVELOPE_INVALID,
                      f"{refusal.rule}: envelope of participant {participant}: "
                      f"{refusal.message}", leaf, event=_ref(event))]
