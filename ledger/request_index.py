"""The trade request index: which trade each exchange's request id made.

A trade's aggregate id is named by its exchange licence and exchange trade id (one trade
per exchange trade id, by construction), so the id alone cannot tell that a request id
was used before for a trade with another exchange trade id. This index can: one row per
(requester, request id), primary key on both, written by the recorder in the same
transaction as the trade's event (``ledger.sqlite``, ``ledger.postgres``), so a request id
is either taken together with its trade or not at all. Two writers taking one request id
at once collide on the key; the loser's transaction fails with a conflict and its use case
decides again, finding the winner's row.

Relied on by ``ledger.trading`` (request identity of trades: replay or REQUEST_ID_REUSED);
the rows are derived from the stored trades, which carry requester and request id.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder

from ledger.tables import is_postgres, row_tuples

TABLE = "trade_requests"

SQLITE_TABLE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (requester TEXT NOT NULL, "
                "request_id TEXT NOT NULL, trade_id TEXT NOT NULL, "
                "PRIMARY KEY (requester, request_id)) WITHOUT ROWID")

CHUNK = 400
"""Request ids per lookup statement (SQLite caps the parameters of one statement)."""


class RequestKey(NamedTuple):
    """A trade request id as its requester used it, and the trade it made."""

    requester: str
    request_id: str
    trade_id: UUID


def postgres_table(schema: str) -> str:
    """Returns the index's table name as PostgreSQL names it in ``schema``."""
    return f'"{schema.replace(chr(34), chr(34) * 2)}"."{TABLE}"'


def postgres_create_statement(schema: str) -> str:
    """Returns the statement that creates the index in a PostgreSQL ``schema``."""
    return (f"CREATE TABLE IF NOT EXISTS {postgres_table(schema)} (requester TEXT NOT NULL, "
            "request_id TEXT NOT NULL, trade_id UUID NOT NULL, "
            "PRIMARY KEY (requester, request_id))")


def insert_sqlite(cursor: Any, keys: Sequence[RequestKey]) -> None:
    """Inserts ``keys`` with a SQLite cursor (a key taken already raises IntegrityError)."""
    if keys:
        cursor.executemany(f"INSERT INTO {TABLE} VALUES (?,?,?)",
                           [(k.requester, k.request_id, k.trade_id.hex) for k in keys])


SEPARATOR = "\x1f"
"""Joins a requester's request ids and trade ids into one text parameter each: a control
character, which no request id holds (``ledger.validation.check_text`` refuses them)."""


def postgres_key_columns(keys: Sequence[RequestKey]) -> tuple[bool, tuple[Any, ...]]:
    """Returns whether the keys' columns are joined texts, and the columns: requesters,
    request ids and trade ids, each one text joined by ``SEPARATOR`` for PostgreSQL to
    split (``string_to_array(%s, chr(31))``), or three lists where a request id holds the
    separator (never for a checked request id). psycopg adapts a list element by element
    in Python (about 5 µs a row for the three columns, against well under 1 µs for one
    joined text)."""
    request_ids = SEPARATOR.join([k.request_id for k in keys])
    if request_ids.count(SEPARATOR) != max(len(keys) - 1, 0):
        return False, ([k.requester for k in keys], [k.request_id for k in keys],
                       [k.trade_id for k in keys])
    if not keys:
        return True, (None, None, None)
    return True, (SEPARATOR.join([k.requester for k in keys]), request_ids,
                  SEPARATOR.join([k.trade_id.hex for k in keys]))


POSTGRES_SPLIT_COLUMNS = ("string_to_array(%s, chr(31)), string_to_array(%s, chr(31)), "
                          "string_to_array(%s, chr(31))::uuid[]")
"""The three parameters of ``postgres_key_columns``'s joined texts, split."""
POSTGRES_ARRAY_COLUMNS = "%s::text[], %s::text[], %s::uuid[]"
"""The three parameters of ``postgres_key_columns``'s lists."""


def insert_postgres(cursor: Any, schema: str, keys: Sequence[RequestKey]) -> None:
    """Inserts ``keys`` with a psycopg cursor in one statement; a key taken already
    raises a unique violation."""
    if not keys:
        return
    joined, columns = postgres_key_columns(keys)
    cursor.execute(
        f"INSERT INTO {postgres_table(schema)} (requester, request_id, trade_id) SELECT * "
        f"FROM unnest({POSTGRES_SPLIT_COLUMNS if joined else POSTGRES_ARRAY_COLUMNS})",
        columns)


TRADE_TOPICS = ("ledger.domain.trade:Trade.Recorded", "ledger.domain.trade:Trade.Blocked")
"""Topics of the events that take a request id (a trade's first event)."""


def rebuild(recorder: AggregateRecorder, decode: Callable[[Any], Any],
            page: int = 1000) -> int:
    """Adds the rows of every stored trade missing from the index (a store restored
    from an audit export, or written before the index existed); returns how many.
    ``decode`` turns a stored record into its domain event (it needs the cipher key)."""
    store: Any = recorder
    table = postgres_table(store.datastore.schema) if is_postgres(recorder) else TABLE
    before = _count(store, table)
    start: int | None = None
    while True:
        records = store.select_notifications(start=start, limit=page, topics=TRADE_TOPICS,
                                             inclusive_of_start=False)
        if not records:
            return _count(store, table) - before
        keys = []
        for record in records:
            event = decode(record)
            keys.append(RequestKey(event.requester, event.request_id, event.originator_id))
        with store.datastore.transaction(commit=True) as cursor:
            if is_postgres(recorder):
                cursor.execute(
                    f"INSERT INTO {postgres_table(store.datastore.schema)} "
                    "(requester, request_id, trade_id) SELECT * FROM unnest(%s::text[], "
                    "%s::text[], %s::uuid[]) ON CONFLICT DO NOTHING",
                    ([k.requester for k in keys], [k.request_id for k in keys],
                     [k.trade_id for k in keys]))
            else:
                cursor.executemany(f"INSERT OR IGNORE INTO {TABLE} VALUES (?,?,?)",
                                   [(k.requester, k.request_id, k.trade_id.hex)
                                    for k in keys])
        start = records[-1].id


def _count(store: Any, table: str) -> int:
    with store.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(row_tuples(cursor.fetchall())[0][0])


def trades_of_requests(recorder: AggregateRecorder, requester: str,
                       request_ids: Collection[str]) -> dict[str, UUID]:
    """Returns the trade each of ``request_ids`` of ``requester`` made, for those used
    before."""
    wanted = list(dict.fromkeys(request_ids))
    store: Any = recorder
    found: dict[str, UUID] = {}
    for start in range(0, len(wanted), CHUNK):
        part = wanted[start:start + CHUNK]
        if is_postgres(recorder):
            statement = (f"SELECT request_id, trade_id FROM "
                         f"{postgres_table(store.datastore.schema)} WHERE requester = %s "
                         "AND request_id = ANY(%s)")
            params: tuple[Any, ...] = (requester, part)
        else:
            marks = ",".join("?" for _ in part)
            statement = (f"SELECT request_id, trade_id FROM {TABLE} WHERE requester = ? "
                         f"AND request_id IN ({marks})")
            params = (requester, *part)
        with store.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            rows = row_tuples(cursor.fetchall())
        found.update(_rows(rows))
    return found


def _rows(rows: Iterable[tuple[Any, ...]]) -> dict[str, UUID]:
    return {str(r): t if isinstance(t, UUID) else UUID(str(t)) for r, t in rows}
