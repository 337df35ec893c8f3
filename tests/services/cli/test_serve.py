"""`valedger serve` mistakes, each one line and exit 2 before anything listens; a signal to
its whole process group stops it quietly; a new SQLite file gets its tables; checkpoints
are signed under the signing key's own name."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ledger.config import StoreConfig
from services.client import LedgerClient
from services.generated.valedger.v1 import common_pb2, licensing_pb2
from tests.conftest import PostgresServer, operations_guide_roles
from tests.ledger.conftest import build_market
from tests.ontime import on_time_ledger
from tests.services.cli.real_cli import ROOT, environment, valedger, wait_until_serving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_listen_mistakes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    done = valedger("serve", "--insecure", "--db", url, "--listen", "nonsense")
    assert done.code == 2 and done.error_lines == [
        "error: --listen 'nonsense' is not HOST:PORT (e.g. 127.0.0.1:50051)"]
    done = valedger("serve", "--insecure", "--db", url, "--listen", "127.0.0.1:99999")
    assert done.code == 2 and done.error_lines == [
        "error: --listen '127.0.0.1:99999': port 99999 is not in 0-65535"]
    assert not (tmp_path / "l.db").exists()


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = valedger("serve", "--insecure", "--db", f"sqlite:///{tmp_path / 'l.db'}",
                        "--listen", f"127.0.0.1:{port}")
    assert done.code == 2
    assert done.error_lines == [
        f"error: cannot listen on --listen 127.0.0.1:{port}: Address already in use"]


def test_toml_value_of_the_wrong_type(tmp_path: Path) -> None:
    config = tmp_path / "valedger.toml"
    config.write_text("[server]\nlisten = 50051\n")
    done = valedger("serve", "--insecure", "--config", str(config))
    assert done.code == 2
    assert done.error_lines == ["error: [server] listen: expected a string, got int 50051"]


def test_certificate_and_key_that_do_not_belong_together(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    assert valedger("ca", "init", "--ca-dir", str(ca)).code == 0
    assert valedger("ca", "issue", "server", "a", "--ca-dir", str(ca)).code == 0
    assert valedger("ca", "issue", "server", "b", "--ca-dir", str(ca)).code == 0
    issued = ca / "issued"
    done = valedger("serve", "--db", f"sqlite:///{tmp_path / 'l.db'}", "--listen",
                    f"127.0.0.1:{free_port()}", "--ca-cert", str(ca / "ca.crt"),
                    "--cert", str(issued / "server-a.crt"), "--key", str(issued / "server-b.key"))
    assert done.code == 2
    assert done.error_lines == [f"error: the key {issued / 'server-b.key'} does not belong "
                                f"to the certificate {issued / 'server-a.crt'}"]


def test_postgres_store_without_tables(postgres_url: str) -> None:
    done = valedger("serve", "--insecure", "--db", postgres_url, "--listen",
                    f"127.0.0.1:{free_port()}")
    assert done.code == 2 and len(done.error_lines) == 1
    assert "has no valedger_events table" in done.stderr and "db init" in done.stderr


def encrypted_store(tmp_path: Path) -> tuple[str, str]:
    """Returns (URL, key) of a SQLite store whose events are encrypted."""
    key = base64.b64encode(os.urandom(32)).decode()
    url = f"sqlite:///{tmp_path / 'enc.db'}"
    ledger = on_time_ledger(StoreConfig(url, key))
    build_market(ledger)
    ledger.close()
    return url, key


def test_wrong_or_missing_cipher_key(tmp_path: Path) -> None:
    url, _ = encrypted_store(tmp_path)
    wrong = base64.b64encode(os.urandom(32)).decode()
    listen = f"127.0.0.1:{free_port()}"
    done = valedger("serve", "--insecure", "--db", url, "--listen", listen,
                    "--cipher-key", wrong)
    assert done.code == 2 and len(done.error_lines) == 1, done.stderr
    assert "the configured cipher key is not the key its events were encrypted with" in \
        done.stderr
    assert wrong not in done.stderr
    done = valedger("serve", "--insecure", "--db", url, "--listen", listen)
    assert done.code == 2 and len(done.error_lines) == 1, done.stderr
    assert "no cipher key is configured" in done.stderr
    assert ("give --cipher-key-file, --cipher-key, VALEDGER_CIPHER_KEY_FILE or "
            "VALEDGER_CIPHER_KEY; serve also reads [store] cipher_key_file or cipher_key"
            ) in done.stderr


def test_signing_key_and_origin_that_disagree(tmp_path: Path) -> None:
    assert valedger("audit", "keygen", "--out", str(tmp_path),
                    "--origin", "cbank.example/valedger").code == 0
    done = valedger("serve", "--insecure", "--db", f"sqlite:///{tmp_path / 'l.db'}",
                    env={"VALEDGER_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit.key"),
                         "VALEDGER_AUDIT_ORIGIN": "valedger.example/ledger"})
    assert done.code == 2 and len(done.error_lines) == 1
    assert "[audit] origin 'valedger.example/ledger'" in done.stderr
    assert not (tmp_path / "l.db").exists()


def test_a_signing_key_file_missing_or_not_a_key(tmp_path: Path) -> None:
    (tmp_path / "garbage.key").write_text("not a key\n")
    for name, says in (("absent.key", "No such file or directory"),
                       ("garbage.key", "is not a signing key written by `valedger audit keygen`")):
        done = valedger("serve", "--insecure", "--db", f"sqlite:///{tmp_path / 'l.db'}",
                        env={"VALEDGER_AUDIT_SIGNING_KEY_FILE": str(tmp_path / name)})
        assert done.code == 2 and len(done.error_lines) == 1, done.stderr
        assert done.error_lines[0].startswith(
            "error: [audit] signing_key_file (VALEDGER_AUDIT_SIGNING_KEY_FILE) "), done.stderr
        assert says in done.stderr
    assert not (tmp_path / "l.db").exists()


def serve_until_healthy(args: list[str], port: int, env: dict[str, str],
                        own_group: bool = False) -> subprocess.Popen[str]:
    """Starts `valedger serve ARGS --insecure` (``own_group``: in a process group of its
    own) and returns it once it answers health checks."""
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--insecure",
         "--listen", f"127.0.0.1:{port}", *args],
        cwd=ROOT, env=environment(env), stderr=subprocess.PIPE, text=True,
        start_new_session=own_group)
    client = LedgerClient.connect(f"127.0.0.1:{port}", None, timeout=5,
                                  insecure_identity=("auditor", "aud"))
    return wait_until_serving(process, client)


def stop(process: subprocess.Popen[str]) -> str:
    """Sends SIGTERM and returns the server's stderr once it exited 0."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_whole_process_group_stops_it_quietly(tmp_path: Path,
                                                               sig: signal.Signals) -> None:
    # A terminal's Ctrl-C and a service manager's stop reach every process of the server
    # (its fork server, audit follower and signature workers), not the server alone.
    process = serve_until_healthy(["--db", f"sqlite:///{tmp_path / 'group.db'}",
                                   "--signature-workers", "1"], free_port(), {},
                                  own_group=True)
    deadline = time.monotonic() + 30
    while len(psutil.Process(process.pid).children(recursive=True)) < 4:
        # the resource tracker, the fork server, the follower and the signature worker
        assert time.monotonic() < deadline, "the server's children did not start"
        time.sleep(0.1)
    os.killpg(process.pid, sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "ended on its own" not in stderr
    assert '"message": "stopped"' in stderr


def test_new_sqlite_file_gets_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    process = serve_until_healthy(["--db", f"sqlite:///{path}"], free_port(), {})
    stderr = stop(process)
    assert f"new store sqlite:///{path}: creating its tables" in stderr
    assert stderr.count("WITHOUT TLS") == 1
    assert stderr.count("no checkpoint signing key ([audit] signing_key_file") == 1
    assert stderr.count("no home country is set: every trade is refused") == 1
    assert all(line.startswith("{") for line in stderr.splitlines()[1:]), stderr
    with sqlite3.connect(path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"stored_events", "audit_state"} <= names


def test_checkpoints_are_signed_under_the_keys_name(filled_store: str, tmp_path: Path) -> None:
    assert valedger("audit", "keygen", "--out", str(tmp_path / "keys"),
                    "--origin", "cbank.example/valedger").code == 0
    env = {"VALEDGER_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "keys" / "audit.key"),
           "VALEDGER_AUDIT_CHECKPOINT_EVERY_SECONDS": "0.1"}
    process = serve_until_healthy(["--db", filled_store], free_port(), env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(filled_store.removeprefix("sqlite:///")) as db:
            if db.execute("SELECT COUNT(*) FROM audit_checkpoints").fetchone()[0]:
                break
        time.sleep(0.1)
    stderr = stop(process)
    assert "no checkpoint signing key" not in stderr
    assert "no home country is set" not in stderr  # db init set it
    # The server followed its log from a process of its own, gone with the server.
    started = [json.loads(line) for line in stderr.splitlines()
               if '"audit follower started"' in line]
    assert len(started) == 1, stderr
    follower = started[0]["follower_pid"]
    assert follower != process.pid and not psutil.pid_exists(follower)
    done = valedger("audit", "verify", "--db", filled_store, "--public-key",
                    str(tmp_path / "keys" / "audit.pub"))
    assert done.code == 0, done.stdout + done.stderr
    assert "signed by cbank.example/valedger+" in done.stdout


BUF = ROOT / "node_modules" / ".bin" / "buf"


@pytest.mark.skipif(not BUF.exists(), reason="buf not installed (npm ci)")
def test_buf_curl_lists_and_describes_every_service(tmp_path: Path) -> None:
    port = free_port()
    process = serve_until_healthy(["--db", f"sqlite:///{tmp_path / 'l.db'}"], port, {})
    try:
        listed = subprocess.run(
            [str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge",
             "--list-methods", f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=60)
    finally:
        stop(process)
    assert listed.returncode == 0, listed.stderr
    methods = listed.stdout.split()
    assert "grpc.reflection.v1.ServerReflection/ServerReflectionInfo" in methods
    assert "valedger.v1.LicensingService/RegisterParticipant" in methods
    assert "grpc.health.v1.Health/Check" in methods


def test_a_server_running_as_the_operations_guides_runtime_role(
        postgres_server: PostgresServer) -> None:
    # ops/README.md: the owner runs `valedger db init`; the servers' role has no CREATE on
    # the schema, so a server must start, write and follow the log without making a table.
    with operations_guide_roles(postgres_server) as (owner, runtime, name):
        assert valedger("db", "init", "--db", owner.url(name), "--home-country", "KZ").code == 0
        port = free_port()
        process = serve_until_healthy(["--db", runtime.url(name)], port, {})
        try:
            with LedgerClient.connect(f"127.0.0.1:{port}", None, timeout=10,
                                      insecure_identity=("regulator", "central-bank")) as reg:
                done = reg.licensing.RegisterParticipant(
                    licensing_pb2.RegisterParticipantRequest(
                        request_id="as-runtime", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
                        legal_name="Runtime Co", tax_id="tax-r", country="KZ",
                        beneficial_owners=["Owner"]), **reg.call_options(20))
                participant = done.receipt.aggregate_id
                events = list(reg.list_events(participant_id=participant))
                assert [(e.aggregate_id, e.topic.rsplit(":", 1)[1]) for e in events] == [
                    (participant, "Participant.Registered")]
        finally:
            stderr = stop(process)
        assert "permission denied" not in stderr and "Traceback" not in stderr
