"""`valedger serve --processes 2`, started as an operator would: both workers serve one
port over mTLS, the metrics endpoint sums them, SIGTERM ends them all, and a supervisor
killed with SIGKILL leaves no process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.client import LedgerClient
from services.tls import TlsFiles, channel_credentials
from tests.services.cli.real_cli import ROOT, environment, valedger, wait_until_serving
from tests.services.harness import free_port

CONNECTIONS = 16
"""Separate TCP connections opened; SO_REUSEPORT spreads them over the workers (all on
one of two workers: probability 2**-15)."""


@dataclass
class Fleet:
    """A running `valedger serve --processes 2` and how to reach it."""

    process: subprocess.Popen[str]
    port: int
    metrics_port: int
    client_tls: TlsFiles
    started: list[str]
    """Its log lines up to the supervisor's "serving"."""

    def workers(self) -> list[psutil.Process]:
        """Returns the worker processes of the supervisor."""
        return psutil.Process(self.process.pid).children()

    def metrics(self) -> str:
        """Returns the text of the supervisor's /metrics."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        return urllib.request.urlopen(url, timeout=10).read().decode()


def start_fleet(tmp_path: Path, url: str) -> Fleet:
    """Returns `valedger serve --processes 2` over ``url`` with mTLS, once it serves."""
    ca = tmp_path / "ca"
    for args in (("db", "init", "--db", url), ("ca", "init", "--ca-dir", str(ca)),
                 ("ca", "issue", "server", "localhost", "--ca-dir", str(ca)),
                 ("ca", "issue", "auditor", "aud", "--ca-dir", str(ca))):
        done = valedger(*args)
        assert done.code == 0, done.stderr
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--processes", "2", "--db", url,
         "--listen", f"127.0.0.1:{port}", "--ca-dir", str(ca), "--server-name", "localhost"],
        cwd=ROOT, env=environment({"VALEDGER_SERVER_METRICS_LISTEN":
                                   f"127.0.0.1:{metrics_port}"}),
        stderr=subprocess.PIPE, text=True)
    tls = TlsFiles.from_ca_dir(ca, "auditor", "aud")
    wait_until_serving(process, LedgerClient.connect(f"127.0.0.1:{port}", tls, timeout=5,
                                                     server_name="localhost"))
    assert process.stderr is not None
    seen: list[str] = []
    while '"processes": 2' not in (seen or [""])[-1]:  # the supervisor: all workers serve
        line = process.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    return Fleet(process, port, metrics_port, tls, seen)


@pytest.fixture(params=["sqlite", "postgres"])
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fleet]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_url")
    running = start_fleet(tmp_path, url)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGTERM)
            running.process.communicate(timeout=60)


@pytest.fixture
def postgres_fleet(tmp_path: Path, postgres_url: str) -> Iterator[Fleet]:
    running = start_fleet(tmp_path, postgres_url)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.communicate(timeout=60)


def served_by(fleet: Fleet) -> dict[int, int]:
    """Returns, per worker pid, its established connections on the fleet's port."""
    return {worker.pid: sum(1 for c in worker.net_connections(kind="tcp")
                            if c.laddr and c.laddr.port == fleet.port
                            and c.status == psutil.CONN_ESTABLISHED)
            for worker in fleet.workers()}


def health_checks_total(text: str) -> float:
    """Returns the OK health checks counted in a /metrics text."""
    match = re.search(r'valedger_grpc_requests_total\{code="OK",'
                      r'method="/grpc.health.v1.Health/Check"\} ([0-9.e+]+)', text)
    assert match, text
    return float(match.group(1))


def test_both_workers_serve_one_port_and_metrics_sum_them(fleet: Fleet) -> None:
    assert len(fleet.workers()) == 2
    before = health_checks_total(fleet.metrics())
    channels = [grpc.secure_channel(f"127.0.0.1:{fleet.port}",
                                    channel_credentials(fleet.client_tls),
                                    options=[("grpc.use_local_subchannel_pool", 1),
                                             ("grpc.ssl_target_name_override", "localhost")])
                for _ in range(CONNECTIONS)]
    try:
        for channel in channels:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        per_worker = served_by(fleet)
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker
        assert sum(per_worker.values()) == CONNECTIONS
        text = fleet.metrics()
    finally:
        for channel in channels:
            channel.close()
    assert health_checks_total(text) == before + CONNECTIONS  # counted by both workers
    assert "valedger_audit_tree_size" in text


