"""The ledger: one eventsourcing Application, so the whole national record has one order.

``Ledger`` is a thin facade. It owns the store (persistence, the cache of rule inputs,
the read models) and the clock, and hands each command to the one use case that decides
and saves it:

=====================  ====================================================
``Licensing``          participants and licences (the regulator's decisions)
``Keys``               signing keys; ``EnvelopeVerifier`` checks signed envelopes
``Trading``            trades, recorded or blocked
``ProofSubmission``    proof batches
``Reconciliations``    closing a licence's period
``OutputReports``      miners' output reports
``MeterReadings``      the grid operator's meter readings
``Policies``           versioned policy
``Alerts``             raising, resolving and listing alerts
``Screening``          sanctions / PEP list versions and name matching
``Vasps``              the registry of counterparty VASPs
``SupervisoryCalendar`` expiries, report deadlines, period closes on time
=====================  ====================================================

The module is long because it is that facade: one short method per command (each a
line of delegation with its docstring) beside the store's plumbing (save, reads shared
with the cache, the store check); no rule lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from copy import deepcopy
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    MutableOrImmutableAggregate,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate, DomainEventProtocol
from eventsourcing.persistence import (
    DatabaseError,
    MapperDeserialisationError,
    Recording,
)

from ledger.alerts import Alerts
from ledger.cache import HOT_AGGREGATES_MAXSIZE, HotAggregateCache, LatestVersions
from ledger.clock import Clock, system_clock
from ledger.config import CIPHER_KEY_SOURCES, StoreConfig
from ledger.domain.alert import Alert, AlertState
from ledger.domain.envelope import Envelope
from ledger.domain.licence import ExchangeLicence, Licence, MiningLicence
from ledger.domain.participant import Participant
from ledger.domain.policy import POLICY_ID, Policy, PolicyView
from ledger.domain.pool import MiningPool
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.domain.screening import ImportedList
from ledger.domain.trade import TradeRequest
from ledger.domain.vasp import Vasp
from ledger.errors import NotFound, StoreKeyError, StoreUnavailable
from ledger.indexes import AlertIndex, LicenceIndex, PoolIndex, VaspIndex
from ledger.keys import EnvelopeVerifier, Keys
from ledger.licensing import Licensing
from ledger.metering import MeterReadings
from ledger.policies import Policies
from ledger.pools import Pools
from ledger.proof_figures import DEFAULT_ASSET
from ledger.proof_index import ProofIndex
from ledger.proofs import ProofSubmission
from ledger.receipts import ProofReceipt, Receipt, TradeReceipt, TradeStatus
from ledger.reconciliations import Reconciliations
from ledger.reports import OutputReports
from ledger.request_index import rebuild as rebuild_request_index
from ledger.request_index import trades_of_requests
from ledger.requests import GRID, REGULATOR
from ledger.screening import Screening
from ledger.signatures import SignatureChecker
from ledger.str_report import build_report
from ledger.supervision import ObligationIndex, SupervisoryCalendar, leadership_for
from ledger.trading import TradeBlocked, Trading
from ledger.validation import required_time
from ledger.vasps import Vasps

A = TypeVar("A", bound=Aggregate)


class Ledger(Application[UUID]):
    """Every aggregate of valedger in one application: one log, one total order.

    Commands take a client ``request_id`` (scoped to the requester: a retry with the
    same payload returns the first result, another payload is REQUEST_ID_REUSED) and
    ``at``, the client's UTC time of the event (default: the server's). Every event also
    carries ``recorded_at`` from the ledger's ``clock``.
    """

    name = "valedger"

    def __init__(self, config: StoreConfig | None = None,
                 env: dict[str, str] | None = None, clock: Clock | None = None,
                 signatures: SignatureChecker | None = None) -> None:
        self.config = config or StoreConfig.from_environment()
        merged = self.config.eventsourcing_env()
        merged.update(env or {})
        super().__init__(env=merged)
        self.clock: Clock = clock or system_clock
        self.signatures = signatures or SignatureChecker()
        self.listeners: list[Callable[[list[Recording[UUID]]], None]] = []
        self.latest_versions = self.construct_latest_versions()
        self.licence_index = self.construct_licence_index()
        self.alert_index = self.construct_alert_index()
        self.vasp_index = VaspIndex(self)
        self.proof_index = self.construct_proof_index()
        self.envelopes = EnvelopeVerifier(self.signatures)
        self.screening = Screening(self, self.clock)
        self.licensing = Licensing(self, self.clock, self.licence_index, self.screening)
        self.keys = Keys(self, self.clock)
        self.trading = self.construct_trading()
        self.proofs = self.construct_proof_submission()
        self.reconciliations = Reconciliations(self, self.clock, self.proof_index)
        self.reports = OutputReports(self, self.clock, self.envelopes)
        self.meter_readings = MeterReadings(self, self.clock, self.licence_index)
        self.policies = Policies(self, self.clock)
        self.alerts = Alerts(self, self.clock, self.alert_index)
        self.vasps = Vasps(self, self.clock, self.vasp_index)
        self.calendar = self.construct_calendar()
        self.pools = Pools(self, self.clock, PoolIndex(self))
        try:
            self.check_store()
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------- construction hooks

    def construct_env(self, name: str, env: Any = None) -> Any:
        # The store is configured by StoreConfig alone: ambient POSTGRES_* or
        # PERSISTENCE_MODULE variables must not redirect a ledger to another store.
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    def construct_repository(self) -> Repository[UUID]:
        # Rule inputs (participants, licences, policy, outflow accounts) are cached and
        # brought up to date from the store on each read, copy on write: see read_many.
        repository = super().construct_repository()
        if repository.cache is None:
            repository.cache = HotAggregateCache(maxsize=HOT_AGGREGATES_MAXSIZE)
            repository.fastforward = False
        return repository

    def construct_latest_versions(self) -> LatestVersions:
        """Returns the one-query check of cached aggregates against the store."""
        return LatestVersions(self.recorder)

    def construct_licence_index(self) -> LicenceIndex:
        """Returns the read model of licences by participant and meter."""
        return LicenceIndex(self)

    def construct_alert_index(self) -> AlertIndex:
        """Returns the read model of alerts."""
        return AlertIndex(self)

    def construct_proof_index(self) -> ProofIndex:
        """Returns the read model of proof batches, reports and readings by licence."""
        return ProofIndex(self)

    def construct_calendar(self) -> SupervisoryCalendar:
        """Returns the supervisory calendar (run by ``valedger serve``; tests run it by
        hand with ``calendar.run_due()``)."""
        return SupervisoryCalendar(self, self.clock, self.licence_index,
                                   ObligationIndex(self), self.licensing, self.alerts,
                                   self.reconciliations, leadership_for(self.recorder))

    def construct_trading(self) -> Trading:
        """Returns the trade use case (tests override it to count decisions)."""
        return Trading(self, self.clock, self.envelopes, self.screening)

    def construct_proof_submission(self) -> ProofSubmission:
        """Returns the proof-batch use case (tests override it to make writers race)."""
        return ProofSubmission(self, self.clock, self.proof_index, self.envelopes)

    # ------------------------------------------------------------------------- plumbing

    def save(self, *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
             **kwargs: Any) -> list[Recording[UUID]]:
        """Returns the recordings of the pending events of ``objs``, as Application.save.

        eventsourcing collects events by testing each object against runtime-checkable
        Protocols, which costs about 50 µs an aggregate on Python 3.11: a sixth of a
        batched trade's whole budget. Aggregates are collected here with a plain class
        check; anything else goes through eventsourcing's own collection.
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # eventsourcing's deprecated hook, kept
        return recordings

    def close(self) -> None:
        """Stops the signature workers (if any) and closes the store."""
        self.signatures.close()
        super().close()

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        # eventsourcing calls this after every successful save: tell the listeners (the
        # server's metrics) what this process recorded.
        for listener in self.listeners:
            listener(recordings)

    def check_store(self) -> None:
        """Raises StoreUnavailable or StoreKeyError unless the store can be used.

        Reading the first stored event at start makes a missing schema or a wrong cipher
        key fail when the ledger opens, not at some later command.
        """
        try:
            first = self.recorder.select_notifications(start=None, limit=1)
        except DatabaseError as error:
            raise StoreUnavailable(
                f"cannot query the store {self.config.url_for_display}: {error} (if its "
                "tables do not exist yet, create them once with `valedger db init --db URL`)"
            ) from error
        for notification in first:
            self.decode(notification)

    def decode(self, stored: Any) -> Any:
        """Returns the domain event of a stored event, or raises StoreKeyError."""
        try:
            return self.mapper.to_domain_event(stored)
        except MapperDeserialisationError as error:
            raise self.unreadable(error) from error

    def unreadable(self, error: Exception) -> StoreKeyError:
        """Returns the error that says why stored event state could not be read."""
        if self.config.cipher_key:
            why = ("the configured cipher key is not the key its events were encrypted "
                   "with (or the store is not encrypted)")
        else:
            why = (f"its events are encrypted (or damaged) and no cipher key is configured "
                   f"(give {CIPHER_KEY_SOURCES})")
        return StoreKeyError(f"cannot read the store {self.config.url_for_display}: {why}; "
                             f"{error.__cause__ or error}")

    def find(self, aggregate_id: UUID) -> Any | None:
        """Returns a private copy of the current aggregate (the caller may change it),
        or None when nothing has that id."""
        current = self.read_many((aggregate_id,))[aggregate_id]
        return None if current is None else deepcopy(current)

    def read_many(self, aggregate_ids: Collection[UUID]) -> dict[UUID, Any | None]:
        """Returns the current aggregate of each id (None when nothing has it), shared with
        the cache: the caller only reads them, never changes them.

        One query asks the store for the latest version of every id. A cached aggregate
        that is current is returned as it is; one that moved is brought up to date on a
        *copy*, which then replaces it in the cache (copy on write), so a reader holding
        the old object never sees it change under it.
        """
        cache = self.repository.cache
        assert cache is not None
        latest = self.latest_versions(aggregate_ids)
        found: dict[UUID, Any | None] = {}
        for aggregate_id in aggregate_ids:
            version = latest.get(aggregate_id)
            if version is None:
                found[aggregate_id] = None
                continue
            try:
                cached = cache.get(aggregate_id)
            except KeyError:
                cached = None
            if cached is not None and cached.version == version:
                found[aggregate_id] = cached
                continue
            try:
                current = self._brought_up_to(aggregate_id, cached, version)
            except AggregateNotFoundError:
                found[aggregate_id] = None
                continue
            except MapperDeserialisationError as error:
                raise self.unreadable(error) from error
            cache.put(aggregate_id, current)
            found[aggregate_id] = current
        return found

    def stored_versions(self, aggregate_ids: Collection[UUID]) -> dict[UUID, int]:
        """Returns the latest stored version of each id that has events (one query)."""
        return self.latest_versions(aggregate_ids)

    def trades_of_requests(self, requester: str, request_ids: Collection[str]
                           ) -> dict[str, UUID]:
        """Returns the trade each of a requester's request ids made, for those used
        before (one query)."""
        return trades_of_requests(self.recorder, requester, request_ids)

    def rebuild_request_index(self) -> int:
        """Adds the trade request index's missing rows from the stored trades (after a
        restore, or on a store written before the index); returns how many."""
        return rebuild_request_index(self.recorder, self.decode)

    def _brought_up_to(self, aggregate_id: UUID, cached: Any | None, version: int) -> Any:
        """Returns a new object of the aggregate at ``version``: a copy of ``cached`` with
        the later events applied, or (nothing cached) rebuilt from the store."""
        if cached is None or cached.version > version:
            return self.repository.get(aggregate_id, version=version)
        current = deepcopy(cached)
        for event in self.events.get(aggregate_id, gt=cached.version, lte=version):
            current = cast(Any, event).mutate(current)
        return current

    def cached_holder(self, licence_id: UUID) -> UUID | None:
        """Returns the participant a cached licence belongs to, or None when the licence
        is not cached (a licence never changes hands, so no store read is needed)."""
        assert self.repository.cache is not None
        try:
            licence = self.repository.cache.get(licence_id)
        except KeyError:
            return None
        return licence.participant_id if isinstance(licence, Licence) else None

    def read_typed(self, aggregate_id: UUID, cls: type[A], kind: str) -> A:
        """Returns the aggregate of type ``cls`` shared with the cache (to read, never to
        change), or raises NotFound."""
        aggregate = self.read_many((aggregate_id,))[aggregate_id]
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def get_typed(self, aggregate_id: UUID, cls: type[A], kind: str) -> A:
        """Returns a private copy of the aggregate of type ``cls``, or raises NotFound."""
        aggregate = self.find(aggregate_id)
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def aggregate_at(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """Returns a private copy of an aggregate as it is now, or as it was at
        ``version``; raises NotFound."""
        if version is None:
            current = self.find(aggregate_id)
            if current is None:
                raise NotFound("aggregate", aggregate_id)
            return current
        try:
            return self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound("aggregate", aggregate_id) from None
        except MapperDeserialisationError as error:
            raise self.unreadable(error) from error

    def policy_at(self, at: datetime) -> PolicyView:
        """Returns the policy in force at ``at``."""
        return PolicyView(cast(Policy | None, self.read_many((POLICY_ID,))[POLICY_ID]), at)

    # ------------------------------------------------------------------ participants

    def register_participant(self, request_id: str, kind: str, legal_name: str, tax_id: str,
                             country: str, beneficial_owners: Iterable[str] = (),
                             offshore_links: Iterable[str] = (),
                             at: datetime | None = None) -> Receipt:
        """Registers a participant (``Licensing.register_participant``)."""
        return self.licensing.register_participant(request_id, kind, legal_name, tax_id,
                                                   country, beneficial_owners,
                                                   offshore_links, at)

    def approve_participant(self, request_id: str, participant_id: UUID,
                            at: datetime | None = None) -> Receipt:
        """Approves a registered participant."""
        return self.licensing.approve_participant(request_id, participant_id, at)

    def suspend_participant(self, request_id: str, participant_id: UUID, reason: str,
                            until: datetime | None = None,
                            at: datetime | None = None) -> Receipt:
        """Suspends a participant from ``at`` until ``until`` (or until reinstated)."""
        return self.licensing.suspend_participant(request_id, participant_id, reason, until,
                                                  at)

    def reinstate_participant(self, request_id: str, participant_id: UUID,
                              at: datetime | None = None) -> Receipt:
        """Ends a participant's current suspension."""
        return self.licensing.reinstate_participant(request_id, participant_id, at)

    def deregister_participant(self, request_id: str, participant_id: UUID, reason: str,
                               at: datetime | None = None) -> Receipt:
        """Deregisters a participant for good."""
        return self.licensing.deregister_participant(request_id, participant_id, reason, at)

    def register_key(self, request_id: str, participant_id: UUID, key_id: str,
                     public_key: bytes, at: datetime | None = None,
                     requester: str = REGULATOR) -> Receipt:
        """Registers an Ed25519 public key (``Keys.register_key``)."""
        return self.keys.register_key(request_id, participant_id, key_id, public_key, at,
                                      requester)

    def revoke_key(self, request_id: str, participant_id: UUID, key_id: str,
                   at: datetime | None = None, requester: str = REGULATOR) -> Receipt:
        """Revokes a participant's key from ``at`` on."""
        return self.keys.revoke_key(request_id, participant_id, key_id, at, requester)

    def get_participant(self, participant_id: UUID) -> Participant:
        """Returns a participant, or raises NotFound."""
        return self.get_typed(participant_id, Participant, "participant")

    # -------------------------------------------------------------------- licences

    def grant_mining_licence(self, request_id: str, participant_id: UUID, region: str,
                             grid_zone: str, meter_id: str, power_mw: Decimal | str,
                             efficiency_jth: Decimal | str, coinbase_tags: Iterable[str],
                             valid_from: datetime, valid_until: datetime,
                             at: datetime | None = None, mode: str = "SOLO",
                             pool_id: UUID | None = None) -> Receipt:
        """Grants a mining licence (``Licensing.grant_mining_licence``), SOLO or in an
        accredited POOL."""
        return self.licensing.grant_mining_licence(
            request_id, participant_id, region, grid_zone, meter_id, power_mw,
            efficiency_jth, coinbase_tags, valid_from, valid_until, at, mode, pool_id)

    def register_pool(self, request_id: str, name: str, country: str, payout_scheme: str,
                      fee: Decimal | str, at: datetime | None = None) -> Receipt:
        """Accredits a mining pool (``Pools.register``)."""
        return self.pools.register(request_id, name, country, payout_scheme, fee, at)

    def get_pool(self, pool_id: UUID) -> MiningPool:
        """Returns an accredited pool, or raises NotFound."""
        return self.get_typed(pool_id, MiningPool, "mining pool")

    def list_pools(self) -> list[MiningPool]:
        """Returns every accredited pool, in registration order."""
        found = self.read_many(self.pools.list())
        return [deepcopy(pool) for pool in found.values() if isinstance(pool, MiningPool)]

    def amend_mining_capacity(self, request_id: str, licence_id: UUID,
                              power_mw: Decimal | str, efficiency_jth: Decimal | str,
                              effective_from: datetime | None = None,
                              at: datetime | None = None) -> Receipt:
        """Amends licensed power and declared efficiency from ``effective_from`` on."""
        return self.licensing.amend_mining_capacity(request_id, licence_id, power_mw,
                                                    efficiency_jth, effective_from, at)

    def grant_exchange_licence(self, request_id: str, participant_id: UUID,
                               services: Iterable[str], valid_from: datetime,
                               valid_until: datetime, at: datetime | None = None) -> Receipt:
        """Grants a licence to operate as a virtual-asset service provider."""
        return self.licensing.grant_exchange_licence(request_id, participant_id, services,
                                                     valid_from, valid_until, at)

    def suspend_licence(self, request_id: str, licence_id: UUID, reason: str,
                        until: datetime | None = None, at: datetime | None = None) -> Receipt:
        """Suspends a licence from ``at`` until ``until`` (or until reinstated)."""
        return self.licensing.suspend_licence(request_id, licence_id, reason, until, at)

    def reinstate_licence(self, request_id: str, licence_id: UUID,
                          at: datetime | None = None) -> Receipt:
        """Ends a licence's current suspension."""
        return self.licensing.reinstate_licence(request_id, licence_id, at)

    def revoke_licence(self, request_id: str, licence_id: UUID, reason: str,
                       at: datetime | None = None) -> Receipt:
        """Revokes a licence for good."""
        return self.licensing.revoke_licence(request_id, licence_id, reason, at)

    def renew_licence(self, request_id: str, licence_id: UUID, valid_until: datetime,
                      at: datetime | None = None) -> Receipt:
        """Renews a licence for a new term (``Licensing.renew_licence``); returns the
        successor licence's receipt."""
        return self.licensing.renew_licence(request_id, licence_id, valid_until, at)

    def expire_licences(self, request_id: str, at: datetime | None = None) -> list[Receipt]:
        """Records ``Expired`` for every licence whose validity ended by ``at``."""
        return self.licensing.expire_licences(request_id, at)

    def get_licence(self, licence_id: UUID) -> Licence:
        """Returns a mining or exchange licence, or raises NotFound."""
        return self.get_typed(licence_id, Licence, "licence")

    def get_mining_licence(self, licence_id: UUID) -> MiningLicence:
        """Returns a mining licence, or raises NotFound."""
        return self.get_typed(licence_id, MiningLicence, "mining licence")

    def get_exchange_licence(self, licence_id: UUID) -> ExchangeLicence:
        """Returns an exchange licence, or raises NotFound."""
        return self.get_typed(licence_id, ExchangeLicence, "exchange licence")

    def list_licences(self, participant_id: UUID | None = None,
                      kind: type[Licence] = Licence) -> list[Licence]:
        """Returns licences in grant order, optionally of one participant or kind."""
        found = self.read_many(self.licence_index.all_ids(participant_id))
        return [deepcopy(lic) for lic in found.values() if isinstance(lic, kind)]

    # -------------------------------------------------------- mining: reports, proofs

    def report_output(self, request_id: str, licence_id: UUID, period_start: datetime,
                      period_end: datetime, asset: str, amount_mined: Decimal | str,
                      wallets: Iterable[str], sold_through_exchange: Decimal | str,
                      at: datetime | None = None, envelope: Envelope | None = None) -> Receipt:
        """Records a miner's output report (``OutputReports.report_output``)."""
        return self.reports.report_output(request_id, licence_id, period_start, period_end,
                                          asset, amount_mined, wallets,
                                          sold_through_exchange, at, envelope)

    def record_meter_reading(self, request_id: str, meter_id: str, period_start: datetime,
                             period_end: datetime, kwh: Decimal | str,
                             at: datetime | None = None, requester: str = GRID) -> Receipt:
        """Records a site meter reading (``MeterReadings.record_meter_reading``)."""
        return self.meter_readings.record_meter_reading(request_id, meter_id, period_start,
                                                        period_end, kwh, at, requester)

    def submit_proof_batch(self, request_id: str, licence_id: UUID,
                           batch: str | bytes | Mapping[str, Any] | Envelope,
                           at: datetime | None = None, backend: str | None = None,
                           envelope: Envelope | None = None) -> ProofReceipt:
        """Verifies a proof batch and records ``ProofBatch.Verified``; returns its receipt.

        ``batch`` is the JSON batch of DESIGN.md §4 (text, bytes or decoded), or an
        Envelope whose payload is that JSON (payload type JSON_BATCH_PAYLOAD_TYPE);
        ``envelope`` is the signed form it arrived in when that is something else. A
        given envelope is checked by ``EnvelopeVerifier`` and stored. The licence and its
        holder must be active at ``at`` and when recorded (else RuleViolation, and an
        alert records the refused attempt); a malformed batch raises InvalidRequest
        naming the field and records nothing. ``backend`` forces ``auto``/``cpu``/``cuda``.
        """
        return self.proofs.submit(request_id, licence_id, batch, at=at, backend=backend,
                                  envelope=envelope)

    def get_proof_batch(self, batch_id: UUID) -> ProofBatch:
        """Returns a recorded proof batch, or raises NotFound."""
        return self.get_typed(batch_id, ProofBatch, "proof batch")

    def close_reconciliation(self, request_id: str, licence_id: UUID,
                             period_start: datetime, period_end: datetime,
                             at: datetime | None = None,
                             asset: str = DEFAULT_ASSET) -> Receipt:
        """Reconciles a mining licence over [period_start, period_end) (DESIGN.md §5) and
        records ``Reconciliation.Closed`` with one ``Alert`` per failing verdict; the
        period must have ended by the server's time (PERIOD_NOT_ENDED)."""
        return self.reconciliations.close(request_id, licence_id, period_start, period_end,
                                           at=at, asset=asset)

    def get_reconciliation(self, reconciliation_id: UUID) -> Reconciliation:
        """Returns a closed reconciliation, or raises NotFound."""
        return self.get_typed(reconciliation_id, Reconciliation, "reconciliation")

    def find_reconciliation(self, licence_id: UUID, period_start: datetime,
                            period_end: datetime) -> Reconciliation:
        """Returns the reconciliation of a licence for one period, or raises NotFound."""
        return self.get_reconciliation(Reconciliation.create_id(
            licence_id, required_time(period_start, "period.start_time"),
            required_time(period_end, "period.end_time")))

    def list_reconciliations(self, licence_id: UUID | None = None) -> list[Reconciliation]:
        """Returns closed reconciliations in closing order, optionally of one licence."""
        return [self.get_reconciliation(i)
                for i in self.proof_index.reconciliation_ids(licence_id)]

    # ------------------------------------------------------------------------- trades

    def record_trade(self, request: TradeRequest) -> TradeReceipt:
        """Records one trade; raises TradeBlocked (after recording it) when a rule blocks it."""
        receipt = self.record_trades([request])[0]
        if receipt.status is TradeStatus.BLOCKED:
            raise TradeBlocked(receipt)
        return receipt

    def record_trades(self, requests: Sequence[TradeRequest]) -> list[TradeReceipt]:
        """Records many trades in one transaction (``Trading.record_trades``)."""
        return self.trading.record_trades(requests)

    # ------------------------------------------------------------------------- VASPs

    def register_vasp(self, request_id: str, name: str, country: str,
                      licence_id: UUID | None = None, foreign_registration: str = "",
                      travel_rule_endpoint: str = "", at: datetime | None = None) -> Receipt:
        """Registers a counterparty VASP (``Vasps.register_vasp``)."""
        return self.vasps.register_vasp(request_id, name, country, licence_id,
                                        foreign_registration, travel_rule_endpoint, at)

    def suspend_vasp(self, request_id: str, vasp_id: UUID, reason: str,
                     at: datetime | None = None) -> Receipt:
        """Suspends a VASP (``Vasps.suspend_vasp``)."""
        return self.vasps.suspend_vasp(request_id, vasp_id, reason, at)

    def reinstate_vasp(self, request_id: str, vasp_id: UUID,
                       at: datetime | None = None) -> Receipt:
        """Ends a VASP's suspension (``Vasps.reinstate_vasp``)."""
        return self.vasps.reinstate_vasp(request_id, vasp_id, at)

    def get_vasp(self, vasp_id: UUID) -> Vasp:
        """Returns a registered VASP, or raises NotFound."""
        return self.vasps.get_vasp(vasp_id)

    def list_vasps(self, country: str | None = None) -> list[Vasp]:
        """Returns registered VASPs in registration order."""
        return self.vasps.list_vasps(country)

    # -------------------------------------------------------------------- screening

    def import_screening_list(self, request_id: str, content: bytes | str,
                              at: datetime | None = None) -> Receipt:
        """Imports a sanctions / PEP list file as a new version of its source
        (``Screening.import_list``)."""
        return self.screening.import_list(request_id, content, at)

    def screening_lists(self) -> list[ImportedList]:
        """Returns the version of each list source in force."""
        return self.screening.lists()

    # ---------------------------------------------------------------- policy & alerts

    def set_policy(self, request_id: str, parameter: str, value: str,
                   effective_from: datetime | None = None,
                   at: datetime | None = None) -> Receipt:
        """Sets a policy parameter from ``effective_from`` (default: now) on."""
        return self.policies.set_policy(request_id, parameter, value, effective_from, at)

    def get_policy(self, parameter: str, at: datetime | None = None) -> str:
        """Returns the value of a parameter in force at ``at`` (default: now)."""
        return self.policies.get_policy(parameter, at)

    def raise_alert(self, request_id: str, kind: str, subject_id: UUID,
                    participant_id: UUID | None, message: str, evidence: Iterable[str],
                    figures: dict[str, str], at: datetime | None = None) -> Receipt:
        """Raises an alert about ``subject_id`` (idempotent per request, kind and subject)."""
        return self.alerts.raise_alert(request_id, kind, subject_id, participant_id, message,
                                       evidence, figures, at)

    def assign_alert(self, request_id: str, alert_id: UUID, by: str, assignee: str,
                     at: datetime | None = None) -> Receipt:
        """Assigns an open alert to an analyst (``Alerts.assign_alert``)."""
        return self.alerts.assign_alert(request_id, alert_id, by, assignee, at)

    def set_alert_severity(self, request_id: str, alert_id: UUID, by: str, severity: str,
                           note: str, at: datetime | None = None) -> Receipt:
        """Sets an open alert's severity (``Alerts.set_severity``)."""
        return self.alerts.set_severity(request_id, alert_id, by, severity, note, at)

    def escalate_alert(self, request_id: str, alert_id: UUID, by: str, to: str, note: str,
                       at: datetime | None = None) -> Receipt:
        """Escalates an open alert (``Alerts.escalate_alert``)."""
        return self.alerts.escalate_alert(request_id, alert_id, by, to, note, at)

    def resolve_alert(self, request_id: str, alert_id: UUID, by: str, note: str,
                      at: datetime | None = None, str_reference: str = "") -> Receipt:
        """Resolves an open alert with a note (``Alerts.resolve_alert``)."""
        return self.alerts.resolve_alert(request_id, alert_id, by, note, at, str_reference)

    def reopen_alert(self, request_id: str, alert_id: UUID, by: str, note: str,
                     at: datetime | None = None) -> Receipt:
        """Reopens a resolved alert (``Alerts.reopen_alert``)."""
        return self.alerts.reopen_alert(request_id, alert_id, by, note, at)

    def list_alerts(self, open_only: bool = False, participant_id: UUID | None = None,
                    state: AlertState | None = None,
                    assignee: str | None = None) -> list[Alert]:
        """Returns alerts in the order they were raised (``Alerts.list_alerts``)."""
        return self.alerts.list_alerts(open_only, participant_id, state, assignee)

    def suspicious_transaction_report(self, alert_ids: Sequence[UUID],
                                      reporting_officer: str) -> bytes:
        """Returns the STR document of the given alerts (``ledger.str_report``)."""
        return build_report(self, alert_ids, self.clock(), reporting_officer)
