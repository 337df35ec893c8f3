"""Shared fixtures: the store under test, SQLite and a real PostgreSQL.

PostgreSQL comes from ``POSTGRES_*`` settings when ``POSTGRES_HOST`` is set; otherwise a
throwaway server is started from the ``pgserver`` wheel once per test session. Each test
gets its own fresh database, so tests never see each other's records.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import make_conninfo


class PostgresServer:
    """Connection facts of a PostgreSQL server the tests may create databases on."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        """Returns a libpq conninfo string for one database."""
        return make_conninfo(host=self.host, port=self.port, user=self.user,
                             password=self.password, dbname=dbname)

    def create_database(self) -> str:
        """Creates a fresh database and returns its name."""
        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drops a test database, closing any connection a test left open."""
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, dbname: str) -> str:
        """Returns the valedger store URL of one database."""
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@:{self.port}/{dbname}?host={quote(self.host)}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"


@contextlib.contextmanager
def operations_guide_roles(server: PostgresServer
                           ) -> Iterator[tuple[PostgresServer, PostgresServer, str]]:
    """Yields an owner and a runtime role set up as ops/README.md says (the owner makes the
    schema; the servers' role may only select, insert and update) and their new database's
    name; drops all three afterwards."""
    tag = uuid.uuid4().hex[:8]
    owner, runtime, name = f"owner_{tag}", f"runtime_{tag}", f"roles_{tag}"
    with psycopg.connect(server.admin_conninfo(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN PASSWORD 'o'")
        admin.execute(f"CREATE ROLE {runtime} LOGIN PASSWORD 'r'")
        admin.execute(f"CREATE DATABASE {name} OWNER {owner}")
    try:
        with psycopg.connect(server.admin_conninfo(name), autocommit=True) as db:
            db.execute(f"GRANT CONNECT ON DATABASE {name} TO {runtime}")
            db.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}")
            db.execute(f"GRANT USAGE ON SCHEMA public TO {runtime}")
            db.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                       f"GRANT SELECT, INSERT, UPDATE ON TABLES TO {runtime}")
            db.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                       f"GRANT USAGE, SELECT ON SEQUENCES TO {runtime}")
        yield (PostgresServer(server.host, server.port, owner, "o"),
               PostgresServer(server.host, server.port, runtime, "r"), name)
    finally:
        with psycopg.connect(server.admin_conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f"DROP ROLE {runtime}")
            admin.execute(f"DROP ROLE {owner}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Returns the configured PostgreSQL, or a throwaway one from pgserver."""
    if os.environ.get("POSTGRES_HOST"):
        yield PostgresServer(
            os.environ["POSTGRES_HOST"],
            int(os.environ.get("POSTGRES_PORT", "5432")),
            os.environ.get("POSTGRES_USER", "postgres"),
            os.environ.get("POSTGRES_PASSWORD", ""),
        )
        return
    import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="valedger-pg-"))
    server: Any = pgserver.get_server(pgdata, cleanup_mode="delete")
    uri = server.get_uri()
    socket_dir = uri.split("host=", 1)[1]
    try:
        yield PostgresServer(socket_dir, 5432, "postgres", "")
    finally:
        server.cleanup()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Returns a fresh, empty store URL: once for SQLite, once for PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    yield from _fresh_database(request.getfixturevalue("postgres_server"))


def _fresh_database(server: PostgresServer) -> Iterator[str]:
    name = server.create_database()
    yield server.url(name)
    with contextlib.suppress(psycopg.Error):  # a lingering server process may hold it
        server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Returns a fresh SQLite store URL."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """Returns a fresh PostgreSQL store URL (the database is dropped afterwards)."""
    yield from _fresh_database(postgres_server)
