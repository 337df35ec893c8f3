"""The audit log's own tables, kept in the ledger's database (SQLite or PostgreSQL).

``audit_state``       one row: tracking position (last integrated notification id) and the
                      compact range (tree size + right-edge subtree hashes);
``audit_leaves``      one row per leaf: leaf index, notification id, event key, leaf hash;
``audit_nodes``       every completed perfect subtree above the leaves: (level, index, hash);
``audit_checkpoints`` every signed checkpoint, never updated: sequence number, size, root,
                      the signed note and the consistency proof from the previous one;
``audit_cosignatures`` witness cosignature lines collected for a checkpoint (seq, witness,
                      line, timestamp): the cosigned note is the signed note followed by them;
``audit_witnesses``   per witness, the size of the latest checkpoint it cosigned.

The module is long because it is the one owner of these tables: their schema and every
statement on them, in both SQL dialects, live here and nowhere else.

The follower writes all of them in one transaction per batch. On PostgreSQL that
transaction first takes a transaction-level advisory lock, so exactly one server advances
the tree at a time; on SQLite ``BEGIN IMMEDIATE`` takes the database's write lock.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from ledger.tables import row_tuples
from tlog.compact_range import CompactRange
from tlog.cosignature import add_signatures, parse_signature_lines
from tlog.hashes import HASH_SIZE
from tlog.nodes import NodeID

STATE_TABLE = "audit_state"
LEAVES_TABLE = "audit_leaves"
NODES_TABLE = "audit_nodes"
CHECKPOINTS_TABLE = "audit_checkpoints"
COSIGNATURES_TABLE = "audit_cosignatures"
WITNESSES_TABLE = "audit_witnesses"

ADVISORY_LOCK_KEY = 0x76616C6564676572  # "valedger": the key of the follower's lock
"""Key of the PostgreSQL advisory lock that serialises tree advancement."""


class AuditStoreError(RuntimeError):
    """The audit tables are missing, unreadable, or contradict themselves."""


@dataclass(frozen=True)
class TreeState:
    """Where the follower stands: the last integrated notification id and the tree."""

    position: int
    compact: CompactRange

    @property
    def size(self) -> int:
        """Returns the number of leaves."""
        return self.compact.size


@dataclass(frozen=True)
class LeafRef:
    """Where one event sits in the tree."""

    leaf_index: int
    notification_id: int
    originator_id: UUID | str
    originator_version: int
    leaf_hash: bytes


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as kept in ``audit_checkpoints``."""

    seq: int
    size: int
    root_hash: bytes
    note: str
    consistency: tuple[bytes, ...]
    created_at: str
    cosignatures: tuple[str, ...] = ()
    """Witness cosignature lines (each ending in a newline), by witness name."""

    @property
    def cosigned_note(self) -> str:
        """Returns the signed note with the collected cosignature lines appended (lines by
        a key that already signed the note are left out)."""
        if not self.cosignatures:
            return self.note
        return add_signatures(self.note, parse_signature_lines("".join(self.cosignatures)))


def split_hashes(blob: bytes) -> tuple[bytes, ...]:
    """Returns the 32-byte hashes concatenated in ``blob``."""
    if len(blob) % HASH_SIZE:
        raise AuditStoreError("stored hash list has a length that is not a multiple of 32")
    return tuple(bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE))


