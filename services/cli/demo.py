"""`valedger demo`: the end-to-end scenario over real gRPC and mTLS (what `make demo` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.cli.app import app
from services.cli.errors import UserError

console = Console()


@app.command("demo")
def demo(
    workdir: Annotated[Path, typer.Option(
        "--workdir", help="Directory for everything the demo makes (a previous demo's "
                          "directory is cleared; any other non-empty one is refused).")
    ] = Path("var/demo"),
) -> None:
    """Run the whole story: licensing, genuine mining proofs, trades, reconciliation,
    alerts, audit export and offline verification, and the regulator's report.

    Exits non-zero if any expected outcome did not happen."""
    from services.demo import print_summary, run_demo

    if workdir.exists() and not workdir.is_dir():
        raise UserError(f"--workdir {workdir} is a file: give a directory for the demo")
    result = run_demo(workdir, console)
    print_summary(result, console)
    if not result.ok:
        raise typer.Exit(1)
