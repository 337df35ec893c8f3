"""The proof read model: batches, reports, readings and reconciliations by licence,
followed from the log; the national index of accepted share hashes; the coinbase tags of
every mining licence; the sales of each participant recorded through licensed exchanges."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from ledger.domain.base64_text import base64_bytes
from ledger.domain.licence import MiningLicence
from ledger.domain.meter_reading import MeterReading
from ledger.domain.output_report import OutputReport
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.domain.trade import Trade
from ledger.indexes import LogReader, TopicFollower
from ledger.proof_figures import NTIME_NEVER, prorated
from ledger.proof_hashes import AcceptedHashes
from verifier.work import WorkTally


@dataclass
class BatchEntry:
    """What the index keeps of one recorded batch."""

    batch_id: UUID
    sequence: int
    ntime_min: int | None
    ntime_max: int | None
    tally: WorkTally
    not_active_range: tuple[int, int] | None = None
    """ntime range of the batch, when some of its shares were LICENCE_NOT_ACTIVE."""
    blocks: int = 0
    """How many of its accepted shares are block candidates (blocks found)."""

    @property
    def ntime_range(self) -> tuple[int, int] | None:
        """Returns (min, max) ntime of the accepted shares, or None."""
        if self.ntime_min is None or self.ntime_max is None:
            return None
        return self.ntime_min, self.ntime_max


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
    batches: list[BatchEntry] = field(default_factory=list)
    reports: list[PeriodEntry] = field(default_factory=list)
    readings: list[PeriodEntry] = field(default_factory=list)
    reconciliations: list[UUID] = field(default_factory=list)


@dataclass(frozen=True)
class NationalView:
    """What deciding a batch reads of the whole country: the next national batch number,
    the hashes accepted anywhere (hash → licence) and every mining licence's coinbase
    tags in grant order. Read ``next_sequence`` first (see ProofIndex.national)."""

    next_sequence: int
    accepted: AcceptedHashes
    tags: list[tuple[UUID, list[bytes]]]

    def foreign_tags(self, licence_id: UUID, own: Iterable[bytes]) -> list[bytes]:
        """Returns the coinbase tags of every other mining licence known, less the
        licence's own (a renewal may carry its predecessor's tags)."""
        return foreign_tags(self.tags, licence_id, own)


def foreign_tags(granted: Iterable[tuple[UUID, list[bytes]]], licence_id: UUID,
                 own: Iterable[bytes]) -> list[bytes]:
    """Returns the tags of the licences ``granted`` other than ``licence_id`` that are not
    among ``own``, each once, in grant order (shared with the audit replay)."""
    mine = set(own)
    found: dict[bytes, None] = {}
    for owner, tags in granted:
        if owner != licence_id:
            found.update((t, None) for t in tags if t not in mine)
    return list(found)


@dataclass(frozen=True)
class Sale:
    """A trade recorded through a licensed exchange: what the seller sold, and when."""

    ref: str
    at: datetime
    asset: str
    quantity: Decimal


class ProofIndex:
    """Proof batches, output reports, meter readings and reconciliations by licence,
    followed from the log (rebuilt on start, advanced before each use).

    It is the persistent duplicate index of DESIGN.md §4 and §5: the hash of every share
    accepted for any licence, nationally (``ledger.proof_hashes``: whole arrays, 60 to 90
    bytes per accepted share), so a share is credited at most once in the country.
    Relied on by ``ledger.proofs`` (deciding) and ``ledger.reconciliations`` (sales); the
    audit replay keeps its own.
    """

    def __init__(self, ledger: LogReader) -> None:
        self._licences: dict[UUID, LicenceProofs] = {}
        self._requests: dict[tuple[str, str], UUID] = {}
        self._reconciliations: list[UUID] = []
        self._accepted = AcceptedHashes()
        self._next_national = 0
        self._tags: list[tuple[UUID, list[bytes]]] = []
        self._sales: dict[UUID, list[Sale]] = {}
        self._lock = threading.RLock()
        self._follower = TopicFollower(
            ledger.recorder, ledger.mapper,
            [cast(Any, ProofBatch).Verified, cast(Any, OutputReport).Reported,
             cast(Any, MeterReading).Recorded, cast(Any, Reconciliation).Closed,
             cast(Any, MiningLicence).Granted],
            self._handle)
        # Trades are many: followed apart, only when a reconciliation reads sales, and
        # kept only for sellers who hold a mining licence granted before them in the log.
        self._miners: set[UUID] = set()
        self._sales_follower = TopicFollower(
            ledger.recorder, ledger.mapper,
            [cast(Any, Trade).Recorded, cast(Any, MiningLicence).Granted], self._sale)

    def _sale(self, _position: int, event: Any) -> None:
        if isinstance(event, cast(Any, MiningLicence).Granted):
            self._miners.add(event.participant_id)
        elif event.seller_id in self._miners:
            self._sales.setdefault(event.seller_id, []).append(Sale(
                f"{event.originator_id}:{event.originator_version}", event.at, event.asset,
                event.quantity))

    def sales(self, seller_id: UUID, start: datetime, end: datetime, asset: str
              ) -> list[Sale]:
        """Returns the recorded (not blocked) trades of ``asset`` with ``seller_id`` as
        seller whose time lies in [start, end), in log order (only those recorded after
        the seller's first mining licence was granted: before it, nothing was mined)."""
        with self._lock:
            self._sales_follower.refresh()
            return [s for s in self._sales.get(seller_id, [])
                    if s.asset == asset and start <= s.at < end]

    def national(self) -> NationalView:
        """Returns the national view, refreshed. Its ``accepted`` is live: later
        refreshes only add to it, and a writer that read ``next_sequence`` first and then
        sees hashes of a later batch conflicts on the batch id and decides again."""
        with self._lock:
            self._follower.refresh()
            return NationalView(self._next_national, self._accepted, list(self._tags))

    def _licence(self, licence_id: UUID) -> LicenceProofs:
        entry = self._licences.get(licence_id)
        if entry is None:
            entry = self._licences[licence_id] = LicenceProofs()
        return entry

    def recorded(self, notification_id: int, event: Any, accepted: bytes) -> None:
        """Takes in a ``ProofBatch.Verified`` this process has just saved at
        ``notification_id``, with its accepted hashes as raw bytes, without reading it
        back from the store (the events before it are read as usual)."""
        with self._lock:
            self._follower.take(notification_id,
                                lambda: self._handle(notification_id, event, accepted))

    def _handle(self, _position: int, event: Any, accepted: bytes | None = None) -> None:
        if isinstance(event, cast(Any, MiningLicence).Granted):
            self._tags.append((event.originator_id,
                               [bytes.fromhex(t) for t in event.coinbase_tags]))
            return
        entry = self._licence(event.licence_id)
        if isinstance(event, cast(Any, ProofBatch).Verified):
            # Hashes before the sequence numbers: a reader that sees the new number also
            # sees the batch's hashes.
            self._accepted.add(base64_bytes(event.accepted_hashes, validate=False)
                               if accepted is None else accepted, event.licence_id)
            self._next_national = max(self._next_national,
                                      getattr(event, "national_sequence", 0) + 1)
            entry.batches.append(BatchEntry(
                event.originator_id, event.sequence, event.ntime_min, event.ntime_max,
                WorkTally(event.accepted_shares, int(event.accepted_work),
                          int(event.accepted_work_squared)),
                (0, NTIME_NEVER) if event.counts.get("LICENCE_NOT_ACTIVE") else None,
                sum(1 for i in event.block_candidates if event.verdicts[i] == "0")))
            entry.next_sequence = max(entry.next_sequence, event.sequence + 1)
            self._requests[(event.requester, event.request_id)] = event.originator_id
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

    def batch_for_request(self, requester: str, request_id: str) -> UUID | None:
        """Returns the id of the batch a requester's request recorded, or None."""
        self.refresh()
        return self._requests.get((requester, request_id))

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
        reconciliations that later refreshes leave alone."""
        with self._lock:
            self._follower.refresh()
            entry = self._licences.get(licence_id) or LicenceProofs()
            return LicenceProofs(entry.next_sequence, list(entry.batches),
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

