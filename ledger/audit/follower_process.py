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
``skey`` text; no cipher key: the tree hashes stored bytes), and ends with the process
that started it, even one killed with SIGKILL (``ledger.lifetime``).

Its one user is ``services.server.open_backend`` (``valedger serve``); the metrics'
witness lag reads the store (``CosignatureCollector.lag``) for the same reason.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
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


@dataclass(frozen=True)
class FollowerSettings:
    """What the child needs to follow a store's log (all of it picklable)."""

    config: StoreConfig
    signer_key: str | None = None
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
    :meth:`stop` (the :class:`~ledger.audit.follower.Companion` protocol)."""

    def __init__(self, settings: FollowerSettings) -> None:
        # The store's URL keeps its password, the cipher key stays here.
        self.settings = dataclasses.replace(
            settings, config=dataclasses.replace(settings.config, cipher_key=None))
        self._process: Any = None
        self._stop: Any = None

    @property
    def pid(self) -> int | None:
        """Returns the child's pid while it runs, else None."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def start(self) -> None:
        """Starts the child (once) and returns without waiting for its first step."""
        if self._process is not None:
            return
        context = multiprocessing.get_context("forkserver")
        self._stop = context.Event()
        self._process = context.Process(
            target=follow, args=(self.settings, self._stop, os.getpid()),
            name="valedger-audit-follower", daemon=True)
        self._process.start()
        log.info("audit follower started", extra={"follower_pid": self._process.pid})

    def stop(self) -> None:
        """Asks the child to end after its current step; kills it if it has not within
        ``STOP_SECONDS``."""
        process, self._process = self._process, None
        if process is None:
            return
        self._stop.set()
        process.join(STOP_SECONDS)
        if process.is_alive():
            log.warning("audit follower did not stop within %.0f s; killed", STOP_SECONDS)
            process.kill()
            process.join()


def follow(settings: FollowerSettings, stop: threading.Event, parent_pid: int) -> None:
    """The child: follows the store's log until ``stop`` is set, SIGTERM arrives, or
    ``parent_pid`` ends."""
    from ledger.audit.log import AuditLog
    from tlog.note import NoteSigner

    ended = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: ended.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's ^C ends it through stop
    die_with_parent_or_owner(parent_pid)
    if settings.set_up_logging is not None:
        settings.set_up_logging()
    signer = NoteSigner.from_skey(settings.signer_key) if settings.signer_key else None
    audit = AuditLog.open(settings.config, signer=signer, origin=settings.origin,
                          policy=settings.policy, create_tables=False,
                          witnesses=settings.witnesses)
    try:
        audit.follower.start(settings.poll_seconds)
        while not ended.is_set() and not stop.wait(settings.poll_seconds):
            pass
    finally:
        audit.close()


def die_with_parent_or_owner(owner_pid: int) -> None:
    """Ends this child with SIGTERM when ``owner_pid`` (the server) ends. The child's
    parent is the fork server, which outlives the owner only briefly, so the owner's pid
    is watched as well."""
    die_with_parent(os.getppid())
    watch_process(owner_pid, lambda: os.kill(os.getpid(), signal.SIGTERM))
