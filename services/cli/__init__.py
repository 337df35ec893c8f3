"""Entry point of the `valedger` console script."""

from __future__ import annotations

from services.cli import audit as _audit  # noqa: F401  (registers commands)
from services.cli import bench as _bench  # noqa: F401  (registers commands)
from services.cli import ca as _ca  # noqa: F401  (registers commands)
from services.cli import db as _db  # noqa: F401  (registers commands)
from services.cli import demo as _demo  # noqa: F401  (registers commands)
from services.cli import monitor as _monitor  # noqa: F401  (registers commands)
from services.cli import report as _report  # noqa: F401  (registers commands)
from services.cli import serve as _serve  # noqa: F401  (registers commands)
from services.cli import verify as _verify  # noqa: F401  (registers commands)
from services.cli import witness as _witness  # noqa: F401  (registers commands)
from services.cli.app import app


def main() -> None:
    """Runs the `valedger` command line."""
    app()


__all__ = ["app", "main"]
