"""Ending a process pool's workers from a test, as a signal from outside the server would."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any


def kill_workers(pool: Any, sig: int = signal.SIGKILL) -> None:
    """Sends ``sig`` to every worker process of ``pool`` (a ``ProcessPoolExecutor``) that
    has not ended, and waits until each has. Once one worker has ended, the pool's own
    manager thread finds the pool broken and ends the others, so a worker may be gone by
    the time its turn comes: that is not an error."""
    for process in list(pool._processes.values()):
        if process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, sig)
        process.join(30)
        assert process.exitcode is not None, f"worker {process.pid} did not end"
