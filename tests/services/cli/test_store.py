"""Opening stores from the command line: mistyped paths create nothing, malformed and
empty URLs are refused, PostgreSQL mistakes are told within seconds in one line."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import PostgresServer
from tests.services.cli.real_cli import valedger
from tlog.note import NoteSigner

PUBLIC_KEY = NoteSigner.generate("valedger.test/x").verifier.vkey


def commands_that_read(url: str, tmp_path: Path) -> list[list[str]]:
    """Returns commands that only read the store at ``url``."""
    return [
        ["report", "--out", str(tmp_path / "report"), "--db", url],
        ["audit", "export", "--out", str(tmp_path / "e.bin"), "--db", url],
        ["audit", "export", "--no-catch-up", "--out", str(tmp_path / "e.bin"), "--db", url],
        ["audit", "verify", "--db", url, "--public-key", str(tmp_path / "audit.pub")],
        ["audit", "prove", "--event", "00000000-0000-0000-0000-000000000001:1", "--db", url],
    ]


def test_mistyped_sqlite_path_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "audit.pub").write_text(PUBLIC_KEY)
    typo = tmp_path / "no-such-dir" / "ledgr.db"
    for args in commands_that_read(f"sqlite:///{typo}", tmp_path):
        done = valedger(*args)
        assert done.code == 2, (args, done.stderr)
        assert done.error_lines == [
            f"error: no store at {typo}: create it with `valedger db init --db "
            f"sqlite:///{typo}`"], args
        assert not typo.parent.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.pub"]


def test_store_without_tables_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE unrelated (x)")
    (tmp_path / "audit.pub").write_text(PUBLIC_KEY)
    for args in commands_that_read(f"sqlite:///{path}", tmp_path):
        done = valedger(*args)
        assert done.code == 2, (args, done.stderr)
        assert len(done.error_lines) == 1 and "has no stored_events table" in done.stderr
        assert "valedger db init" in done.stderr
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
    assert tables == ["unrelated"]


def test_audit_commands_need_the_audit_tables(tmp_path: Path) -> None:
    from ledger.application import Ledger
    from ledger.config import StoreConfig

    url = f"sqlite:///{tmp_path / 'events-only.db'}"
    Ledger(StoreConfig(url)).close()  # the events table, not the audit tables
    (tmp_path / "audit.pub").write_text(PUBLIC_KEY)
    done = valedger("audit", "verify", "--db", url, "--public-key", str(tmp_path / "audit.pub"))
    assert done.code == 2 and "has no audit_state table" in done.stderr
    with sqlite3.connect(tmp_path / "events-only.db") as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "audit_state" not in names


def test_malformed_sqlite_url_is_refused(tmp_path: Path) -> None:
    done = valedger("db", "init", "--db", "sqlite:/bad", cwd=tmp_path)
    assert done.code == 2
    assert done.error_lines == ["error: malformed SQLite URL 'sqlite:/bad': write "
                                "sqlite:///relative/path or sqlite:////absolute/path"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["option", "environment"])
def test_empty_store_url_is_refused(tmp_path: Path, how: str) -> None:
    if how == "option":
        done = valedger("db", "init", "--db", "", cwd=tmp_path)
        name = "--db"
    else:
        done = valedger("db", "init", cwd=tmp_path, env={"VALEDGER_DB": ""})
        name = "VALEDGER_DB"
    assert done.code == 2
    assert done.error_lines == [f"error: {name} is empty: give a store URL such as "
                                "sqlite:///./var/ledger.db"]
    assert list(tmp_path.iterdir()) == []


def test_db_init_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    done = valedger("db", "init", "--db", url, "--json", "--home-country", "KZ")
    assert done.code == 0
    assert json.loads(done.stdout) == {"store": url, "ready": True,
                                       "trade_requests_indexed": 0, "home_country": "KZ"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgres_refused_is_fast_and_hides_the_password(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://alice:s3cr3t-pw@127.0.0.1:{port}/ledger"
    started = time.monotonic()
    done = valedger("report", "--out", str(tmp_path / "r"), "--db", url)
    assert time.monotonic() - started < 15
    assert done.code == 2
    assert len(done.error_lines) == 1
    assert f"cannot connect to postgresql://alice:***@127.0.0.1:{port}/ledger" in done.stderr
    assert "Connection refused" in done.stderr
    assert "s3cr3t-pw" not in done.stderr + done.stdout


def test_postgres_mistakes_say_the_servers_reason(postgres_server: PostgresServer,
                                                  postgres_url: str, tmp_path: Path) -> None:
    no_db = postgres_server.url("no_such_database_here")
    done = valedger("audit", "export", "--out", str(tmp_path / "e"), "--db", no_db)
    assert done.code == 2 and len(done.error_lines) == 1
    assert 'database "no_such_database_here" does not exist' in done.stderr

    no_role = postgres_server.url(postgres_url.rsplit("/", 1)[1].split("?")[0]).replace(
        f"//{postgres_server.user}", "//nobody_here", 1)
    done = valedger("report", "--out", str(tmp_path / "r"), "--db", no_role)
    assert done.code == 2 and 'role "nobody_here" does not exist' in done.stderr

    done = valedger("report", "--out", str(tmp_path / "r"), "--db", postgres_url)
    assert done.code == 2 and "has no valedger_events table" in done.stderr

    assert valedger("db", "init", "--db", postgres_url, "--home-country", "KZ").code == 0
    no_schema = postgres_url + ("&" if "?" in postgres_url else "?") + "schema=nope"
    done = valedger("report", "--out", str(tmp_path / "r"), "--db", no_schema)
    assert done.code == 2 and "no schema 'nope'" in done.stderr
    assert not (tmp_path / "r").exists()