def test_one_audit_follower_for_all_workers_in_its_own_process(fleet: Fleet) -> None:
    followers = [json.loads(line) for line in fleet.started
                 if '"audit follower started"' in line]
    assert [f["worker"] for f in followers] == [0], fleet.started
    worker = next(w for w in fleet.workers() if w.pid == followers[0]["pid"])
    child = followers[0]["follower_pid"]
    assert child in {p.pid for p in worker.children(recursive=True)}
    assert child not in {w.pid for w in fleet.workers()}
    # Worker 0 shows its follower's memory and CPU (refreshed every few seconds).
    deadline = time.monotonic() + 20
    while True:
        shown = re.search(r"^valedger_audit_follower_resident_bytes ([0-9.e+]+)$",
                          fleet.metrics(), re.M)
        if shown and float(shown.group(1)) > 1e6:
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.5)


def test_sigterm_ends_every_worker(postgres_fleet: Fleet) -> None:
    workers = postgres_fleet.workers()
    postgres_fleet.process.send_signal(signal.SIGTERM)
    _, stderr = postgres_fleet.process.communicate(timeout=60)
    assert postgres_fleet.process.returncode == 0, stderr
    stopped = [json.loads(line) for line in stderr.splitlines()
               if '"message": "stopped"' in line]
    assert sorted(entry["worker"] for entry in stopped) == [0, 1]  # each worker names itself
    assert {entry["pid"] for entry in stopped} == {w.pid for w in workers}
    assert not [w.pid for w in workers if w.is_running()
                and w.status() != psutil.STATUS_ZOMBIE]


def test_sigkill_of_the_supervisor_leaves_no_orphans(postgres_fleet: Fleet) -> None:
    descendants = psutil.Process(postgres_fleet.process.pid).children(recursive=True)
    assert len(descendants) >= 2
    os.kill(postgres_fleet.process.pid, signal.SIGKILL)
    postgres_fleet.process.communicate(timeout=60)
    deadline = time.monotonic() + 30
    alive = descendants
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    assert not alive, [p.cmdline() for p in alive]


def test_default_processes_one_per_core_up_to_8_on_postgresql_one_on_sqlite() -> None:
    from services.cli.serve import default_processes

    cores = len(os.sched_getaffinity(0))
    assert default_processes(is_postgres=True) == min(cores, 8)
    assert default_processes(is_postgres=False) == 1


def test_processes_0_leaves_the_number_to_the_setting_as_in_the_settings_file() -> None:
    # `--processes 0` means what `[server] processes = 0` means: not given.
    memory = ("serve", "--insecure", "--db", "sqlite:///:memory:", "--listen",
              f"127.0.0.1:{free_port()}")
    done = valedger(*memory, "--processes", "0", env={"VALEDGER_SERVER_PROCESSES": "2"})
    assert done.code == 2
    assert "an in-memory SQLite store cannot be shared by processes" in done.stderr
    negative = valedger(*memory, "--processes", "-1")
    assert negative.code == 2
    assert "--processes" in negative.stderr


def test_an_in_memory_sqlite_store_cannot_be_shared_by_processes() -> None:
    done = valedger("serve", "--insecure", "--db", "sqlite:///:memory:", "--listen",
                    f"127.0.0.1:{free_port()}", "--processes", "2")
    assert done.code == 2
    assert done.error_lines == [
        "error: --processes: an in-memory SQLite store cannot be shared by processes; give a "
        "file (sqlite:///PATH) or --processes 1"]


def test_a_worker_that_dies_is_restarted_on_the_same_port(postgres_fleet: Fleet) -> None:
    first, second = postgres_fleet.workers()
    second.kill()
    assert postgres_fleet.process.stderr is not None
    line = ""
    while '"message": "worker died; restarting it"' not in line:
        line = postgres_fleet.process.stderr.readline()
        assert line, "the supervisor ended"
    assert json.loads(line)["pid"] == second.pid
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = postgres_fleet.workers()
        if len(workers) == 2 and all(served_by_any(postgres_fleet, w) for w in workers):
            break
        time.sleep(0.5)
    pids = {w.pid for w in postgres_fleet.workers()}
    assert first.pid in pids and second.pid not in pids and len(pids) == 2
    assert postgres_fleet.process.poll() is None


def served_by_any(fleet: Fleet, worker: psutil.Process) -> bool:
    """Returns whether ``worker`` listens on the fleet's port."""
    return any(c.laddr and c.laddr.port == fleet.port and c.status == psutil.CONN_LISTEN
               for c in worker.net_connections(kind="tcp"))