class AuditTransaction(ABC):
    """Reads and writes of the audit tables inside one database transaction."""

    def __init__(self, store: AuditStore, cursor: Any) -> None:
        self.store = store
        self.cursor = cursor

    def _q(self, sql: str) -> str:
        return self.store.sql(sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Runs one statement."""
        self.cursor.execute(self._q(sql), params)

    def fetchall(self) -> list[Any]:
        """Returns the rows of the last statement as tuples."""
        return row_tuples(self.cursor.fetchall())

    def read_state(self) -> TreeState:
        """Returns the follower's position and compact range (empty tree when none)."""
        self.execute(f"SELECT position, compact FROM {self.store.t(STATE_TABLE)} WHERE id = 1")
        rows = self.fetchall()
        if not rows:
            return TreeState(0, CompactRange())
        position, blob = rows[0]
        try:
            return TreeState(int(position), CompactRange.from_bytes(bytes(blob)))
        except ValueError as e:
            raise AuditStoreError(f"stored tree state is unreadable: {e}") from None

    def write_state(self, state: TreeState) -> None:
        """Stores the follower's position and compact range."""
        self.execute(
            f"INSERT INTO {self.store.t(STATE_TABLE)} (id, position, tree_size, compact) "
            "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET position = excluded.position, "
            "tree_size = excluded.tree_size, compact = excluded.compact",
            (state.position, state.size, state.compact.to_bytes()),
        )

    @abstractmethod
    def notifications_after(
        self, position: int, limit: int
    ) -> list[tuple[int, UUID | str, int, str, bytes]]:
        """Returns up to ``limit`` stored records with notification id > ``position``, as
        (notification_id, originator_id, version, topic, state), read in this transaction.
        """

    @abstractmethod
    def insert_leaves(self, rows: Sequence[tuple[int, int, Any, int, bytes]]) -> None:
        """Inserts (leaf_index, notification_id, originator_id, version, leaf_hash) rows."""

    @abstractmethod
    def insert_nodes(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        """Inserts (level, index, hash) rows of completed subtrees above the leaves."""

    def get_nodes(self, ids: Iterable[NodeID]) -> dict[NodeID, bytes]:
        """Returns the stored hashes of the given node ids, in one query."""
        wanted = set(ids)
        leaves = sorted(i for lvl, i in wanted if lvl == 0)
        inner = sorted((lvl, i) for lvl, i in wanted if lvl > 0)
        parts: list[str] = []
        params: list[int] = []
        if leaves:
            parts.append(
                f"SELECT 0, leaf_index, leaf_hash FROM {self.store.t(LEAVES_TABLE)} "
                f"WHERE leaf_index IN ({','.join('?' * len(leaves))})"
            )
            params.extend(leaves)
        if inner:
            # OR of equalities, not a row-value IN list: both SQLite and PostgreSQL turn
            # this into one primary-key probe per node.
            marks = " OR ".join("(level = ? AND idx = ?)" for _ in inner)
            parts.append(f"SELECT level, idx, hash FROM {self.store.t(NODES_TABLE)} "
                         f"WHERE {marks}")
            params.extend(x for pair in inner for x in pair)
        if not parts:
            return {}
        self.execute(" UNION ALL ".join(parts), params)
        return {(int(lvl), int(i)): bytes(h) for lvl, i, h in self.fetchall()}

    def upper_nodes(self, floor: int) -> dict[NodeID, bytes]:
        """Returns every stored node at level ``floor`` or above, in one range scan."""
        self.execute(f"SELECT level, idx, hash FROM {self.store.t(NODES_TABLE)} "
                     "WHERE level >= ?", (floor,))
        return {(int(lvl), int(i)): bytes(h) for lvl, i, h in self.fetchall()}

    def tree_size(self) -> int:
        """Returns the number of leaves in the tree (0 when none)."""
        self.execute(f"SELECT tree_size FROM {self.store.t(STATE_TABLE)} WHERE id = 1")
        rows = self.fetchall()
        return int(rows[0][0]) if rows else 0

    def find_leaf(self, originator_id: UUID | str, version: int) -> LeafRef | None:
        """Returns where the event ``originator_id:version`` sits, or None."""
        self.execute(
            f"SELECT leaf_index, notification_id, leaf_hash FROM {self.store.t(LEAVES_TABLE)} "
            "WHERE originator_id = ? AND originator_version = ?",
            (self.store.db_id(originator_id), version),
        )
        rows = self.fetchall()
        if not rows:
            return None
        index, nid, h = rows[0]
        return LeafRef(int(index), int(nid), originator_id, version, bytes(h))

    def leaf_at(self, leaf_index: int) -> LeafRef | None:
        """Returns the leaf at ``leaf_index``, or None."""
        self.execute(
            f"SELECT notification_id, originator_id, originator_version, leaf_hash "
            f"FROM {self.store.t(LEAVES_TABLE)} WHERE leaf_index = ?", (leaf_index,),
        )
        rows = self.fetchall()
        if not rows:
            return None
        nid, oid, version, h = rows[0]
        return LeafRef(leaf_index, int(nid), self.store.py_id(oid), int(version), bytes(h))

    def checkpoints(self, since_seq: int = 0) -> list[StoredCheckpoint]:
        """Returns the stored checkpoints with ``seq > since_seq``, oldest first, with
        their cosignatures."""
        self.execute(
            f"SELECT seq, tree_size, root_hash, note, consistency, created_at "
            f"FROM {self.store.t(CHECKPOINTS_TABLE)} WHERE seq > ? ORDER BY seq", (since_seq,),
        )
        found = [self._checkpoint(r) for r in self.fetchall()]
        return self._with_cosignatures(found, "seq > ?", since_seq)

    def _with_cosignatures(
        self, found: list[StoredCheckpoint], where: str, param: int
    ) -> list[StoredCheckpoint]:
        if not found:
            return found
        self.execute(
            f"SELECT seq, line FROM {self.store.t(COSIGNATURES_TABLE)} WHERE {where} "
            "ORDER BY seq, witness", (param,),
        )
        lines: dict[int, list[str]] = {}
        for seq, line in self.fetchall():
            lines.setdefault(int(seq), []).append(str(line))
        if not lines:
            return found
        return [replace(cp, cosignatures=tuple(lines.get(cp.seq, ()))) for cp in found]

    def insert_cosignature(self, seq: int, witness: str, line: str, timestamp: int) -> None:
        """Keeps one witness's cosignature line of checkpoint ``seq`` (a second one of the
        same witness is ignored)."""
        self.execute(
            f"INSERT INTO {self.store.t(COSIGNATURES_TABLE)} (seq, witness, line, cosigned_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", (seq, witness, line, timestamp),
        )

    def cosigned_seqs(self) -> dict[str, int]:
        """Returns, per witness label, the newest checkpoint number it cosigned."""
        self.execute(
            f"SELECT witness, MAX(seq) FROM {self.store.t(COSIGNATURES_TABLE)} GROUP BY witness"
        )
        return {str(w): int(n) for w, n in self.fetchall()}

    def witness_sizes(self) -> dict[str, int]:
        """Returns, per witness label, the size of the latest checkpoint it cosigned."""
        self.execute(f"SELECT witness, tree_size FROM {self.store.t(WITNESSES_TABLE)}")
        return {str(w): int(n) for w, n in self.fetchall()}

    def set_witness_size(self, witness: str, size: int, at: str) -> None:
        """Records that ``witness`` holds the checkpoint of ``size`` (as it told us)."""
        self.execute(
            f"INSERT INTO {self.store.t(WITNESSES_TABLE)} (witness, tree_size, updated_at) "
            "VALUES (?, ?, ?) ON CONFLICT (witness) DO UPDATE SET "
            "tree_size = excluded.tree_size, updated_at = excluded.updated_at",
            (witness, size, at),
        )

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """Returns the newest stored checkpoint, or None."""
        self.execute(
            f"SELECT seq, tree_size, root_hash, note, consistency, created_at "
            f"FROM {self.store.t(CHECKPOINTS_TABLE)} ORDER BY seq DESC LIMIT 1"
        )
        return self._one_with_cosignatures(self.fetchall())

    def _one_with_cosignatures(self, rows: list[Any]) -> StoredCheckpoint | None:
        if not rows:
            return None
        cp = self._checkpoint(rows[0])
        return self._with_cosignatures([cp], "seq = ?", cp.seq)[0]

    def checkpoint_covering(self, leaf_index: int) -> StoredCheckpoint | None:
        """Returns the newest checkpoint whose tree contains ``leaf_index``, or None."""
        self.execute(
            f"SELECT seq, tree_size, root_hash, note, consistency, created_at "
            f"FROM {self.store.t(CHECKPOINTS_TABLE)} WHERE tree_size > ? "
            "ORDER BY seq DESC LIMIT 1", (leaf_index,),
        )
        return self._one_with_cosignatures(self.fetchall())

    def insert_checkpoint(self, cp: StoredCheckpoint) -> None:
        """Adds one checkpoint (rows are never updated)."""
        self.execute(
            f"INSERT INTO {self.store.t(CHECKPOINTS_TABLE)} "
            "(seq, tree_size, root_hash, note, consistency, created_at) VALUES (?,?,?,?,?,?)",
            (cp.seq, cp.size, cp.root_hash, cp.note, b"".join(cp.consistency), cp.created_at),
        )

    @abstractmethod
    def table_names(self) -> list[str]:
        """Returns the names of every table of the store's database (or schema)."""

    def nonempty_tables(self, cap: int = 1000) -> dict[str, int]:
        """Returns the tables that hold rows, with their row counts (at most ``cap`` + 1:
        enough to say what is there without counting a large table)."""
        found: dict[str, int] = {}
        for name in self.table_names():
            self.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {self.store.quote(name)} LIMIT ?) AS t",
                (cap + 1,),
            )
            (count,) = self.fetchall()[0]
            if count:
                found[name] = int(count)
        return found

    @staticmethod
    def _checkpoint(row: Sequence[Any]) -> StoredCheckpoint:
        seq, size, root, note, consistency, created = row
        return StoredCheckpoint(int(seq), int(size), bytes(root), str(note),
                                split_hashes(bytes(consistency)), str(created))


