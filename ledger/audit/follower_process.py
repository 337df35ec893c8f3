"""The audit follower in a process of its own.

A server's one Python thread (one GIL) serves every call; a follower thread beside it
hashed and appended each new record between the calls, about a sixth of a streamed
trade's server time on the 2-core VM (issue 19). :class:`FollowerProcess` runs the same
:class:`~ledger.audit.follower.TreeFollower`, with its witness collector, in a child
process on its own connections, so that work goes to another core.

Nothing about the tree changes: each step is one transaction under the store's lock
(``AuditStore.write``), so a child killed at any point leaves the whole step or none, and
a follower elsewhere (another server, `valedger audit follow`) takes turns with it.

The child is forked from multiprocessing's fork server (the server is threaded: a plain
fork would copy held locks), gets only picklable settings (the checkpoint key as its
``skey`` text; no cipher key: the tree hashes stored bytes), ends with the process that
started it, even one killed with SIGKILL (``ledger.lifetime``), and is started again
(logged as an error, with a growing wait) when it ends on its own: killed, or its store
unreachable when it opens it.

Its one user is ``services.server.open_backend`` (``valedger serve``); the metrics'
witness lag reads the store (``CosignatureCollector.lag``) for the same reason.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.audit.follower import CheckpointPolicy
from ledger.audit.witnessing import WitnessPolicy
from ledger.config import StoreConfig
from ledger.lifetime import die_with_parent, watch_process

log = logging.getLogger(__name__)

FollowerPlace = Literal["process", "thread", "none"]
"""Where a server follows its store's audit log: a child process, a thread beside its
calls, or not at all (another process of the same store does)."""

STOP_SECONDS = 10.0
"""How long :meth:`FollowerProcess.stop` waits for the child's last step before killing it
(a step is one transaction: killing it loses nothing)."""

RESTART_SECONDS = (1.0, 60.0)
"""(first, longest) wait before a child that ended on its own is started again; the wait
doubles while children keep ending within ``STEADY_SECONDS``."""

STEADY_SECONDS = 60.0
"""A child that ran this long before it ended is restarted after the first wait again."""

SIGTERM_ENDINGS = (0, -signal.SIGTERM, 255)
"""The child's exit codes after a SIGTERM: 0 (its handler ran), -15 (it came first), 255
(the fork server it came from was signalled too and ended first: the child's own status
is lost with it, and multiprocessing reports 255)."""

ENDING_SECONDS = 5.0
"""How long the watch waits, once the child ended of SIGTERM (:data:`SIGTERM_ENDINGS`),
for the owner to say it is stopping before it reports the end. A signal to the server's
whole process group (a service manager's stop, ``kill -TERM -PGID``) reaches the child
as soon as the server, and the child ends with it, often before the busy server has said
so. A child that failed or was killed is reported at once."""

CHILD_POOL = {"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "1"}
"""The child's PostgreSQL connections: the follower's step and the witness collector each
use one at a time (a server's own pool is 5 + 10)."""


@dataclass(frozen=True)
class FollowerSettings:
    """What the child needs to follow a store's log (all of it picklable)."""

    config: StoreConfig = field(repr=False)
    signer_key: str | None = field(default=None, repr=False)
    """The checkpoint signing key as ``skey`` text, or None to sign nothing."""
    origin: str | None = None
    policy: CheckpointPolicy = field(default_factory=CheckpointPolicy)
    witnesses: WitnessPolicy | None = None
    poll_seconds: float = 0.5
    set_up_logging: Callable[[], None] | None = None
    """Called first in the child (a module-level function or a partial of one), so its
    log lines look like the server's."""


class FollowerProcess:
    """Runs a store's audit follower in a child process between :meth:`start` and
    :meth:`stop` (the :class:`~ledger.audit.follower.Follower` protocol), starting it
    again when it ends on its own (killed, or its store unreachable at start)."""

    def __init__(self, settings: FollowerSettings) -> None:
        # The store's URL keeps its password; the cipher key stays here; the tables
        # exist (the server made them before it starts the child).
        config = dataclasses.replace(settings.config, cipher_key=None, create_tables=False,
                                     extra={**settings.config.extra, **CHILD_POOL})
        self.settings = dataclasses.replace(settings, config=config)
        self.restarts = 0
        """How many times a child that ended on its own was started again."""
        self._lock = threading.Lock()
        self._process: Any = None
        self._stopping = threading.Event()
        self._ending = threading.Event()
        self._watch: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """Returns the running child's pid, else None. Safe from any thread of the owner
        (the metrics read it while the watch thread waits on the child): it looks at the
        child's sentinel rather than reaping it, which ``is_alive()`` would, and a child
        reaped by two threads at once reports a wrong exit code to one of them."""
        with self._lock:
            process = self._process
        if process is None or process.pid is None:
            return None
        ended = multiprocessing.connection.wait([process.sentinel], timeout=0)
        return None if ended else process.pid

    def start(self) -> None:
        """Starts the child (once) and a thread that starts it again whenever it ends
        before :meth:`stop`; returns without waiting for the child's first step."""
        with self._lock:
            if self._watch is not None:
                return
            self._stopping.clear()
            self._ending.clear()
            self._process = self._spawn()
            self._watch = threading.Thread(target=self._keep_running,
                                           name="audit-follower-watch", daemon=True)
            self._watch.start()

    def _spawn(self) -> Any:
        context = multiprocessing.get_context("forkserver")
        process = context.Process(target=follow, args=(self.settings, os.getpid()),
                                  name="valedger-audit-follower", daemon=True)
        process.start()
        log.info("audit follower started", extra={"follower_pid": process.pid})
        return process

    def _keep_running(self) -> None:
        wait = RESTART_SECONDS[0]
        while True:
            with self._lock:
                process = self._process
                if process is None or self._stopping.is_set():
                    return
            began = time.monotonic()
            multiprocessing.connection.wait([process.sentinel])
            grace = ENDING_SECONDS if process.exitcode in SIGTERM_ENDINGS else 0.0
            if self._stopping.is_set() or self._ending.wait(grace):
                return  # ended with its owner
            log.error("audit follower ended on its own (exit code %s); starting it again "
                      "in %.0f s", process.exitcode, wait,
                      extra={"follower_pid": process.pid})
            if time.monotonic() - began >= STEADY_SECONDS:
                wait = RESTART_SECONDS[0]
            if self._stopping.wait(wait) or self._ending.is_set():
                return
            wait = min(wait * 2, RESTART_SECONDS[1])
            with self._lock:
                if self._stopping.is_set() or self._ending.is_set():
                    return
                self._process = self._spawn()
                self.restarts += 1

    def expect_stop(self) -> None:
        """Says the owner is shutting down (``stop`` follows): the child ending from now
        on is neither reported nor started again."""
        self._ending.set()

    def stop(self) -> None:
        """Ends the child (SIGTERM: it finishes its current step and closes); kills it if
        it has not ended within ``STOP_SECONDS``."""
        with self._lock:
            self._stopping.set()
            self._ending.set()  # the watch may be waiting for it
            process, self._process = self._process, None
            watch, self._watch = self._watch, None
        if process is None:
            return
        process.terminate()
        process.join(STOP_SECONDS)
        if process.is_alive():
            log.warning("audit follower did not stop within %.0f s; killed", STOP_SECONDS)
            process.kill()
            process.join()
        if watch is not None:
            watch.join()


def follow(settings: FollowerSettings, parent_pid: int) -> None:
    """The child: follows the store's log until SIGTERM arrives (sent by
    :meth:`FollowerProcess.stop`, or when ``parent_pid`` ends); exits 1 when the store
    cannot be opened (the parent starts it again later)."""
    from ledger.audit.log import AuditLog
    from tlog.note import NoteSigner

    ended = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: ended.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's ^C ends it through stop
    die_with_parent_or_owner(parent_pid)
    if settings.set_up_logging is not None:
        settings.set_up_logging()
    signer = NoteSigner.from_skey(settings.signer_key) if settings.signer_key else None
    try:
        audit = AuditLog.open(settings.config, signer=signer, origin=settings.origin,
                              policy=settings.policy, create_tables=False,
                              witnesses=settings.witnesses)
    except Exception:
        log.exception("audit follower cannot open the store")
        sys.exit(1)
    try:
        audit.follower.start(settings.poll_seconds)
        while not ended.wait(settings.poll_seconds):
            pass
    finally:
        audit.close()


def die_with_parent_or_owner(owner_pid: int) -> None:
    """Ends this child with SIGTERM when ``owner_pid`` (the server) ends. The child's
    parent is the fork server, which outlives the owner only briefly, so the owner's pid
    is watched as well."""
    die_with_parent(os.getppid())
    watch_process(owner_pid, lambda: os.kill(os.getpid(), signal.SIGTERM))
