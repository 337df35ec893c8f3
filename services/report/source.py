"""What the report reads: the records of the log up to the newest signed checkpoint.

The report is made from exactly the records a signed checkpoint covers (leaves 0 … size−1
of the audit tree), so a printed report can be checked against the audit log: the same
origin, size and root name the same records. Records after it are counted, not read.
Without a checkpoint the whole log is read and the report says it cannot be checked.

Aggregates (participants, licences, alerts, reconciliations, VASPs, mining pools, the policy) are
rebuilt by applying the events in log order (their state as of the
checkpoint, not as of now). Proof batches are skipped undecoded (the reconciliations carry
their figures); trades are kept as rows only inside the window the report needs, so
memory follows the period, not the size of the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger import (
    Alert,
    AuditLog,
    Ledger,
    Licence,
    MiningPool,
    Participant,
    Policy,
    PolicyView,
    Reconciliation,
    StoreConfig,
    StoredCheckpoint,
    Vasp,
)

BATCH = 2000
"""Records read from the store per query."""

KEPT_TOPICS = ("ledger.domain.participant:", "ledger.domain.licence:",
               "ledger.domain.alert:", "ledger.domain.reconciliation:",
               "ledger.domain.policy:", "ledger.domain.vasp:",
               "ledger.domain.pool:")
"""Topics of the aggregates the report rebuilds (trades are read as rows, below)."""
TRADE_TOPIC = "ledger.domain.trade:"


@dataclass(frozen=True)
class TradeRow:
    """One trade event as the market section counts it."""

    at: datetime
    asset: str
    quantity: Decimal
    value_usd: Decimal
    buyer_id: UUID
    seller_id: UUID
    exchange_licence_id: UUID
    counterparty_vasp_id: UUID | None
    """The registered VASP on the other side (None: inside the exchange, self-hosted)."""
    counterparty_country: str
    """The country as the ledger decided it (the VASP's country when one is named)."""
    wallet_kind: str
    travel_rule: dict[str, Any]
    """The IVMS101 record as stored in the event."""
    rule: str
    message: str = ""

    @property
    def is_blocked(self) -> bool:
        """Returns True for a blocked attempt."""
        return bool(self.rule)




@dataclass
class Snapshot:
    """The aggregates the report needs, as of the records it read."""

    participants: dict[UUID, Participant] = field(default_factory=dict)
    licences: dict[UUID, Licence] = field(default_factory=dict)
    alerts: dict[UUID, Alert] = field(default_factory=dict)
    reconciliations: dict[UUID, Reconciliation] = field(default_factory=dict)
    vasps: dict[UUID, Vasp] = field(default_factory=dict)
    pools: dict[UUID, MiningPool] = field(default_factory=dict)
    trades: list[TradeRow] = field(default_factory=list)
    kinds: dict[UUID, str] = field(default_factory=dict)
    """The aggregate class of each alert subject the snapshot does not hold itself (a
    trade, a proof batch …), for naming it."""
    policy: Policy | None = None
    """The versioned policy as of the records read (None: never set, defaults apply)."""
    checkpoint: StoredCheckpoint | None = None
    position: int = 0
    """The notification id of the last record read."""
    records_after: int = 0
    """Records in the log after the checkpoint (not in the report)."""

    def policy_at(self, at: datetime) -> PolicyView:
        """Returns the policy in force at ``at`` as the records read set it."""
        return PolicyView(self.policy, at)


def latest_checkpoint(config: StoreConfig) -> tuple[StoredCheckpoint | None, int | None]:
    """Returns the newest signed checkpoint and the notification id of its last record, or
    (None, None) when the store has no audit log or no checkpoint yet."""
    log = AuditLog.open(config, create_tables=False)
    try:
        found = log.latest_checkpoint_end()
    finally:
        log.close()
    return (None, None) if found is None else found


def read_snapshot(ledger: Ledger, config: StoreConfig, keep_trade: Callable[[datetime], bool],
                  progress: Callable[[int], None] | None = None) -> Snapshot:
    """Returns the snapshot of the records up to the newest checkpoint (the whole log
    without one), keeping the trades whose time ``keep_trade`` accepts."""
    checkpoint, stop = latest_checkpoint(config)
    snapshot = Snapshot(checkpoint=checkpoint)
    last = ledger.recorder.max_notification_id() or 0
    end = last if stop is None else stop
    position = 0
    kept: dict[UUID, Any] = {}
    while position < end:
        notifications = ledger.recorder.select_notifications(
            start=position, limit=BATCH, stop=end, inclusive_of_start=False)
        if not notifications:
            break
        for notification in notifications:
            topic = notification.topic
            aggregate_id = UUID(str(notification.originator_id))
            if topic.startswith(TRADE_TOPIC):
                event = ledger.decode(notification)
                if keep_trade(event.at):
                    snapshot.trades.append(_trade_row(event))
            elif topic.startswith(KEPT_TOPICS):
                event = ledger.decode(notification)
                kept[aggregate_id] = event.mutate(kept.get(aggregate_id))
        position = notifications[-1].id
        if progress is not None:
            progress(len(notifications))
    snapshot.position = position
    if stop is not None and last > stop:
        snapshot.records_after = _count_after(ledger, stop, last)
    for aggregate_id, aggregate in kept.items():
        if isinstance(aggregate, Participant):
            snapshot.participants[aggregate_id] = aggregate
        elif isinstance(aggregate, Licence):
            snapshot.licences[aggregate_id] = aggregate
        elif isinstance(aggregate, Alert):
            snapshot.alerts[aggregate_id] = aggregate
        elif isinstance(aggregate, Reconciliation):
            snapshot.reconciliations[aggregate_id] = aggregate
        elif isinstance(aggregate, MiningPool):
            snapshot.pools[aggregate_id] = aggregate
        elif isinstance(aggregate, Vasp):
            snapshot.vasps[aggregate_id] = aggregate
        elif isinstance(aggregate, Policy):
            snapshot.policy = aggregate
    _name_subjects(ledger, snapshot)
    return snapshot


def _name_subjects(ledger: Ledger, snapshot: Snapshot) -> None:
    """Records the aggregate class of every alert subject that is not a participant,
    licence or reconciliation (one keyed read each: alerts are few, records many)."""
    known = snapshot.participants.keys() | snapshot.licences.keys() \
        | snapshot.reconciliations.keys()
    for subject in {a.subject_id for a in snapshot.alerts.values()} - known:
        first = ledger.recorder.select_events(subject, limit=1)
        if first:
            snapshot.kinds[subject] = first[0].topic.rsplit(":", 1)[-1].split(".", 1)[0]


def _count_after(ledger: Ledger, position: int, last: int) -> int:
    """Returns how many records follow ``position`` (ids may have gaps)."""
    count = 0
    while position < last:
        found = ledger.recorder.select_notifications(
            start=position, limit=BATCH * 10, stop=last, inclusive_of_start=False)
        if not found:
            break
        count += len(found)
        position = found[-1].id
    return count


def _trade_row(event: Any) -> TradeRow:
    return TradeRow(
        at=event.at, asset=event.asset, quantity=Decimal(event.quantity),
        value_usd=Decimal(event.value_usd), buyer_id=event.buyer_id,
        seller_id=event.seller_id, exchange_licence_id=event.exchange_licence_id,
        counterparty_vasp_id=event.counterparty_vasp_id,
        counterparty_country=event.counterparty_country, wallet_kind=event.wallet_kind,
        travel_rule=dict(event.travel_rule), rule=getattr(event, "rule", "") or "",
        message=getattr(event, "message", "") or "")
