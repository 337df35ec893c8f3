"""In-process read models that follow the notification log for a few event topics.

They are rebuilt from the log on start and advanced incrementally before each query, so
every server process sharing one store sees the same answers without a table of its own.
They suit the small populations they index (licences, alerts), not the trade stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper
from eventsourcing.utils import get_topic

from ledger.domain.alert import Alert
from ledger.domain.licence import ExchangeLicence, MiningLicence
from ledger.domain.pool import MiningPool
from ledger.domain.vasp import Vasp


class LogReader(Protocol):
    """What a read model needs of the application: its recorder and mapper."""

    recorder: ApplicationRecorder
    mapper: Mapper[UUID]


class TopicFollower:
    """Calls ``handle`` for every decoded event of ``event_classes``, in log order."""

    page_size = 1000

    def __init__(
        self,
        recorder: ApplicationRecorder,
        mapper: Mapper[Any],
        event_classes: Sequence[type[Any]],
        handle: Callable[[int, Any], None],
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.topics = [get_topic(cls) for cls in event_classes]
        self.handle = handle
        self.position = 0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Handles every matching event recorded since the last refresh."""
        with self._lock:
            # Read up to the log's head as it is now, and remember the head even when
            # nothing matched: the topics are rare, and restarting from the last match
            # would make every refresh scan the whole log after it (millions of rows).
            # Writers commit notification ids in order, so no lower id appears later.
            self._read_through(self.recorder.max_notification_id() or 0)

    def take(self, notification_id: int, handle_own: Callable[[], None]) -> None:
        """Handles the events before ``notification_id`` from the log, then calls
        ``handle_own`` for the one at ``notification_id``: an event this process has just
        committed and still holds, so it is not read back and decoded (large proof
        batches). Does nothing when a refresh has already gone past it.

        Sound because writers commit notification ids in order: once the caller's event
        is committed, every lower id is committed or never will be.
        """
        with self._lock:
            if self.position >= notification_id:
                return
            self._read_through(notification_id - 1)
            handle_own()
            self.position = notification_id

    def _read_through(self, head: int) -> None:
        """Handles every matching event after the position up to ``head`` (lock held)."""
        while self.position < head:
            notifications = self.recorder.select_notifications(
                start=self.position,
                limit=self.page_size,
                stop=head,
                topics=self.topics,
                inclusive_of_start=False,
            )
            for notification in notifications:
                self.handle(notification.id, self.mapper.to_domain_event(notification))
                self.position = notification.id
            if len(notifications) < self.page_size:
                self.position = head


class LicenceIndex:
    """Licences by participant and by meter, followed from the log's grant events."""

    def __init__(self, ledger: LogReader) -> None:
        self._ids: list[UUID] = []
        self._by_participant: dict[UUID, list[UUID]] = {}
        self._by_meter: dict[str, list[UUID]] = {}
        self._tags: list[tuple[UUID, bytes]] = []
        self._follower = TopicFollower(ledger.recorder, ledger.mapper,
                                       [cast(Any, MiningLicence).Granted,
                                        cast(Any, ExchangeLicence).Granted],
                                       self._handle)

    def _handle(self, _position: int, event: Any) -> None:
        self._ids.append(event.originator_id)
        self._by_participant.setdefault(event.participant_id, []).append(event.originator_id)
        meter_id = getattr(event, "meter_id", None)
        if meter_id is not None:
            self._by_meter.setdefault(meter_id, []).append(event.originator_id)
        for tag in getattr(event, "coinbase_tags", ()):
            self._tags.append((event.originator_id, bytes.fromhex(tag)))

    def all_ids(self, participant_id: UUID | None = None) -> list[UUID]:
        """Returns licence ids in grant order, optionally of one participant."""
        self._follower.refresh()
        if participant_id is None:
            return list(self._ids)
        return list(self._by_participant.get(participant_id, []))

    def licences_for_meter(self, meter_id: str) -> list[UUID]:
        """Returns every mining licence ever granted for a meter, in grant order (at most
        one of them active at any instant: ``ledger.licensing`` keeps it so)."""
        self._follower.refresh()
        return list(self._by_meter.get(meter_id, []))


    def tag_holders(self, tag: bytes) -> list[tuple[UUID, bytes]]:
        """Returns (mining licence, its tag) for every granted tag that equals ``tag``,
        contains it or is contained in it: the tags a coinbase carrying ``tag`` could be
        confused with."""
        self._follower.refresh()
        return [(owner, held) for owner, held in self._tags if tag in held or held in tag]


class PoolIndex:
    """Accredited mining pools in the order they were registered."""

    def __init__(self, ledger: LogReader) -> None:
        self._ids: list[UUID] = []
        self._follower = TopicFollower(
            ledger.recorder, ledger.mapper, [cast(Any, MiningPool).Registered],
            lambda _pos, event: self._ids.append(event.originator_id))

    def all_ids(self) -> list[UUID]:
        """Returns every pool id, in registration order."""
        self._follower.refresh()
        return list(self._ids)


class AlertIndex:
    """Alert ids in the order they were raised."""

    def __init__(self, ledger: LogReader) -> None:
        self._ids: list[UUID] = []
        self._follower = TopicFollower(ledger.recorder, ledger.mapper, [cast(Any, Alert).Raised],
                                       lambda _pos, event: self._ids.append(event.originator_id))

    def all_ids(self) -> list[UUID]:
        """Returns every alert id."""
        self._follower.refresh()
        return list(self._ids)




class VaspIndex:
    """VASP ids in the order they were registered."""

    def __init__(self, ledger: LogReader) -> None:
        self._ids: list[UUID] = []
        self._follower = TopicFollower(ledger.recorder, ledger.mapper,
                                       [cast(Any, Vasp).Registered],
                                       lambda _pos, event: self._ids.append(event.originator_id))

    def all_ids(self) -> list[UUID]:
        """Returns every VASP id."""
        self._follower.refresh()
        return list(self._ids)
