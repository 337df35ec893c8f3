"""History index: a read model of the log by participant, licence, event type and time.

It follows the notification log and keeps three tables in the same store:

* ``history_events(position, event_name, at_us, aggregate_id)``: one row per log record,
  with the event's own time in microseconds since the epoch;
* ``history_subjects(subject, position)``: one row per (participant or licence, record)
  the record concerns — a trade concerns its exchange licence, that licence's holder, the
  buyer and the seller;
* ``history_aggregates(aggregate_id, aggregate_type, subjects)``: the class and subjects
  an aggregate's creation named, so its later events (a licence's ``Suspended``, an
  alert's ``Resolved``) are found under the same subjects and named after the concrete
  class (``MiningLicence.Suspended``, although the event class is ``Licence.Suspended``).

With a cipher key configured, subjects are stored pseudonymised: a keyed hash (HMAC-SHA256
under a key derived from the cipher key) instead of the participant's or licence's id, so
the store shows no who-traded-with-whom in the clear; queries hash the subject they ask
for the same way. Without a cipher key (an unencrypted store) they are stored as they are.

A page for one subject is one indexed range scan of ``history_subjects`` (joined to
``history_events`` from the same position on, when event types or times filter it) —
never a scan of the log — followed by one keyed fetch of the page's records. A record
decodes its domain event only when asked: a reader that wants text (a wire message) is
quicker with its stored JSON (:meth:`HistoryRecord.stored_state`). The index
is rebuilt from the log when missing and resumes from its highest position; writes are
idempotent, so several server processes sharing one PostgreSQL may follow at once. Its
tables are made with the ledger's (``StoreConfig.create_tables``: ``valedger db init``);
a server whose role may not create tables only reads and writes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.persistence import DatabaseError, Mapper, Notification

from ledger.errors import StoreUnavailable
from ledger.tables import SCHEMA_LOCK_STATEMENT, events_table, position_column, row_tuples

if TYPE_CHECKING:  # pragma: no cover
    from ledger.application import Ledger

SUBJECT_FIELDS = ("participant_id", "licence_id", "exchange_licence_id", "buyer_id",
                  "seller_id")
"""Event fields whose values are subjects (participants or licences)."""

SELF_SUBJECT_AGGREGATES = frozenset({"Participant", "MiningLicence", "ExchangeLicence"})
"""Aggregates that are themselves subjects: their id is a subject of each of their events."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JSON = json.JSONDecoder()

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS history_events (position BIGINT PRIMARY KEY, "
    "event_name TEXT NOT NULL, at_us BIGINT NOT NULL, aggregate_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS history_events_name_idx ON history_events "
    "(event_name, position)",
    "CREATE INDEX IF NOT EXISTS history_events_at_idx ON history_events (at_us, position)",
    "CREATE TABLE IF NOT EXISTS history_subjects (subject TEXT NOT NULL, "
    "position BIGINT NOT NULL, PRIMARY KEY (subject, position))",
    "CREATE TABLE IF NOT EXISTS history_aggregates (aggregate_id TEXT PRIMARY KEY, "
    "aggregate_type TEXT NOT NULL, subjects TEXT NOT NULL)",
)


def event_name(topic: str) -> str:
    """Returns ``Aggregate.Event`` of a topic such as ``ledger.domain.trade:Trade.Recorded``."""
    return topic.rsplit(":", 1)[-1]


def _record_columns(position: str) -> str:
    """Returns the columns :meth:`HistoryIndex._records` reads: a stored event ``r`` (whose
    position column is ``position``) and its index name ``h.event_name``."""
    return (f"r.{position}, r.originator_id, r.originator_version, r.topic, r.state, "
            "h.event_name")


