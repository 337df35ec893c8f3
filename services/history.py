"""HistoryService: filtered pages of events, a live stream of the log, aggregates."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from ledger import HistoryQuery, HistoryRecord
from services import wire
from services.auth import Scope, current_grant, require_own_participant
from services.generated.valedger.v1 import common_pb2, history_pb2, history_pb2_grpc
from services.ledger_pool import LedgerPool
from services.status import invalid_argument, permission_denied

EVENT_NAMES = (
    "Participant.Registered", "Participant.Approved", "Participant.KeyRegistered",
    "Participant.KeyRevoked", "Participant.Suspended", "Participant.Reinstated",
    "Participant.Deregistered", "MiningLicence.Granted", "MiningLicence.CapacityAmended",
    "MiningLicence.Suspended", "MiningLicence.Reinstated", "MiningLicence.Revoked",
    "MiningLicence.Expired", "ExchangeLicence.Granted", "ExchangeLicence.Suspended",
    "ExchangeLicence.Reinstated", "ExchangeLicence.Revoked", "ProofBatch.Verified",
    "OutputReport.Reported", "MeterReading.Recorded", "Trade.Recorded", "Trade.Blocked",
    "Alert.Raised", "Alert.Resolved", "Reconciliation.Closed", "Policy.Set",
    "MiningLicence.Renewed", "ExchangeLicence.Renewed", "ExchangeLicence.Expired",
)
"""Every ``Aggregate.Event`` name of DESIGN.md §3, in EventType order."""


def _enum_name(event_name: str) -> str:
    return "EVENT_TYPE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", event_name.replace(".", "")).upper()


TYPE_OF_NAME: dict[str, Any] = {
    name: common_pb2.EventType.Value(_enum_name(name)) for name in EVENT_NAMES}
NAME_OF_TYPE: dict[int, str] = {value: name for name, value in TYPE_OF_NAME.items()}

_EVENT_BOOKKEEPING = frozenset({"originator_id", "originator_version", "timestamp",
                                "originator_topic"})
_LICENCE_AGGREGATES = ("MiningLicence.", "ExchangeLicence.")


def fill_event(target: history_pb2.Event, record: HistoryRecord) -> None:
    """Fills an empty Event (a new one, or one inside a response, so nothing is copied)
    with the wire form of a recorded event, read from its stored state."""
    try:
        state = record.stored_state()
        at = wire.stored_value(state.get("at")) or wire.stored_value(state["timestamp"])
        _fill_head(target, record, at, wire.stored_id(state.get("participant_id")),
                   wire.stored_id(state.get("licence_id"))
                   or wire.stored_id(state.get("exchange_licence_id")))
        wire.fill_stored_struct(target.data, state, _EVENT_BOOKKEEPING)
    except wire.UnknownStoredValue:
        target.Clear()
        fill_event_of_event(target, record)


def fill_event_of_event(target: history_pb2.Event, record: HistoryRecord) -> None:
    """Fills an empty Event from the record's decoded domain event (what
    :func:`fill_event` must equal)."""
    event = record.event
    _fill_head(target, record, getattr(event, "at", None) or event.timestamp,
               getattr(event, "participant_id", None),
               getattr(event, "licence_id", None)
               or getattr(event, "exchange_licence_id", None))
    wire.fill_struct(target.data, {k: v for k, v in vars(event).items()
                                   if k not in _EVENT_BOOKKEEPING})


def _fill_head(target: history_pb2.Event, record: HistoryRecord, at: Any, participant: Any,
               licence: Any) -> None:
    """Sets every field of an Event but its data (which it marks present, however empty)."""
    note = record.notification
    if participant is None and record.name.startswith("Participant."):
        participant = note.originator_id
    if licence is None and record.name.startswith(_LICENCE_AGGREGATES):
        licence = note.originator_id
    target.position = note.id
    target.event_type = TYPE_OF_NAME.get(record.name, common_pb2.EVENT_TYPE_OTHER)
    target.topic = note.topic
    target.aggregate_id = str(note.originator_id)
    target.aggregate_version = note.originator_version
    wire.fill_timestamp(target.at, at)
    target.participant_id = str(participant or "")
    target.licence_id = str(licence or "")
    target.data.SetInParent()


def event_names(types: Iterable[int], field: str = "event_types") -> tuple[str, ...]:
    """Returns the event names of EventType filters, or raises INVALID_ARGUMENT."""
    names = []
    for value in types:
        name = NAME_OF_TYPE.get(value)
        if name is None:
            raise invalid_argument(field, f"cannot filter by event type {value}")
        names.append(name)
    return tuple(sorted(set(names)))


@dataclass
class _FollowBatch:
    """What one step of a live stream read: the messages to send and how far it read."""

    messages: list[history_pb2.StreamEventsResponse]
    position: int
    count: int


class HistoryServicer(history_pb2_grpc.HistoryServiceServicer):
    """Serves HistoryService from the history index and the log."""

    stream_batch = 500

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend
        self.history = backend.history

    async def ListEvents(self, request: history_pb2.ListEventsRequest,
                         context: Any) -> history_pb2.ListEventsResponse:
        grant = current_grant()
        participant, licence = request.participant_id, request.licence_id
        if participant:
            wire.uuid(participant, "participant_id")
        if licence:
            wire.uuid(licence, "licence_id")
        if grant.scope is Scope.OWN:
            if not participant:
                raise invalid_argument("participant_id",
                                       "required for a miner or an exchange (its own)")
            require_own_participant(participant, "history")
            if licence and not await self.backend.run(
                    self.history.concerns, licence, participant):
                raise permission_denied("NOT_OWNER", "licence_id is not the caller's licence")
        names = event_names(request.event_types)
        start, end = wire.time(request, "start_time"), wire.time(request, "end_time")
        size = wire.page_size(request.page_size)
        filters = {"p": participant, "l": licence, "t": list(names),
                   "s": start.isoformat() if start else "", "e": end.isoformat() if end else ""}
        after = 0
        if request.page_token:
            token = wire.decode_token(request.page_token)
            if token.get("f") != filters or not isinstance(token.get("a"), int):
                raise invalid_argument("page_token", "does not match this request's filters")
            after = int(token["a"])
        query = HistoryQuery(participant or None, licence or None, names, start, end, after,
                             size + 1)

        def page() -> history_pb2.ListEventsResponse:
            # The page is built on the ledger pool too: a hundred events take milliseconds
            # to convert, which the event loop owes to every other call meanwhile.
            records = self.history.search(query)
            shown = records[:size]
            next_token = ""
            if len(records) > size:
                next_token = wire.encode_token({"f": filters, "a": shown[-1].notification.id})
            response = history_pb2.ListEventsResponse(next_page_token=next_token)
            for record in shown:
                fill_event(response.events.add(), record)
            return response

        return await self.backend.run(page)

    async def StreamEvents(self, request: history_pb2.StreamEventsRequest,
                           context: Any) -> AsyncIterator[history_pb2.StreamEventsResponse]:
        if request.after_position < 0:
            raise invalid_argument("after_position", "must not be negative")
        wanted = set(event_names(request.event_types))
        position = request.after_position
        while True:
            batch = await self.backend.run(self._follow, position, wanted)
            for message in batch.messages:
                yield message
            position = batch.position
            if batch.count < self.stream_batch:
                await self.backend.wait_for_log()

    def _follow(self, after: int, wanted: set[str]) -> _FollowBatch:
        """Returns the wire form of the wanted records after ``after`` (runs on the pool)."""
        records = self.history.follow(after, self.stream_batch)
        messages = []
        for record in records:
            if not wanted or record.name in wanted:
                message = history_pb2.StreamEventsResponse()
                fill_event(message.event, record)
                messages.append(message)
        position = records[-1].notification.id if records else after
        return _FollowBatch(messages, position, len(records))

    async def GetAggregate(self, request: history_pb2.GetAggregateRequest,
                           context: Any) -> history_pb2.GetAggregateResponse:
        aggregate_id = wire.uuid(request.aggregate_id, "aggregate_id")
        if request.version < 0:
            raise invalid_argument("version", "must not be negative")
        grant = current_grant()
        if grant.scope is Scope.OWN and not await self.backend.run(
                self.history.concerns, str(aggregate_id), grant.caller.participant):
                raise permission_denied("NOT_OWNER",
                                        "the aggregate does not concern the caller")

        # As it is now in the store (another server may have moved it on), or at a version.
        aggregate = await self.backend.run(self.backend.ledger.aggregate_at, aggregate_id,
                                           request.version or None)
        state = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
        return history_pb2.GetAggregateResponse(aggregate=history_pb2.Aggregate(
            aggregate_id=str(aggregate.id), aggregate_type=type(aggregate).__name__,
            version=aggregate.version, modified_at=wire.timestamp(aggregate.modified_on),
            state=wire.struct(state)))


def add_to_server(backend: LedgerPool, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    history_pb2_grpc.add_HistoryServiceServicer_to_server(HistoryServicer(backend), server)
