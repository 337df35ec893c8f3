"""`valedger bench NAME`: run one of the benchmarks in `bench/` (from a source checkout)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.cli.app import app

err = Console(stderr=True)

BENCHMARKS = {
    "ledger": "bench.ledger_bench",
    "verifier": "bench.verifier_bench",
    "audit": "bench.audit_bench",
    "services": "bench.services_bench",
    "proofs": "bench.proofs_bench",
}


def checkout_root() -> Path:
    """Returns the source checkout the installed package runs from."""
    return Path(__file__).resolve().parents[2]


@app.command("bench", context_settings={"allow_extra_args": True,
                                         "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(BENCHMARKS)}.")],
) -> None:
    """Run a benchmark of bench/ (extra arguments go to it; `-- --help` lists them).

    Figures are ratios against a baseline measured in the same run; results and the
    commands that produce them are in bench/RESULTS.md."""
    module = BENCHMARKS.get(name)
    if module is None:
        err.print(f"[red]unknown benchmark {name!r}[/red]: use one of {', '.join(BENCHMARKS)}")
        raise typer.Exit(2)
    root = checkout_root()
    if not (root / "bench" / "__init__.py").exists():
        err.print(f"[red]no bench/ beside the installed package[/red] ({root}): benchmarks "
                  "run from a source checkout (`pip install -e .`)")
        raise typer.Exit(2)
    done = subprocess.run([sys.executable, "-m", module, *ctx.args], cwd=root)
    raise typer.Exit(done.returncode)