class AuditStore(ABC):
    """The audit tables next to an eventsourcing application recorder."""

    placeholder = "?"

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder
        self.datastore: Any = cast(Any, recorder).datastore
        self.events_table: str = cast(Any, recorder).events_table_name

    @staticmethod
    def for_recorder(recorder: ApplicationRecorder) -> AuditStore:
        """Returns the store for a SQLite or PostgreSQL application recorder."""
        # By the eventsourcing class a recorder derives from, so subclasses (such as
        # ledger.postgres.LedgerPostgresRecorder) keep their audit log.
        modules = [cls.__module__ for cls in type(recorder).__mro__]
        if any(m.startswith("eventsourcing.sqlite") for m in modules):
            return SQLiteAuditStore(recorder)
        if any(m.startswith("eventsourcing.postgres") for m in modules):
            return PostgresAuditStore(recorder)
        raise AuditStoreError(
            f"the audit log needs SQLite or PostgreSQL, not {type(recorder).__module__}"
        )

    def sql(self, statement: str) -> str:
        """Returns ``statement`` with this database's placeholders."""
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def t(self, table: str) -> str:
        """Returns the qualified name of one of the audit tables."""
        return table

    def quote(self, table: str) -> str:
        """Returns the qualified, quoted name of any table of the store."""
        return '"' + table.replace('"', '""') + '"'

    @property
    def events(self) -> str:
        """Returns the qualified name of the stored events table."""
        return self.t(self.events_table)

    def db_id(self, originator_id: UUID | str) -> Any:
        """Returns an originator id as the events table stores it."""
        return originator_id

    def py_id(self, value: Any) -> UUID | str:
        """Returns the originator id of a stored value."""
        return cast(UUID | str, value)

    @abstractmethod
    def create_table_statements(self) -> list[str]:
        """Returns the CREATE statements of the audit tables."""

    def create_tables(self) -> None:
        """Creates the audit tables when they do not exist."""
        with self.write(lock=False) as tx:
            assert tx is not None
            for statement in self.create_table_statements():
                tx.cursor.execute(statement)

    @abstractmethod
    def write(self, lock: bool = True) -> contextlib.AbstractContextManager[
        AuditTransaction | None
    ]:
        """Returns a write transaction, or None when another instance holds the lock."""

    @abstractmethod
    def read(self, snapshot: bool = True) -> contextlib.AbstractContextManager[AuditTransaction]:
        """Returns a read-only transaction; ``snapshot=False`` reads without one (enough
        for proofs: stored nodes never change once the state that covers them is read)."""

    @abstractmethod
    def events_page(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Returns stored records joined with their leaf rows, by notification id.

        Each row: (notification_id, originator_id, originator_version, topic, state,
        leaf_index or None, leaf_hash or None), for notification ids > ``after``.
        """

    notification_column = "notification_id"
    """The events table's notification id column."""

    def nth_event_after(self, after: int, n: int) -> int | None:
        """Returns the notification id of the ``n``-th stored record after ``after``, or
        None when fewer follow (the parallel audit's chunk boundaries)."""
        nid = self.notification_column
        with self.read(snapshot=False) as tx:
            tx.execute(f"SELECT {nid} FROM {self.events} WHERE {nid} > ? ORDER BY {nid} "
                       "LIMIT 1 OFFSET ?", (after, n - 1))
            rows = tx.fetchall()
        return int(rows[0][0]) if rows else None

    def count_events_after(self, after: int) -> int:
        """Returns how many stored records follow notification id ``after``."""
        nid = self.notification_column
        with self.read(snapshot=False) as tx:
            tx.execute(f"SELECT COUNT(*) FROM {self.events} WHERE {nid} > ?", (after,))
            return int(tx.fetchall()[0][0])

    def _events_page_sql(self, nid: str, topic: str = "e.topic", state: str = "e.state") -> str:
        return (
            f"SELECT e.{nid}, e.originator_id, e.originator_version, {topic}, {state}, "
            f"l.leaf_index, l.leaf_hash FROM {self.events} e "
            f"LEFT JOIN {self.t(LEAVES_TABLE)} l ON l.originator_id = e.originator_id "
            "AND l.originator_version = e.originator_version "
            f"WHERE e.{nid} > ? ORDER BY e.{nid} LIMIT ?"
        )


class _SQLiteTransaction(AuditTransaction):
    def notifications_after(
        self, position: int, limit: int
    ) -> list[tuple[int, UUID | str, int, str, bytes]]:
        # Read on this connection: an in-memory SQLite database admits no second reader
        # while the write transaction is open.
        self.cursor.execute(
            f"SELECT rowid, originator_id, originator_version, CAST(topic AS BLOB), "
            f"CAST(state AS BLOB) FROM {self.store.events_table} WHERE rowid > ? "
            "ORDER BY rowid LIMIT ?",
            (position, limit),
        )
        convert = self.store.py_id
        return [
            (r[0], convert(r[1]), r[2], bytes(r[3] or b"").decode("utf-8", "replace"),
             bytes(r[4] or b""))
            for r in self.cursor.fetchall()
        ]

    def table_names(self) -> list[str]:
        self.cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return [str(r[0]) for r in self.cursor.fetchall()]

    def insert_leaves(self, rows: Sequence[tuple[int, int, Any, int, bytes]]) -> None:
        self.cursor.executemany(
            f"INSERT INTO {LEAVES_TABLE} (leaf_index, notification_id, originator_id, "
            "originator_version, leaf_hash) VALUES (?,?,?,?,?)", rows,
        )

    def insert_nodes(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        self.cursor.executemany(
            f"INSERT INTO {NODES_TABLE} (level, idx, hash) VALUES (?,?,?)", rows
        )


class SQLiteAuditStore(AuditStore):
    """Audit tables in the ledger's SQLite file."""

    def create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "position INTEGER NOT NULL, tree_size INTEGER NOT NULL, compact BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {LEAVES_TABLE} (leaf_index INTEGER PRIMARY KEY, "
            "notification_id INTEGER NOT NULL, originator_id TEXT NOT NULL, "
            "originator_version INTEGER NOT NULL, leaf_hash BLOB NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {LEAVES_TABLE}_event ON {LEAVES_TABLE} "
            "(originator_id, originator_version)",
            f"CREATE TABLE IF NOT EXISTS {NODES_TABLE} (level INTEGER NOT NULL, "
            "idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS_TABLE} (seq INTEGER PRIMARY KEY, "
            "tree_size INTEGER NOT NULL, root_hash BLOB NOT NULL, note TEXT NOT NULL, "
            "consistency BLOB NOT NULL, created_at TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {COSIGNATURES_TABLE} (seq INTEGER NOT NULL, "
            "witness TEXT NOT NULL, line TEXT NOT NULL, cosigned_at INTEGER NOT NULL, "
            "PRIMARY KEY (seq, witness))",
            f"CREATE TABLE IF NOT EXISTS {WITNESSES_TABLE} (witness TEXT PRIMARY KEY, "
            "tree_size INTEGER NOT NULL, updated_at TEXT NOT NULL)",
        ]

    def db_id(self, originator_id: UUID | str) -> Any:
        # eventsourcing's SQLite recorder stores UUIDs as 32 hex digits.
        return originator_id.hex if isinstance(originator_id, UUID) else originator_id

    def py_id(self, value: Any) -> UUID | str:
        return cast(Any, self.recorder).convert_originator_id(value)

    @contextlib.contextmanager
    def write(self, lock: bool = True) -> Iterator[AuditTransaction | None]:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            # IMMEDIATE takes the write lock now, so the state we read cannot go stale.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteTransaction(self, cursor)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextlib.contextmanager
    def read(self, snapshot: bool = True) -> Iterator[AuditTransaction]:
        with self.datastore.get_connection(commit=False) as conn:
            cursor = conn.cursor()
            if not snapshot:
                yield _SQLiteTransaction(self, cursor)
                return
            cursor.execute("BEGIN")
            try:
                yield _SQLiteTransaction(self, cursor)
            finally:
                conn.rollback()

    notification_column = "rowid"

    def events_page(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        # Read topic and state as bytes: a row edited by hand may hold TEXT or bad UTF-8,
        # which must show up as a changed record rather than crash the audit.
        sql = self._events_page_sql(
            "rowid", "CAST(e.topic AS BLOB)", "CAST(e.state AS BLOB)"
        )
        with self.read() as tx:
            tx.execute(sql, (after, limit))
            rows = tx.fetchall()
        convert = self.py_id
        return [
            (r[0], convert(r[1]), r[2], bytes(r[3] or b"").decode("utf-8", "replace"),
             bytes(r[4] or b""), r[5], r[6])
            for r in rows
        ]


class _PostgresTransaction(AuditTransaction):
    def notifications_after(
        self, position: int, limit: int
    ) -> list[tuple[int, UUID | str, int, str, bytes]]:
        self.cursor.execute(
            f"SELECT notification_id, originator_id, originator_version, topic, state FROM "
            f"{self.store.events} WHERE notification_id > %s ORDER BY notification_id "
            "LIMIT %s", (position, limit), prepare=True,
        )
        return [(r[0], r[1], r[2], r[3], bytes(r[4])) for r in self.cursor.fetchall()]

    def table_names(self) -> list[str]:
        self.cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE' ORDER BY table_name", (self.store.datastore.schema,),
        )
        return [str(r[0]) for r in self.cursor.fetchall()]

    def insert_leaves(self, rows: Sequence[tuple[int, int, Any, int, bytes]]) -> None:
        with self.cursor.copy(
            f"COPY {self.store.t(LEAVES_TABLE)} (leaf_index, notification_id, originator_id, "
            "originator_version, leaf_hash) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)

    def insert_nodes(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        with self.cursor.copy(
            f"COPY {self.store.t(NODES_TABLE)} (level, idx, hash) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)


class _PostgresReader(_PostgresTransaction):
    def get_nodes(self, ids: Iterable[NodeID]) -> dict[NodeID, bytes]:
        # One statement of fixed shape (arrays, not a list of terms), so PostgreSQL plans it
        # once and psycopg prepares it: a proof costs a single round trip here.
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        leaves = [i for lvl, i in wanted if lvl == 0]
        levels = [lvl for lvl, _ in wanted if lvl > 0]
        idxs = [i for lvl, i in wanted if lvl > 0]
        self.cursor.execute(
            f"SELECT 0, leaf_index, leaf_hash FROM {self.store.t(LEAVES_TABLE)} "
            "WHERE leaf_index = ANY(%s::bigint[]) UNION ALL "
            f"SELECT n.level, n.idx, n.hash FROM {self.store.t(NODES_TABLE)} n "
            "JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) "
            "ON n.level = w.level AND n.idx = w.idx",
            (leaves, levels, idxs), prepare=True,
        )
        return {(int(lvl), int(i)): bytes(h) for lvl, i, h in self.cursor.fetchall()}


class PostgresAuditStore(AuditStore):
    """Audit tables in the ledger's PostgreSQL database (same schema as the events)."""

    placeholder = "%s"

    def t(self, table: str) -> str:
        schema = self.datastore.schema.replace('"', '""')
        return f'"{schema}"."{table}"'

    def quote(self, table: str) -> str:
        return self.t(table.replace('"', '""'))

    def create_table_statements(self) -> list[str]:
        id_type = "uuid" if self.datastore.originator_id_type == "uuid" else "text"
        return [
            f"CREATE TABLE IF NOT EXISTS {self.t(STATE_TABLE)} (id smallint PRIMARY KEY "
            "CHECK (id = 1), position bigint NOT NULL, tree_size bigint NOT NULL, "
            "compact bytea NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.t(LEAVES_TABLE)} (leaf_index bigint PRIMARY KEY, "
            f"notification_id bigint NOT NULL, originator_id {id_type} NOT NULL, "
            "originator_version bigint NOT NULL, leaf_hash bytea NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {LEAVES_TABLE}_event ON {self.t(LEAVES_TABLE)} "
            "(originator_id, originator_version)",
            f"CREATE TABLE IF NOT EXISTS {self.t(NODES_TABLE)} (level smallint NOT NULL, "
            "idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx))",
            f"CREATE TABLE IF NOT EXISTS {self.t(CHECKPOINTS_TABLE)} (seq bigint PRIMARY KEY, "
            "tree_size bigint NOT NULL, root_hash bytea NOT NULL, note text NOT NULL, "
            "consistency bytea NOT NULL, created_at text NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.t(COSIGNATURES_TABLE)} (seq bigint NOT NULL, "
            "witness text NOT NULL, line text NOT NULL, cosigned_at bigint NOT NULL, "
            "PRIMARY KEY (seq, witness))",
            f"CREATE TABLE IF NOT EXISTS {self.t(WITNESSES_TABLE)} (witness text PRIMARY KEY, "
            "tree_size bigint NOT NULL, updated_at text NOT NULL)",
        ]

    def create_tables(self) -> None:
        # Two servers starting together must not race on CREATE ... IF NOT EXISTS.
        with self.write(lock=True, wait=True) as tx:
            assert tx is not None
            for statement in self.create_table_statements():
                tx.cursor.execute(statement)

    @contextlib.contextmanager
    def write(self, lock: bool = True, wait: bool = False) -> Iterator[AuditTransaction | None]:
        from psycopg.rows import tuple_row

        with self.datastore.get_connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=tuple_row)
            if lock:
                if wait:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
                else:
                    cursor.execute(
                        "SELECT pg_try_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,)
                    )
                    row = cursor.fetchone()
                    if not row or not row[0]:
                        yield None
                        return
            yield _PostgresTransaction(self, cursor)

    @contextlib.contextmanager
    def read(self, snapshot: bool = True) -> Iterator[AuditTransaction]:
        from psycopg.rows import tuple_row

        if not snapshot:
            with self.datastore.get_connection() as conn:
                yield _PostgresReader(self, conn.cursor(row_factory=tuple_row))
            return
        with self.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield _PostgresReader(self, cursor)

    def events_page(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        with self.datastore.get_connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.execute(self.sql(self._events_page_sql("notification_id")), (after, limit))
            return cursor.fetchall()
