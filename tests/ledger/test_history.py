"""The history index: subjects, concrete event names, resumption and idempotent following."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.history import HistoryIndex, HistoryQuery


def test_index_by_subject_type_and_time(store_url: str) -> None:
    ledger = Ledger(StoreConfig(url=store_url))
    try:
        alice = ledger.register_participant("reg-a", "ENTERPRISE", "Alice", "1", "KZ").aggregate_id
        bob = ledger.register_participant("reg-b", "ENTERPRISE", "Bob", "2", "KZ").aggregate_id
        start = datetime(2026, 1, 1, tzinfo=UTC)
        ledger.approve_participant("app-a", alice, at=start)
        licence = ledger.grant_mining_licence(
            "grant-a", alice, "north", "z", "meter-a", Decimal(5), Decimal(20), ["aa"],
            start, datetime(2028, 1, 1, tzinfo=UTC), at=datetime(2026, 2, 1, tzinfo=UTC)
        ).aggregate_id
        ledger.suspend_licence("susp-a", licence, "late report",
                               at=datetime(2026, 3, 1, tzinfo=UTC))
        index = HistoryIndex(ledger)
        names = [r.name for r in index.search(HistoryQuery(participant_id=str(alice)))]
        assert names == ["Participant.Registered", "Participant.Approved",
                         "MiningLicence.Granted", "MiningLicence.Suspended"]
        assert [r.name for r in index.search(HistoryQuery(participant_id=str(bob)))] == [
            "Participant.Registered"]
        suspended = index.search(HistoryQuery(event_names=("MiningLicence.Suspended",)))
        assert [r.notification.originator_id for r in suspended] == [licence]
        march = index.search(HistoryQuery(licence_id=str(licence),
                                          start=datetime(2026, 2, 15, tzinfo=UTC)))
        assert [r.name for r in march] == ["MiningLicence.Suspended"]
        paged = index.positions(HistoryQuery(participant_id=str(alice), after_position=2,
                                             limit=1))
        assert len(paged) == 1 and paged[0] > 2
        # A second index over the same store resumes at the end and indexes new records once.
        again = HistoryIndex(ledger)
        assert again.position == index.position
        ledger.reinstate_licence("rein-a", licence, at=datetime(2026, 4, 1, tzinfo=UTC))
        index.catch_up()
        again.catch_up()
        names = [r.name for r in again.search(HistoryQuery(licence_id=str(licence)))]
        assert names == ["MiningLicence.Granted", "MiningLicence.Suspended",
                         "MiningLicence.Reinstated"]
        assert set(index.subjects(str(licence))) == {str(licence), str(alice)}
    finally:
        ledger.close()