def to_microseconds(at: datetime) -> int:
    """Returns a UTC time as whole microseconds since the epoch."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class HistoryQuery:
    """Filters of a history page; positions are exclusive lower bounds."""

    participant_id: str | None = None
    licence_id: str | None = None
    event_names: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    after_position: int = 0
    limit: int = 100


@dataclass(frozen=True)
class IndexRows:
    """Rows for the three history tables, as :meth:`HistoryIndex.rows` computes them."""

    events: list[tuple[int, str, int, str]]
    """``history_events``: (position, event name, time in microseconds, aggregate id)."""
    subjects: list[tuple[str, int]]
    """``history_subjects``: (subject, position)."""
    aggregates: list[tuple[str, str, str]]
    """``history_aggregates``: (aggregate id, aggregate type, comma-separated subjects)."""


class HistoryRecord:
    """A record of the log with its ``Aggregate.Event`` name. Its domain event is decoded
    on first use; :meth:`stored_state` reads the stored JSON without building it."""

    __slots__ = ("_event", "_mapper", "name", "notification")

    def __init__(self, notification: Notification, name: str, mapper: Mapper[Any]) -> None:
        self.notification = notification
        self.name = name
        self._mapper = mapper
        self._event: Any = None

    @property
    def event(self) -> Any:
        """Returns the record's domain event (decoded once)."""
        if self._event is None:
            self._event = self._mapper.to_domain_event(self.notification)
        return self._event

    def stored_state(self) -> dict[str, Any]:
        """Returns the event's state as stored: parsed JSON in which ids, decimals and times
        keep eventsourcing's transcoded form ``{"_type_": name, "_data_": data}``, and the
        originator id and version are absent.

        A page of events is mostly spent decoding them into domain objects that are only
        turned back into text for the wire; this skips the objects. The ledger stores JSON
        (eventsourcing's JSONTranscoder, as tests/ledger/test_history.py checks)."""
        state = self.notification.state
        if self._mapper.cipher:
            state = self._mapper.cipher.decrypt(state)
        if self._mapper.compressor:
            state = self._mapper.compressor.decompress(state)
        parsed: dict[str, Any] = _JSON.decode(state.decode("utf-8"))
        return parsed


SUBJECT_KEY_CONTEXT = b"valedger history subjects v1\n"
"""What the pseudonym key is derived for: SHA-256(context || cipher key bytes)."""


def subject_pseudonym(cipher_key: str | None) -> Callable[[str], str]:
    """Returns how subjects are stored: their keyed hash (hex HMAC-SHA256, 32 digits) under
    a key derived from the cipher key, or the subject itself when there is no cipher key."""
    if not cipher_key:
        return lambda subject: subject
    key = hashlib.sha256(SUBJECT_KEY_CONTEXT + base64.b64decode(cipher_key)).digest()

    def pseudonym(subject: str) -> str:
        return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:32]

    return pseudonym


