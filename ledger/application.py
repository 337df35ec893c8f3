"""The ledger: one eventsourcing Application, so the whole national record has one order."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
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
    RecordConflictError,
    Recording,
)

from ledger.cache import HOT_AGGREGATES_MAXSIZE, HotAggregateCache, LatestVersions
from ledger.config import CIPHER_KEY_ENV, StoreConfig
from ledger.domain.alert import Alert
from ledger.domain.base import LedgerAggregate, utc
from ledger.domain.envelope import Envelope, check_envelope
from ledger.domain.licence import ExchangeLicence, Licence, MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.output_report import OutputReport
from ledger.domain.participant import Participant, ParticipantKind
from ledger.domain.policy import POLICY_ID, Policy, PolicyView, validate
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.domain.trade import Trade, TradeRequest
from ledger.errors import (
    InvalidRequest,
    NotFound,
    RuleViolation,
    StoreKeyError,
    StoreUnavailable,
    amount,
)
from ledger.indexes import AlertIndex, LicenceIndex
from ledger.proofs import DEFAULT_ASSET, ProofDesk
from ledger.receipts import ProofReceipt, Receipt, TradeReceipt, TradeStatus
from ledger.trading import (
    TradeBatch,
    TradeBlocked,
    TradeDesk,
    in_utc,
    replayed,
    trade_receipt,
    validate_trade,
)
from ledger.validation import (
    check_after,
    check_country,
    check_efficiency_floor,
    check_hex,
    check_request_id,
    check_text,
    event_time,
    non_negative,
    optional_time,
    positive,
)

A = TypeVar("A", bound=Aggregate)

MAX_CONFLICT_RETRIES = 20


class Ledger(Application[UUID]):
    """Every aggregate of valedger in one application: one log, one total order.

    Commands take a client ``request_id`` (a retry returns the first result and records
    nothing) and ``at``, the event's own UTC time (default: now); rule checks use ``at``.
    """

    name = "valedger"

    def __init__(self, config: StoreConfig | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.config = config or StoreConfig.from_environment()
        merged = self.config.eventsourcing_env()
        merged.update(env or {})
        super().__init__(env=merged)
        self.licences = self.construct_licence_index()
        self.alerts = self.construct_alert_index()
        self.desk = self.construct_trade_desk()
        self.listeners: list[Callable[[list[Recording[UUID]]], None]] = []
        self.latest_versions = self.construct_latest_versions()
        self.proofs = self.construct_proof_desk()
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
        # fast-forwarded from the store on each read: see ledger.cache.
        repository = super().construct_repository()
        if repository.cache is None:
            repository.cache = HotAggregateCache(maxsize=HOT_AGGREGATES_MAXSIZE)
            repository.fastforward = True
        return repository

    def construct_latest_versions(self) -> LatestVersions:
        """Returns the one-query check of cached aggregates against the store."""
        return LatestVersions(self.recorder)

    def construct_licence_index(self) -> LicenceIndex:
        """Returns the read model of licences by participant and meter."""
        return LicenceIndex(self)

    def construct_trade_desk(self) -> TradeDesk:
        """Returns the trade rules."""
        return TradeDesk()

    def construct_proof_desk(self) -> ProofDesk:
        """Returns the proof-batch verification and reconciliation logic (ledger.proofs)."""
        return ProofDesk(self)

    def construct_alert_index(self) -> AlertIndex:
        """Returns the read model of alerts."""
        return AlertIndex(self)

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
                   f"(set {CIPHER_KEY_ENV})")
        return StoreKeyError(f"cannot read the store {self.config.url_for_display}: {why}; "
                             f"{error.__cause__ or error}")

    def find(self, aggregate_id: UUID) -> Any | None:
        """Returns the current aggregate, or None when nothing has that id."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        except MapperDeserialisationError as error:
            raise self.unreadable(error) from error

    def read_many(self, aggregate_ids: Collection[UUID]) -> dict[UUID, Any | None]:
        """Returns the current aggregate of each id (None when nothing has it), shared with
        the cache: the caller only reads them, never changes them.

        One query asks the store for the latest version of every id; only aggregates
        that moved since they were cached (or were not cached) are then read one by one.
        """
        cache = self.repository.cache
        assert cache is not None
        latest = self.latest_versions(aggregate_ids)
        found: dict[UUID, Any | None] = {}
        for aggregate_id in aggregate_ids:
            if aggregate_id not in latest:
                found[aggregate_id] = None
                continue
            try:
                aggregate = cache.get(aggregate_id)
            except KeyError:
                aggregate = None
            if aggregate is not None and latest[aggregate_id] == aggregate.version:
                found[aggregate_id] = aggregate
                continue
            try:
                found[aggregate_id] = self.repository.get(aggregate_id,
                                                          deepcopy_from_cache=False)
            except AggregateNotFoundError:
                found[aggregate_id] = None
            except MapperDeserialisationError as error:
                raise self.unreadable(error) from error
        return found

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
        """Returns the aggregate of type ``cls``, or raises NotFound."""
        aggregate = self.find(aggregate_id)
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def retrying(self, attempt: Callable[[], Any]) -> Any:
        """Returns ``attempt()``, re-run after optimistic-concurrency conflicts."""
        for _ in range(MAX_CONFLICT_RETRIES - 1):
            try:
                return attempt()
            except RecordConflictError:
                continue
        return attempt()

    def _create(self, cls: type[LedgerAggregate], aggregate_id: UUID,
                build: Callable[[], Sequence[Aggregate]]) -> Receipt:
        """Creates an aggregate (plus companions) unless the request already did."""

        def attempt() -> Receipt:
            existing = self.find(aggregate_id)
            if existing is not None:
                if not isinstance(existing, cls):
                    raise InvalidRequest("request_id", "already used for another command")
                return Receipt(aggregate_id, 1, replayed=True)
            aggregates = build()
            self.save(*aggregates)
            return Receipt(aggregate_id, 1)

        return cast(Receipt, self.retrying(attempt))

    def _mutate(self, aggregate_id: UUID, cls: type[A], kind: str, request_id: str,
                change: Callable[[A], None]) -> Receipt:
        """Applies ``change`` to an aggregate unless ``request_id`` already did."""

        def attempt() -> Receipt:
            aggregate = self.get_typed(aggregate_id, cls, kind)
            seen = cast(LedgerAggregate, aggregate).version_of_request(request_id)
            if seen is not None:
                return Receipt(aggregate_id, seen, replayed=True)
            change(aggregate)
            self.save(aggregate)
            return Receipt(aggregate_id, aggregate.version)

        check_request_id(request_id)
        return cast(Receipt, self.retrying(attempt))

    def policy_at(self, at: datetime) -> PolicyView:
        """Returns the policy in force at ``at``."""
        return PolicyView(cast(Policy | None, self.find(POLICY_ID)), at)

    # ----------------------------------------------------------------- participants

    def register_participant(
        self,
        request_id: str,
        kind: str,
        legal_name: str,
        tax_id: str,
        country: str,
        beneficial_owners: Iterable[str] = (),
        offshore_links: Iterable[str] = (),
        at: datetime | None = None,
    ) -> Receipt:
        """Registers a participant; returns its receipt (id derived from the request id)."""
        check_request_id(request_id)
        if kind not in ParticipantKind.__members__:
            raise InvalidRequest("kind", f"must be ENTERPRISE or INDIVIDUAL, got {kind!r}")
        check_text("legal_name", legal_name)
        check_text("tax_id", tax_id)
        check_country("country", country)
        owners, links = list(beneficial_owners), list(offshore_links)
        when = event_time(at)

        def build() -> list[Aggregate]:
            return [Participant(request_id=request_id, at=when, kind=kind,
                                legal_name=legal_name.strip(), tax_id=tax_id.strip(),
                                country=country, beneficial_owners=owners,
                                offshore_links=links)]

        return self._create(Participant, Participant.create_id(request_id), build)

    def approve_participant(self, request_id: str, participant_id: UUID,
                            at: datetime | None = None) -> Receipt:
        """Approves a registered participant."""
        when = event_time(at)

        def change(p: Participant) -> None:
            if p.deregistered_at is not None:
                raise RuleViolation("PARTICIPANT_DEREGISTERED",
                                    f"participant {p.id} was deregistered")
            if p.approved_at is not None:
                raise RuleViolation("ALREADY_APPROVED", f"participant {p.id} is already approved")
            p.approve(request_id=request_id, at=when)

        return self._mutate(participant_id, Participant, "participant", request_id, change)

    def register_key(self, request_id: str, participant_id: UUID, key_id: str,
                     public_key: bytes, at: datetime | None = None) -> Receipt:
        """Registers an Ed25519 public key (32 bytes) the participant signs with."""
        check_text("key_id", key_id)
        if len(public_key) != 32:
            raise InvalidRequest("public_key", f"Ed25519 keys are 32 bytes, got {len(public_key)}")
        when = event_time(at)

        def change(p: Participant) -> None:
            if key_id in p.keys:
                raise RuleViolation("KEY_ID_IN_USE", f"key id {key_id!r} is already registered")
            p.register_key(request_id=request_id, at=when, key_id=key_id,
                           public_key=public_key.hex())

        return self._mutate(participant_id, Participant, "participant", request_id, change)

    def revoke_key(self, request_id: str, participant_id: UUID, key_id: str,
                   at: datetime | None = None) -> Receipt:
        """Revokes a participant's key from ``at`` on."""
        when = event_time(at)

        def change(p: Participant) -> None:
            key = p.keys.get(key_id)
            if key is None:
                raise NotFound("key", key_id)
            if key.revoked_at is not None:
                raise RuleViolation("KEY_ALREADY_REVOKED", f"key {key_id!r} is already revoked")
            p.revoke_key(request_id=request_id, at=when, key_id=key_id)

        return self._mutate(participant_id, Participant, "participant", request_id, change)

    def suspend_participant(self, request_id: str, participant_id: UUID, reason: str,
                            until: datetime | None = None,
                            at: datetime | None = None) -> Receipt:
        """Suspends a participant from ``at`` until ``until`` (or until reinstated)."""
        check_text("reason", reason)
        when, end = event_time(at), optional_time(until)
        check_after("until", end, when)
        return self._mutate(
            participant_id, Participant, "participant", request_id,
            lambda p: p.suspend(request_id=request_id, at=when, reason=reason, until=end))

    def reinstate_participant(self, request_id: str, participant_id: UUID,
                              at: datetime | None = None) -> Receipt:
        """Ends a participant's current suspension at ``at``."""
        when = event_time(at)

        def change(p: Participant) -> None:
            if p.suspensions.covering(when) is None:
                raise RuleViolation("NOT_SUSPENDED", f"participant {p.id} is not suspended")
            p.reinstate(request_id=request_id, at=when)

        return self._mutate(participant_id, Participant, "participant", request_id, change)

    def deregister_participant(self, request_id: str, participant_id: UUID, reason: str,
                               at: datetime | None = None) -> Receipt:
        """Deregisters a participant from ``at`` on."""
        check_text("reason", reason)
        when = event_time(at)

        def change(p: Participant) -> None:
            if p.deregistered_at is not None:
                raise RuleViolation("PARTICIPANT_DEREGISTERED", f"{p.id} is already deregistered")
            p.deregister(request_id=request_id, at=when, reason=reason)

        return self._mutate(participant_id, Participant, "participant", request_id, change)

    def get_participant(self, participant_id: UUID) -> Participant:
        """Returns a participant, or raises NotFound."""
        return self.get_typed(participant_id, Participant, "participant")

    # -------------------------------------------------------------------- licences

    def _require_active_participant(self, participant_id: UUID, at: datetime) -> Participant:
        participant = self.get_participant(participant_id)
        standing = participant.standing_at(at)
        if standing is not None:
            raise RuleViolation("PARTICIPANT_NOT_ACTIVE",
                                f"participant {participant_id} is {standing} at {at.isoformat()}",
                                {"participant": participant_id, "at": at.isoformat()})
        return participant

    def grant_mining_licence(
        self,
        request_id: str,
        participant_id: UUID,
        region: str,
        grid_zone: str,
        meter_id: str,
        power_mw: Decimal,
        efficiency_jth: Decimal,
        coinbase_tags: Iterable[str],
        valid_from: datetime,
        valid_until: datetime,
        at: datetime | None = None,
    ) -> Receipt:
        """Grants a mining licence; refuses efficiency better than the policy floor."""
        check_request_id(request_id)
        for name, text in (("region", region), ("grid_zone", grid_zone), ("meter_id", meter_id)):
            check_text(name, text)
        power, efficiency = positive("power_mw", power_mw), positive(
            "efficiency_jth", efficiency_jth)
        tags = [check_hex("coinbase_tags", tag) for tag in coinbase_tags]
        start, end, when = utc(valid_from), utc(valid_until), event_time(at)
        check_after("valid_until", end, start)

        def build() -> list[Aggregate]:
            self._require_active_participant(participant_id, when)
            check_efficiency_floor(self.policy_at(when), efficiency)
            owner = self.licences.licence_for_meter(meter_id)
            if owner is not None:
                raise RuleViolation("METER_IN_USE",
                                    f"meter {meter_id!r} already belongs to licence {owner}")
            return [MiningLicence(
                request_id=request_id, at=when, participant_id=participant_id, region=region,
                grid_zone=grid_zone, meter_id=meter_id, power_mw=power,
                efficiency_jth=efficiency, coinbase_tags=tags, valid_from=start,
                valid_until=end)]

        return self._create(MiningLicence, MiningLicence.create_id(request_id), build)

    def amend_mining_capacity(self, request_id: str, licence_id: UUID, power_mw: Decimal,
                              efficiency_jth: Decimal, effective_from: datetime | None = None,
                              at: datetime | None = None) -> Receipt:
        """Amends licensed power and declared efficiency from ``effective_from`` on."""
        power = positive("power_mw", power_mw)
        efficiency = positive("efficiency_jth", efficiency_jth)
        when = event_time(at)
        effective = utc(effective_from) if effective_from else when

        def change(licence: MiningLicence) -> None:
            if licence.revoked_at is not None:
                raise RuleViolation("LICENCE_REVOKED", f"licence {licence.id} is revoked")
            check_efficiency_floor(self.policy_at(effective), efficiency)
            licence.amend_capacity(request_id=request_id, at=when, power_mw=power,
                                   efficiency_jth=efficiency, effective_from=effective)

        return self._mutate(licence_id, MiningLicence, "mining licence", request_id, change)

    def grant_exchange_licence(self, request_id: str, participant_id: UUID,
                               services: Iterable[str], valid_from: datetime,
                               valid_until: datetime, at: datetime | None = None) -> Receipt:
        """Grants a licence to operate as a virtual-asset service provider."""
        check_request_id(request_id)
        offered = [check_text("services", s) for s in services]
        if not offered:
            raise InvalidRequest("services", "at least one service is required")
        start, end, when = utc(valid_from), utc(valid_until), event_time(at)
        check_after("valid_until", end, start)

        def build() -> list[Aggregate]:
            self._require_active_participant(participant_id, when)
            return [ExchangeLicence(request_id=request_id, at=when,
                                    participant_id=participant_id, services=offered,
                                    valid_from=start, valid_until=end)]

        return self._create(ExchangeLicence, ExchangeLicence.create_id(request_id), build)

    def suspend_licence(self, request_id: str, licence_id: UUID, reason: str,
                        until: datetime | None = None, at: datetime | None = None) -> Receipt:
        """Suspends a licence from ``at`` until ``until`` (or until reinstated)."""
        check_text("reason", reason)
        when, end = event_time(at), optional_time(until)
        check_after("until", end, when)

        def change(licence: Licence) -> None:
            if licence.revoked_at is not None:
                raise RuleViolation("LICENCE_REVOKED", f"licence {licence.id} is revoked")
            licence.suspend(request_id=request_id, at=when, reason=reason, until=end)

        return self._mutate(licence_id, Licence, "licence", request_id, change)

    def reinstate_licence(self, request_id: str, licence_id: UUID,
                          at: datetime | None = None) -> Receipt:
        """Ends a licence's current suspension at ``at``."""
        when = event_time(at)

        def change(licence: Licence) -> None:
            if licence.revoked_at is not None:
                raise RuleViolation("LICENCE_REVOKED", f"licence {licence.id} is revoked")
            if licence.suspensions.covering(when) is None:
                raise RuleViolation("NOT_SUSPENDED", f"licence {licence.id} is not suspended")
            licence.reinstate(request_id=request_id, at=when)

        return self._mutate(licence_id, Licence, "licence", request_id, change)

    def revoke_licence(self, request_id: str, licence_id: UUID, reason: str,
                       at: datetime | None = None) -> Receipt:
        """Revokes a licence from ``at`` on, for good."""
        check_text("reason", reason)
        when = event_time(at)

        def change(licence: Licence) -> None:
            if licence.revoked_at is not None:
                raise RuleViolation("LICENCE_REVOKED", f"licence {licence.id} is already revoked")
            licence.revoke(request_id=request_id, at=when, reason=reason)

        return self._mutate(licence_id, Licence, "licence", request_id, change)

    def expire_licences(self, request_id: str, at: datetime | None = None) -> list[Receipt]:
        """Records ``Expired`` for every licence whose validity ended by ``at``."""
        check_request_id(request_id)
        when = event_time(at)
        receipts = []
        for licence_id in self.licences.all_ids():
            licence = self.get_typed(licence_id, Licence, "licence")
            # A retry replays the licences the first call expired.
            if licence.version_of_request(request_id) is not None or (
                    licence.expired_at is None and licence.revoked_at is None
                    and licence.valid_until <= when):
                receipts.append(self._mutate(
                    licence_id, Licence, "licence", request_id,
                    lambda lic: lic.expire(request_id=request_id, at=when)))
        return receipts

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
        ids = self.licences.all_ids(participant_id)
        found = (self.get_typed(i, Licence, "licence") for i in ids)
        return [licence for licence in found if isinstance(licence, kind)]

    def require_active_licence(self, licence_id: UUID, cls: type[A], at: datetime) -> A:
        """Returns the licence when it and its holder are active at ``at``; else raises."""
        licence = self.get_typed(licence_id, cls, "licence")
        assert isinstance(licence, Licence)
        standing = licence.standing_at(at)
        if standing is not None:
            raise RuleViolation("LICENCE_NOT_ACTIVE",
                                f"licence {licence_id} is {standing} at {at.isoformat()}",
                                {"licence": licence_id, "at": at.isoformat()})
        self._require_active_participant(licence.participant_id, at)
        return licence

    # ------------------------------------------------------------------ mining reports

    def report_output(
        self,
        request_id: str,
        licence_id: UUID,
        period_start: datetime,
        period_end: datetime,
        asset: str,
        amount_mined: Decimal,
        wallets: Iterable[str],
        sold_through_exchange: Decimal,
        at: datetime | None = None,
        envelope: Envelope | None = None,
    ) -> Receipt:
        """Records a miner's output report; a sale share below policy raises an alert.

        ``envelope`` is the signed report as the miner sent it; it is checked against the
        holder's key valid at ``at`` (RuleViolation KEY_UNKNOWN, KEY_REVOKED or
        SIGNATURE_INVALID) and stored in the event.
        """
        check_request_id(request_id)
        start, end, when = utc(period_start), utc(period_end), event_time(at)
        check_after("period_end", end, start)
        check_text("asset", asset)
        mined = non_negative("amount", amount_mined)
        sold = non_negative("sold_through_exchange", sold_through_exchange)
        if sold > mined:
            raise InvalidRequest("sold_through_exchange",
                                 f"{amount(sold)} is more than the amount mined {amount(mined)}")
        wallet_list = [check_text("wallets", w) for w in wallets]
        if envelope is not None and not isinstance(envelope, Envelope):
            raise InvalidRequest("envelope", "must be an Envelope")
        report_id = OutputReport.create_id(request_id)
        alert_id = Alert.create_id(request_id, "SALE_SHARE_SHORTFALL", report_id)

        def attempt() -> Receipt:
            alert = self.find(alert_id)
            if isinstance(alert, Alert):  # the first attempt was refused: refuse again
                raise RuleViolation("SALE_SHARE_SHORTFALL", alert.message, alert.figures)
            if self.find(report_id) is not None:
                return Receipt(report_id, 1, replayed=True)
            licence = self.require_active_licence(licence_id, MiningLicence, when)
            if envelope is not None:
                holder = self.get_participant(licence.participant_id)
                check_envelope(envelope, holder.keys, when, holder.id)
            share = self.policy_at(when).decimal("mandatory_sale_share")
            required = mined * share
            if sold < required:
                figures = {"amount": amount(mined), "sold_through_exchange": amount(sold),
                           "required_share": amount(share), "required": amount(required)}
                message = (f"mandatory sale share {amount(share * 100)}% not met: sold "
                           f"{amount(sold)} of {amount(mined)} {asset} through exchanges, "
                           f"{amount(required)} required")
                self.save(Alert(request_id=request_id, at=when, kind="SALE_SHARE_SHORTFALL",
                                subject_id=report_id, participant_id=licence.participant_id,
                                message=message, evidence=[], figures=figures))
                raise RuleViolation("SALE_SHARE_SHORTFALL", message, figures)
            self.save(OutputReport(
                request_id=request_id, at=when, licence_id=licence_id,
                participant_id=licence.participant_id, period_start=start, period_end=end,
                asset=asset, amount=mined, wallets=wallet_list, sold_through_exchange=sold,
                envelope={} if envelope is None else envelope.to_record()))
            return Receipt(report_id, 1)

        return cast(Receipt, self.retrying(attempt))

    def record_meter_reading(self, request_id: str, meter_id: str, period_start: datetime,
                             period_end: datetime, kwh: Decimal,
                             at: datetime | None = None) -> Receipt:
        """Records a site meter reading; the meter must belong to a mining licence."""
        check_request_id(request_id)
        check_text("meter_id", meter_id)
        start, end, when = utc(period_start), utc(period_end), event_time(at)
        check_after("period_end", end, start)
        energy = non_negative("kwh", kwh)

        def build() -> list[Aggregate]:
            licence_id = self.licences.licence_for_meter(meter_id)
            if licence_id is None:
                raise NotFound("meter", meter_id)
            return [MeterReading(request_id=request_id, at=when, meter_id=meter_id,
                                 licence_id=licence_id, period_start=start, period_end=end,
                                 kwh=energy)]

        return self._create(MeterReading, MeterReading.create_id(request_id), build)

    # ------------------------------------------------------------ proofs & reconciliation

    def submit_proof_batch(self, request_id: str, licence_id: UUID,
                           batch: str | bytes | Mapping[str, Any] | Envelope,
                           at: datetime | None = None, backend: str | None = None,
                           envelope: Envelope | None = None) -> ProofReceipt:
        """Verifies a proof batch and records ``ProofBatch.Verified``; returns its receipt.

        ``batch`` is the JSON batch of DESIGN.md §4 (text, bytes or decoded), or an
        Envelope whose payload is that JSON (payload type JSON_BATCH_PAYLOAD_TYPE);
        ``envelope`` is the signed form it arrived in when that is something else (a
        protobuf payload the services layer decoded). A given envelope is checked against
        the holder's key valid at ``at`` and stored. The licence and its holder must be
        active at ``at`` (else RuleViolation, and an alert records the refused attempt);
        a malformed batch raises InvalidRequest naming the field and records nothing.
        Shares accepted before for the licence are DUPLICATE; ``backend`` forces
        ``auto``/``cpu``/``cuda``. The same request id again returns the first receipt.
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
        records ``Reconciliation.Closed`` with one ``Alert`` per failing verdict, in one save.

        Counts accepted shares whose ntime lies in the period, output reports of ``asset``
        and meter readings (prorated when they straddle the period), the licensed capacity
        over the period and the policy in force at its last instant. One reconciliation per
        licence and period (RuleViolation RECONCILIATION_ALREADY_CLOSED otherwise); the
        period must have ended by ``at`` (PERIOD_NOT_ENDED).
        """
        return self.proofs.close(request_id, licence_id, period_start, period_end, at=at,
                                 asset=asset)

    def get_reconciliation(self, reconciliation_id: UUID) -> Reconciliation:
        """Returns a closed reconciliation, or raises NotFound."""
        return self.get_typed(reconciliation_id, Reconciliation, "reconciliation")

    def find_reconciliation(self, licence_id: UUID, period_start: datetime,
                            period_end: datetime) -> Reconciliation:
        """Returns the reconciliation of a licence for one period, or raises NotFound."""
        return self.get_reconciliation(
            Reconciliation.create_id(licence_id, utc(period_start), utc(period_end)))

    def list_reconciliations(self, licence_id: UUID | None = None) -> list[Reconciliation]:
        """Returns closed reconciliations in closing order, optionally of one licence."""
        return [self.get_reconciliation(i)
                for i in self.proofs.index.reconciliation_ids(licence_id)]

    # ------------------------------------------------------------------------- trades

    def record_trade(self, request: TradeRequest) -> TradeReceipt:
        """Records one trade; raises TradeBlocked (after recording it) when a rule blocks it."""
        receipt = self.record_trades([request])[0]
        if receipt.status is TradeStatus.BLOCKED:
            raise TradeBlocked(receipt)
        return receipt

    def record_trades(self, requests: Sequence[TradeRequest]) -> list[TradeReceipt]:
        """Records many trades in one transaction; returns one receipt per request.

        Blocked trades are recorded as ``Trade.Blocked``; a request id seen before (in this
        batch or earlier) returns the first result and records nothing.
        """
        for request in requests:
            validate_trade(request)
        requests = [in_utc(request) for request in requests]

        def attempt() -> list[TradeReceipt]:
            results: dict[str, TradeReceipt] = {}
            try:
                return self._decide_and_save(requests, results, check_existing=False)
            except RecordConflictError:
                # Some trade may exist already (a retry) or an account moved on: decide
                # again against the store, replaying trades that exist.
                return self._decide_and_save(requests, {}, check_existing=True)

        return cast(list[TradeReceipt], self.retrying(attempt))

    def _decide_and_save(self, requests: Sequence[TradeRequest],
                         results: dict[str, TradeReceipt],
                         check_existing: bool) -> list[TradeReceipt]:
        batch = TradeBatch(self.find, self.read_many)
        # The rule inputs of the whole batch in one query: the exchanges behind cached
        # licences are known beforehand; those of uncached ones take a second query.
        licence_ids = {r.exchange_licence_id for r in requests}
        holders = (self.cached_holder(licence_id) for licence_id in licence_ids)
        batch.prefetch([POLICY_ID, *licence_ids, *(h for h in holders if h is not None),
                        *(r.buyer_id for r in requests), *(r.seller_id for r in requests)])
        batch.prefetch(licence.participant_id for licence in batch.shared.values()
                       if isinstance(licence, ExchangeLicence))
        policies: dict[datetime, PolicyView] = {}
        policy = cast(Policy | None, batch.read(POLICY_ID))
        for request in requests:
            if request.request_id in results:
                first = results[request.request_id]
                results.setdefault(request.request_id, first)
                continue
            if check_existing:
                existing = self.find(request.trade_id())
                if isinstance(existing, Trade):
                    alert_id = Alert.create_id(request.request_id, "STRUCTURING", existing.id)
                    alerts = (alert_id,) if self.find(alert_id) is not None else ()
                    results[request.request_id] = trade_receipt(existing, replayed=True,
                                                                alert_ids=alerts)
                    continue
            view = policies.setdefault(request.at, PolicyView(policy, request.at))
            results[request.request_id] = self.desk.decide(request, view, batch)
        self.save(*batch.changed.values())
        receipts = []
        seen: set[str] = set()
        for request in requests:
            receipt = results[request.request_id]
            if request.request_id in seen and not receipt.replayed:
                receipt = replayed(receipt)
            seen.add(request.request_id)
            receipts.append(receipt)
        return receipts

    # ---------------------------------------------------------------- policy & alerts

    def set_policy(self, request_id: str, parameter: str, value: str,
                   effective_from: datetime | None = None,
                   at: datetime | None = None) -> Receipt:
        """Sets a policy parameter from ``effective_from`` (default: now) on."""
        check_request_id(request_id)
        canonical = validate(parameter, value)
        when = event_time(at)
        effective = utc(effective_from) if effective_from else when

        def attempt() -> Receipt:
            policy = cast(Policy | None, self.find(POLICY_ID)) or Policy()
            seen = policy.version_of_request(request_id)
            if seen is not None:
                return Receipt(POLICY_ID, seen, replayed=True)
            policy.set(request_id=request_id, at=when, parameter=parameter, value=canonical,
                       effective_from=effective)
            self.save(policy)
            return Receipt(POLICY_ID, policy.version)

        return cast(Receipt, self.retrying(attempt))

    def get_policy(self, parameter: str, at: datetime | None = None) -> str:
        """Returns the value of a parameter in force at ``at`` (default: now)."""
        view = self.policy_at(event_time(at))
        try:
            return view.text(parameter)
        except KeyError:
            raise InvalidRequest("parameter", f"unknown policy parameter {parameter!r}") from None

    def raise_alert(self, request_id: str, kind: str, subject_id: UUID,
                    participant_id: UUID | None, message: str, evidence: Iterable[str],
                    figures: dict[str, str], at: datetime | None = None) -> Receipt:
        """Raises an alert about ``subject_id`` (idempotent per request, kind and subject)."""
        check_request_id(request_id)
        when = event_time(at)
        alert_id = Alert.create_id(request_id, kind, subject_id)
        return self._create(Alert, alert_id, lambda: [Alert(
            request_id=request_id, at=when, kind=kind, subject_id=subject_id,
            participant_id=participant_id, message=message, evidence=list(evidence),
            figures=dict(figures))])

    def resolve_alert(self, request_id: str, alert_id: UUID, by: str, note: str,
                      at: datetime | None = None) -> Receipt:
        """Resolves an open alert with a note."""
        check_text("by", by)
        check_text("note", note)
        when = event_time(at)

        def change(alert: Alert) -> None:
            if not alert.is_open:
                raise RuleViolation("ALERT_ALREADY_RESOLVED", f"alert {alert.id} is resolved")
            alert.resolve(request_id=request_id, at=when, by=by, note=note)

        return self._mutate(alert_id, Alert, "alert", request_id, change)

    def list_alerts(self, open_only: bool = False,
                    participant_id: UUID | None = None) -> list[Alert]:
        """Returns alerts in the order they were raised."""
        alerts = [self.get_typed(i, Alert, "alert") for i in self.alerts.all_ids()]
        return [a for a in alerts
                if (not open_only or a.is_open)
                and (participant_id is None or a.participant_id == participant_id)]


