"""`python -m services.cli.serve_worker`: one worker of `valedger serve --processes N`.

Started by the supervisor (services/supervisor.py), never by hand: reads one JSON line on
stdin — the `serve` parameters the operator gave and this worker's role (index, the
supervisor's pid, its ready pipe) — and serves as `valedger serve` would, on the port it
shares with the other workers, until SIGTERM (sent by the supervisor, or by the kernel
when the supervisor dies).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from services.cli.errors import exit_with, run
from services.cli.serve import PATH_PARAMETERS, serve


def main() -> int:
    """Serves as the worker the JSON on stdin describes; returns the exit status."""
    spec = json.loads(sys.stdin.readline())
    params: dict[str, Any] = {
        name: Path(value) if name in PATH_PARAMETERS and value is not None else value
        for name, value in spec["params"].items()}
    return run(lambda: serve(**params, processes=1, worker_spec=json.dumps(spec["role"])))


if __name__ == "__main__":
    exit_with(main())