class HistoryIndex:
    """The history read model of one ledger (see the module docstring)."""

    batch_size = 2000
    cache_size = 100_000

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.recorder: Any = cast(Any, ledger.recorder)
        self.datastore: Any = self.recorder.datastore
        self.is_postgres = ledger.config.is_postgres
        self._lock = threading.Lock()
        self._aggregates: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.pseudonym = subject_pseudonym(ledger.config.cipher_key)
        if ledger.config.create_tables:
            self._create_tables()
        try:
            self.position = self._max_position()
        except DatabaseError as error:
            raise StoreUnavailable(
                f"cannot read the history index of {ledger.config.url_for_display}: "
                f"{error} (if its tables do not exist yet, create them with "
                "`valedger db init --db URL`)") from error

    # ------------------------------------------------------------------------ SQL helpers

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.is_postgres else statement

    def _in(self, column: str, values: Sequence[Any], params: list[Any]) -> str:
        """Returns a ``column IN (...)`` clause and appends its parameters."""
        if self.is_postgres:
            params.append(list(values))
            return f"{column} = ANY(?)"
        params.extend(values)
        return f"{column} IN ({','.join('?' * len(values))})"

    def _fetch(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), tuple(params))
            return row_tuples(cursor.fetchall())

    def _create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            if self.is_postgres:  # servers starting together make the tables in turn
                cursor.execute(SCHEMA_LOCK_STATEMENT)
            for statement in _SCHEMA:
                cursor.execute(statement)

    def _max_position(self) -> int:
        rows = self._fetch("SELECT MAX(position) FROM history_events")
        return int(rows[0][0] or 0)

    # -------------------------------------------------------------------------- following

    def catch_up(self) -> int:
        """Indexes every record appended since the last call; returns the position reached."""
        with self._lock:
            while True:
                notifications = self.recorder.select_notifications(
                    start=self.position, limit=self.batch_size, inclusive_of_start=False)
                if not notifications:
                    return self.position
                self._index(notifications)
                self.position = notifications[-1].id
                if len(notifications) < self.batch_size:
                    return self.position

    def _index(self, notifications: Sequence[Notification]) -> None:
        rows = self.rows(notifications)
        ignore = "" if self.is_postgres else " OR IGNORE"
        conflict = " ON CONFLICT DO NOTHING" if self.is_postgres else ""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(self._sql(
                f"INSERT{ignore} INTO history_events VALUES (?,?,?,?){conflict}"), rows.events)
            if rows.subjects:
                cursor.executemany(self._sql(
                    f"INSERT{ignore} INTO history_subjects VALUES (?,?){conflict}"),
                    rows.subjects)
            if rows.aggregates:
                cursor.executemany(self._sql(
                    f"INSERT{ignore} INTO history_aggregates VALUES (?,?,?){conflict}"),
                    rows.aggregates)

    def rows(self, notifications: Sequence[Notification],
             events: Sequence[Any] | None = None) -> IndexRows:
        """Returns the index rows of ``notifications`` (in log order, after every record
        already indexed) without writing them; ``events`` are their decoded domain events
        when the caller has them. Aggregates created here are remembered, so later
        batches see their subjects. A bulk loader writes these rows itself."""
        rows = IndexRows([], [], [])
        for i, notification in enumerate(notifications):
            event: Any = (events[i] if events is not None
                          else self.ledger.mapper.to_domain_event(notification))
            name = event_name(notification.topic)
            aggregate_id = str(notification.originator_id)
            at = getattr(event, "at", None) or event.timestamp
            if notification.originator_version == 1:
                own = self._subjects_of(name, aggregate_id, event)
                if own:
                    aggregate_type = name.split(".", 1)[0]
                    rows.aggregates.append((aggregate_id, aggregate_type, ",".join(own)))
                    self._remember(aggregate_id, (aggregate_type, own))
                known = own
            else:
                aggregate_type, known = self._known(aggregate_id)
                if aggregate_type:
                    name = f"{aggregate_type}.{name.rsplit('.', 1)[-1]}"
                known = tuple(set(known) | set(self._subjects_of(name, aggregate_id, event)))
            rows.events.append((notification.id, name, to_microseconds(at), aggregate_id))
            for subject in sorted(known):
                rows.subjects.append((subject, notification.id))
        return rows

    def _subjects_of(self, name: str, aggregate_id: str, event: Any) -> tuple[str, ...]:
        """Returns the subjects an event names itself, expanded by their own subjects."""
        found: set[str] = set()
        if name.split(".", 1)[0] in SELF_SUBJECT_AGGREGATES:
            found.add(self.pseudonym(aggregate_id))
        for field in SUBJECT_FIELDS:
            value = getattr(event, field, None)
            if isinstance(value, UUID):
                found.add(self.pseudonym(str(value)))
                # A licence named by an event brings its holder along.
                found.update(self._known(str(value))[1])
        return tuple(sorted(found))

    def _known(self, aggregate_id: str) -> tuple[str, tuple[str, ...]]:
        """Returns the type and subjects recorded at an aggregate's creation (or empty)."""
        cached = self._aggregates.get(aggregate_id)
        if cached is not None:
            return cached
        rows = self._fetch("SELECT aggregate_type, subjects FROM history_aggregates "
                           "WHERE aggregate_id = ?", (aggregate_id,))
        known = (str(rows[0][0]), tuple(rows[0][1].split(","))) if rows else ("", ())
        self._remember(aggregate_id, known)
        return known

    def _remember(self, aggregate_id: str, known: tuple[str, tuple[str, ...]]) -> None:
        """Caches an aggregate's type and subjects. Past ``cache_size`` aggregates the
        oldest entry goes, so following a long log keeps memory bounded while the
        aggregates of the batch being indexed (not yet in the table) stay."""
        if len(self._aggregates) >= self.cache_size:
            del self._aggregates[next(iter(self._aggregates))]
        self._aggregates[aggregate_id] = known

    # ---------------------------------------------------------------------------- queries

    def positions(self, query: HistoryQuery) -> list[int]:
        """Returns positions of the records matching ``query``, ascending, at most limit."""
        statement, params = self._positions_statement(query)
        return [int(r[0]) for r in self._fetch(statement, params)]

    def _positions_statement(self, query: HistoryQuery) -> tuple[str, list[Any]]:
        """Returns the SELECT of :meth:`positions` (one column, ``position``) and its
        parameters."""
        params: list[Any] = []
        clauses: list[str] = []
        subject = query.participant_id or query.licence_id
        filtered = bool(query.event_names) or query.start is not None or query.end is not None
        if subject:
            # Only the event filters need history_events; the join's own lower bound keeps
            # PostgreSQL from reading history_events from the start of the log (a merge
            # join otherwise walks its primary key up to the page).
            source = ("history_subjects s JOIN history_events e ON e.position = s.position"
                      if filtered else "history_subjects s")
            clauses.append("s.subject = ?")
            params.append(self.pseudonym(subject))
            if query.participant_id and query.licence_id:
                clauses.append("EXISTS (SELECT 1 FROM history_subjects l WHERE "
                               "l.subject = ? AND l.position = s.position)")
                params.append(self.pseudonym(query.licence_id))
            order = "s.position"
            if filtered:
                clauses.append("e.position > ?")
                params.append(query.after_position)
        else:
            source = "history_events e"
            order = "e.position"
        clauses.append(f"{order} > ?")
        params.append(query.after_position)
        if query.event_names:
            clauses.append(self._in("e.event_name", list(query.event_names), params))
        if query.start is not None:
            clauses.append("e.at_us >= ?")
            params.append(to_microseconds(query.start))
        if query.end is not None:
            clauses.append("e.at_us < ?")
            params.append(to_microseconds(query.end))
        statement = (f"SELECT {order} AS position FROM {source} WHERE "
                     f"{' AND '.join(clauses)} ORDER BY {order} LIMIT {int(query.limit)}")
        return statement, params

    def search(self, query: HistoryQuery) -> list[HistoryRecord]:
        """Returns the records matching ``query`` after catching up with the log."""
        self.catch_up()
        # One statement: the page's positions, then their records and their names.
        positions, params = self._positions_statement(query)
        table, column = events_table(self.recorder), position_column(self.recorder)
        return self._records(
            f"SELECT {_record_columns(column)} FROM ({positions}) p "
            f"JOIN {table} r ON r.{column} = p.position "
            f"LEFT JOIN history_events h ON h.position = p.position ORDER BY p.position",
            params)

    def _records(self, statement: str, params: Sequence[Any]) -> list[HistoryRecord]:
        """Returns the records a statement selecting :func:`_record_columns` finds."""
        records = []
        for position, originator_id, version, topic, state, name in self._fetch(
                statement, params):
            notification = Notification(
                id=int(position),
                originator_id=originator_id if isinstance(originator_id, UUID)
                else UUID(str(originator_id)),
                originator_version=int(version), topic=str(topic), state=bytes(state))
            records.append(HistoryRecord(
                notification, str(name or event_name(notification.topic)),
                self.ledger.mapper))
        return records

    def follow(self, after_position: int, limit: int = 500) -> list[HistoryRecord]:
        """Returns up to ``limit`` records after ``after_position`` in log order, each
        named as the index names it (only records the index has reached)."""
        reached = self.catch_up()
        if reached <= after_position:
            return []
        notifications = self.recorder.select_notifications(
            start=after_position, limit=limit, stop=reached, inclusive_of_start=False)
        if not notifications:
            return []
        names = dict(self._fetch(
            "SELECT position, event_name FROM history_events WHERE position > ? "
            "AND position <= ?", (after_position, notifications[-1].id)))
        return [HistoryRecord(n, str(names.get(n.id) or event_name(n.topic)),
                              self.ledger.mapper)
                for n in notifications]

    def subjects(self, aggregate_id: str) -> tuple[str, ...]:
        """Returns the participants and licences an aggregate concerns (empty if none), as
        stored: pseudonyms when the store is encrypted (see :meth:`concerns`)."""
        self.catch_up()
        return self._known(aggregate_id)[1]

    def concerns(self, aggregate_id: str, subject: str) -> bool:
        """Returns True when the aggregate concerns ``subject`` (a participant or licence
        id), whether subjects are stored pseudonymised or not."""
        return self.pseudonym(subject) in self.subjects(aggregate_id)
