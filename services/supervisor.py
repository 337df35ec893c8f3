"""`valedger serve --processes N`: N server processes on one port over one store.

The supervisor (the process the operator started) starts N worker processes, each a
whole `valedger serve` (``python -m services.cli.serve_worker``) that binds the same
address with ``SO_REUSEPORT``, so the kernel spreads incoming connections over them. The
supervisor holds a bound (not listening) socket on the port from before the first worker
starts until the last one ends, so port 0 means one port for all and a restarted worker
gets its port back.

* The first worker follows the audit log, in a child process of its own
  (``ledger.audit.follower_process``); the others do not. The store's lock (PostgreSQL
  advisory lock, SQLite's write lock) lets exactly one follower advance the tree at a
  time, so a restarted first worker's new follower, or another server's, is safe;
  anything else that elects a leader that way (the supervisory calendar) works unchanged.
* The first worker starts alone (it creates missing tables and catches up the read
  models), the others once it serves.
* SIGTERM or SIGINT to the supervisor: SIGTERM to every worker, which shuts down
  gracefully (``--grace``); one still running after the grace and a margin is killed.
* The supervisor killed with SIGKILL: each worker gets SIGTERM from the kernel
  (``ledger.lifetime``) and ends gracefully; no orphans.
* SIGHUP is passed on to every worker (they reload the certificate revocation list).
* A worker that fails to start stops them all (its error is on stderr); one that dies
  later is restarted, unless workers keep dying (a crash loop stops them all).
* Metrics: workers write Prometheus multiprocess files in a directory of the
  supervisor's, which serves ``/metrics`` summed over all workers, living and dead.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

READY = b"ready\n"
"""What a worker writes on its ready pipe once it serves."""

STARTUP_SECONDS = 300.0
"""How long a worker may take to start serving (catching up a large history index)."""

KILL_MARGIN_SECONDS = 15.0
"""Seconds past the grace after which a worker still running is killed."""

CRASH_LOOP = (5, 60.0)
"""(restarts, seconds): more restarts than this within the window stop all workers."""

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def reserve_port(host: str, port: int) -> socket.socket:
    """Returns a socket bound (with SO_REUSEPORT, not listening) to ``host:port``; it
    receives no connections but keeps the port for the workers (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for info in socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM):
        family = info[0]
        break
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


@dataclass
class Worker:
    """One running worker process and its ready pipe."""

    index: int
    process: subprocess.Popen[bytes]
    ready_fd: int
    ready: bool = False


@dataclass
class Supervisor:
    """Starts, watches and stops the worker processes."""

    processes: int
    spec: Callable[[int, bool], dict[str, Any]]
    """Returns the JSON a worker reads on stdin: (index, whether it may create tables)."""
    grace_seconds: float
    metrics_dir: Path | None = None
    command: list[str] = field(
        default_factory=lambda: [sys.executable, "-m", "services.cli.serve_worker"])
    workers: dict[int, Worker] = field(default_factory=dict)
    restarts: list[float] = field(default_factory=list)
    stopping: bool = False

    def _signal(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _pass_on(self, signum: int, frame: object) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signum)

    def spawn(self, index: int, create: bool) -> Worker:
        """Starts worker ``index``; returns it (not yet ready)."""
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        if self.metrics_dir is not None:
            env[MULTIPROC_ENV] = str(self.metrics_dir)
        spec = self.spec(index, create)
        spec["role"] = dict(spec["role"], ready_fd=write_fd, parent_pid=os.getpid())
        process = subprocess.Popen(self.command, stdin=subprocess.PIPE, env=env,
                                   pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        assert process.stdin is not None
        process.stdin.write(json.dumps(spec).encode() + b"\n")
        process.stdin.close()
        worker = Worker(index, process, read_fd)
        self.workers[index] = worker
        return worker

    def _await_ready(self, workers: list[Worker]) -> int | None:
        """Waits until ``workers`` serve; returns None, or the exit status to end with
        (a worker died first, the wait timed out, or a stop signal came)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        waiting = {w.ready_fd: w for w in workers if not w.ready}
        while waiting:
            if self.stopping:
                return 0
            for worker in waiting.values():
                code = worker.process.poll()
                if code is not None:
                    log.error("worker failed to start", extra={
                        "worker": worker.index, "pid": worker.process.pid, "exit": code})
                    return code if code > 0 else 1
            if time.monotonic() > deadline:
                log.error("workers did not start in time",
                          extra={"seconds": STARTUP_SECONDS})
                return 1
            readable, _, _ = select.select(list(waiting), [], [], 0.2)
            for fd in readable:
                line = os.read(fd, len(READY))
                if line == READY:
                    waiting.pop(fd).ready = True
        return None

    def run(self, on_ready: Callable[[], None]) -> int:
        """Runs the workers until SIGTERM or SIGINT; returns the exit status."""
        previous = {sig: signal.signal(sig, self._signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._pass_on)
        try:
            failed = self._await_ready([self.spawn(0, True)])
            if failed is None:
                failed = self._await_ready(
                    [self.spawn(i, False) for i in range(1, self.processes)])
            if failed is None:
                on_ready()
                failed = self._watch()
            return failed
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _watch(self) -> int:
        """Restarts workers that die until a stop signal or a crash loop; returns the
        exit status."""
        limit, window = CRASH_LOOP
        while not self.stopping:
            time.sleep(0.1)
            for worker in list(self.workers.values()):
                code = worker.process.poll()
                if code is None or self.stopping:
                    continue
                self._forget(worker)
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < window] + [now]
                log.error("worker died; restarting it", extra={
                    "worker": worker.index, "pid": worker.process.pid, "exit": code})
                if len(self.restarts) > limit:
                    log.error("workers keep dying; stopping", extra={
                        "restarts": len(self.restarts), "seconds": window})
                    return 1
                failed = self._await_ready([self.spawn(worker.index, False)])
                if failed:
                    return failed
        return 0

    def _forget(self, worker: Worker) -> None:
        os.close(worker.ready_fd)
        self.workers.pop(worker.index, None)
        if self.metrics_dir is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.process.pid, str(self.metrics_dir))

    def stop(self) -> None:
        """Sends SIGTERM to every worker, waits for them (grace plus a margin), kills any
        left; returns when none runs."""
        self.stopping = True
        running = [w for w in self.workers.values() if w.process.poll() is None]
        if running:
            log.info("stopping workers", extra={"workers": len(running),
                                                "grace_seconds": self.grace_seconds})
        for worker in running:
            worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds + KILL_MARGIN_SECONDS
        for worker in running:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker did not stop in time; killing it",
                          extra={"worker": worker.index, "pid": worker.process.pid})
                worker.process.kill()
                worker.process.wait()
        for worker in list(self.workers.values()):
            self._forget(worker)


def serve_metrics(host: str, port: int, directory: Path) -> None:
    """Serves ``/metrics`` summed over the workers' multiprocess files in ``directory``."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    start_http_server(port, addr=host, registry=registry)


def metrics_directory() -> Path:
    """Returns a new private directory for the workers' metric files."""
    return Path(tempfile.mkdtemp(prefix="valedger-metrics-"))


def remove_metrics_directory(directory: Path | None) -> None:
    """Removes the metric files' directory (when there is one)."""
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
