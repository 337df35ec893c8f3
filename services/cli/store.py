"""How commands open a store: URL checked first, never created by a command that only reads,
PostgreSQL reached within seconds with the server's own message (never the password).

``READ`` and ``WRITE`` need an existing store with its tables (``valedger db init``);
``CREATE`` (``db init``, ``audit restore``) may make a new one. A SQLite store that does
not exist is refused before anything touches the path, so a mistyped ``--db`` leaves no
file behind.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from ledger import (
    CIPHER_KEY_ENV,
    CIPHER_KEY_FILE_ENV,
    DB_URL_ENV,
    DEFAULT_DB_URL,
    StoreConfig,
    display_url,
    persistence_env,
)
from services.cli.errors import UserError, stderr
from services.settings import DEPRECATED

CONNECT_TIMEOUT_SECONDS = 5
EVENTS_TABLE = "stored_events"
"""The events table on SQLite; PostgreSQL names it after the application."""
POSTGRES_EVENTS_TABLE = "valedger_events"
AUDIT_TABLE = "audit_state"


class Access(enum.Enum):
    """What a command does to the store."""

    READ = "read"
    WRITE = "write"
    CREATE = "create"


def environment(name: str) -> str | None:
    """Returns the variable ``name``, or its deprecated spelling (with a warning)."""
    if name in os.environ:
        return os.environ[name]
    for old, new in DEPRECATED.items():
        if new == name and old in os.environ:
            stderr.print(f"[yellow]warning:[/yellow] {old} is deprecated: use {new}")
            return os.environ[old]
    return None


def store_url(db: str | None) -> str:
    """Returns the store URL of ``--db`` (or VALEDGER_DB, or the default), checked."""
    url = db if db is not None else environment(DB_URL_ENV)
    if url is None:
        return DEFAULT_DB_URL
    if not url.strip():
        source = "--db" if db is not None else DB_URL_ENV
        raise UserError(f"{source} is empty: give a store URL such as {DEFAULT_DB_URL}")
    parsed = urlparse(url)
    if parsed.scheme == "sqlite" and not url.startswith("sqlite:///"):
        raise UserError(f"malformed SQLite URL {display_url(url)!r}: write sqlite:///relative/"
                        "path or sqlite:////absolute/path")
    if parsed.scheme not in ("sqlite", "postgresql", "postgres"):
        raise UserError(f"unsupported store URL {display_url(url)!r}: use sqlite:///path or "
                        "postgresql://user@host:port/db")
    return url


def resolve_cipher_key(key: str | None, key_file: Path | None) -> str | None:
    """Returns the cipher key of ``--cipher-key``, ``--cipher-key-file`` or the environment."""
    if key and key_file:
        raise UserError("give --cipher-key or --cipher-key-file, not both")
    if key_file is None and not key:
        named = environment(CIPHER_KEY_FILE_ENV)
        key_file = Path(named) if named else None
    if key_file is not None:
        text = key_file.read_text().strip()
        if not text:
            raise UserError(f"cipher key file {key_file} is empty")
        return text
    return key or environment(CIPHER_KEY_ENV) or None


def open_config(db: str | None, key: str | None = None, access: Access = Access.READ,
                audit_tables: bool = False) -> StoreConfig:
    """Returns the StoreConfig of a store that ``access`` may use, or raises UserError.

    For READ and WRITE the store must exist and hold its tables (``audit_tables``: the
    audit log's too); nothing is created at a mistyped path.
    """
    url = store_url(db)
    config = StoreConfig(url, key, create_tables=access is Access.CREATE,
                         extra={"POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS)})
    if config.is_postgres:
        check_postgres(url, access, audit_tables)
    else:
        check_sqlite(url, access, audit_tables)
    return config


def sqlite_path(url: str) -> Path | None:
    """Returns the file of a SQLite URL (None for an in-memory store or another kind)."""
    parsed = urlparse(url)
    if parsed.scheme != "sqlite" or parsed.netloc:
        return None
    path = unquote(parsed.path[1:])
    return Path(path) if path and path != ":memory:" else None


def check_sqlite(url: str, access: Access, audit_tables: bool) -> None:
    """Raises UserError unless the SQLite store can be used as ``access`` says."""
    path = sqlite_path(url)
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a SQLite store")
    if access is Access.CREATE:
        return
    if not path.exists():
        raise UserError(f"no store at {path}: create it with `valedger db init --db {url}`")
    missing = missing_sqlite_tables(path, audit_tables)
    if missing:
        raise UserError(f"the store {path} has no {missing} table: create the tables with "
                        f"`valedger db init --db {url}`")


def missing_sqlite_tables(path: Path, audit_tables: bool) -> str | None:
    """Returns the first required table the SQLite file lacks (None when all are there),
    reading the file without writing to it."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path} is not a SQLite store: {exc}") from None
    for table in (EVENTS_TABLE, AUDIT_TABLE) if audit_tables else (EVENTS_TABLE,):
        if table not in names:
            return table
    return None


def sqlite_is_new(url: str) -> bool:
    """Returns True when a SQLite URL names a file that does not exist yet, or an empty
    one (what `valedger serve` creates its tables in)."""
    path = sqlite_path(url)
    return path is not None and (not path.exists() or path.stat().st_size == 0)


def check_postgres(url: str, access: Access, audit_tables: bool) -> None:
    """Raises UserError unless the PostgreSQL store answers within a few seconds (and
    holds its tables unless ``access`` is CREATE); the server's message, never the
    password."""
    import psycopg

    env = persistence_env(url)
    password = env["POSTGRES_PASSWORD"]
    schema = env.get("POSTGRES_SCHEMA", "public")
    where = display_url(url)
    try:
        with psycopg.connect(
            host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]),
            user=env["POSTGRES_USER"], password=password or None,
            dbname=env["POSTGRES_DBNAME"], connect_timeout=CONNECT_TIMEOUT_SECONDS,
        ) as connection:
            found = connection.execute(
                "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = %s), "
                "to_regclass(%s), to_regclass(%s)",
                (schema, f'"{schema}".{POSTGRES_EVENTS_TABLE}', f'"{schema}".{AUDIT_TABLE}'),
            ).fetchone()
    except psycopg.Error as exc:
        message = " ".join(str(exc).split())
        if password:
            message = message.replace(password, "***")
        raise UserError(f"cannot connect to {where}: {message}") from None
    assert found is not None
    has_schema, events, audit = found
    if access is Access.CREATE:
        return
    if not has_schema:
        raise UserError(f"{where}: no schema {schema!r} in the database")
    if events is None or (audit_tables and audit is None):
        table = POSTGRES_EVENTS_TABLE if events is None else AUDIT_TABLE
        raise UserError(f"the store {where} has no {table} table: create the tables with "
                        "`valedger db init --db URL`")
