"""A child process's life bound to its parent's: no orphans when the parent is killed.

The one owner of "a worker dies with the process that started it". The signature checker's
worker processes (:mod:`ledger.signatures`), the verifier's CPU workers (set up by
:mod:`ledger.proofs` through ``verifier.cpu.set_pool_initializer``) and the server
processes of ``valedger serve --processes N`` (services/supervisor.py) rely on it.

On Linux the kernel sends a signal when the parent dies (``prctl(PR_SET_PDEATHSIG)``, set
through ctypes); everywhere, a thread also watches the parent's pid as a fallback (a
parent that died before the signal was armed, a platform without prctl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import sys
import threading
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when its parent thread exits (Linux)."""

PARENT_WATCH_SECONDS = 1.0
"""How often the fallback watch looks at the parent's pid."""


def arm_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Asks the kernel to send ``sig`` to this process when its parent dies; returns
    whether it could (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, on_gone: Callable[[], None],
                 interval: float = PARENT_WATCH_SECONDS) -> threading.Thread:
    """Starts a daemon thread that calls ``on_gone`` once ``parent_pid`` is no longer this
    process's parent (it died and the process was re-parented); returns the thread."""

    def watch() -> None:
        stop = threading.Event()
        while os.getppid() == parent_pid:
            stop.wait(interval)
        on_gone()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Makes this process get ``sig`` when ``parent_pid`` (its parent) dies: the kernel's
    death signal where there is one, and a pid watch in any case. A parent already gone
    sends it at once."""
    arm_parent_death_signal(sig)

    def send() -> None:
        os.kill(os.getpid(), sig)

    if os.getppid() != parent_pid:  # died before the signal was armed
        send()
        return
    watch_parent(parent_pid, send)


def watch_process(pid: int, on_gone: Callable[[], None],
                  interval: float = PARENT_WATCH_SECONDS) -> threading.Thread:
    """Starts a daemon thread that calls ``on_gone`` once process ``pid`` has ended (a
    pidfd where the platform has one, so a reused pid cannot fool it); returns the thread."""

    def watch() -> None:
        try:
            handle = os.pidfd_open(pid)
        except (AttributeError, OSError):
            handle = -1
        if handle >= 0:
            select.select([handle], [], [])  # readable once the process has ended
            os.close(handle)
        else:
            stop = threading.Event()
            while _exists(pid):
                stop.wait(interval)
        on_gone()

    thread = threading.Thread(target=watch, name="process-watch", daemon=True)
    thread.start()
    return thread


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pool_worker_dies_with(owner_pid: int) -> None:
    """Initialiser of pool worker processes (``initargs=(os.getpid(),)``): they are killed
    outright when ``owner_pid``, the process whose pool they serve, ends. Their parent is
    multiprocessing's fork server, which lives as long as they do, so the owner's pid is
    watched, not the parent's; they hold nothing worth a graceful end."""
    if os.getppid() == owner_pid:
        arm_parent_death_signal(signal.SIGKILL)
    # A terminal's Ctrl-C reaches every process of its foreground group: the owner stops
    # its pool; a worker interrupted in its wait for work would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def kill() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    watch_process(owner_pid, kill)
