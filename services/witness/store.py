"""The witness's own store: one SQLite file with, per log origin, the latest checkpoint
it cosigned, and the signed checkpoints it refused as inconsistent (evidence).

Every change is one ``BEGIN IMMEDIATE`` transaction committed with ``synchronous=FULL``
before the witness answers, so a crash (kill -9) at any point leaves either the old or the
new state, never a cosignature of a state that was not stored.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class WitnessedState:
    """The latest checkpoint the witness cosigned for one origin."""

    origin: str
    size: int
    root_hash: bytes
    note: str


class WitnessStore:
    """The SQLite file of one witness (safe to share between threads and processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                     timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS witnessed (origin TEXT PRIMARY KEY, "
            "tree_size INTEGER NOT NULL, root_hash BLOB NOT NULL, note TEXT NOT NULL, "
            "updated_at TEXT NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, "
            "reason TEXT NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL)"
        )

    def close(self) -> None:
        """Closes the file."""
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """Returns a cursor inside a write transaction, committed on a normal exit."""
        with self._lock:
            cursor = self._conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @staticmethod
    def read(cursor: sqlite3.Cursor, origin: str) -> WitnessedState | None:
        """Returns the stored state of ``origin`` in the cursor's transaction, or None."""
        row = cursor.execute(
            "SELECT tree_size, root_hash, note FROM witnessed WHERE origin = ?", (origin,)
        ).fetchone()
        return None if row is None else WitnessedState(origin, int(row[0]), bytes(row[1]),
                                                       str(row[2]))

    @staticmethod
    def write(cursor: sqlite3.Cursor, state: WitnessedState) -> None:
        """Stores ``state`` as the latest cosigned checkpoint of its origin."""
        cursor.execute(
            "INSERT INTO witnessed (origin, tree_size, root_hash, note, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
            "tree_size = excluded.tree_size, root_hash = excluded.root_hash, "
            "note = excluded.note, updated_at = excluded.updated_at",
            (state.origin, state.size, state.root_hash, state.note,
             datetime.now(UTC).isoformat()),
        )

    @staticmethod
    def refuse(cursor: sqlite3.Cursor, origin: str, reason: str, note: str) -> None:
        """Keeps a validly signed checkpoint that was refused, as evidence."""
        cursor.execute(
            "INSERT INTO refused (origin, reason, note, at) VALUES (?, ?, ?, ?)",
            (origin, reason, note, datetime.now(UTC).isoformat()),
        )

    def state(self, origin: str) -> WitnessedState | None:
        """Returns the latest cosigned checkpoint of ``origin``, or None."""
        with self._lock:
            return self.read(self._conn.cursor(), origin)

    def refused(self, origin: str) -> list[tuple[str, str]]:
        """Returns (reason, note) of every refused checkpoint of ``origin``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT reason, note FROM refused WHERE origin = ? ORDER BY id", (origin,)
            ).fetchall()
        return [(str(r), str(n)) for r, n in rows]
