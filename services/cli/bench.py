"""`valedger bench NAME`: run one of the benchmarks in `bench/` (from a source checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.cli.app import app

err = Console(stderr=True, soft_wrap=True)

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
    results: Annotated[Path, typer.Option(
        "--results", help="File the benchmark records its section in.")
    ] = Path("var/bench/RESULTS.md"),
    update_tracked: Annotated[bool, typer.Option(
        "--update-tracked-results",
        help="Record in the checkout's tracked bench/RESULTS.md instead (for maintainers "
             "publishing figures).")] = False,
) -> None:
    """Run a benchmark of bench/ (extra arguments go to it; `-- --help` lists them).

    Figures are ratios against a baseline measured in the same run. Results go to
    --results (var/bench/RESULTS.md), never to the tracked bench/RESULTS.md unless
    --update-tracked-results; the published figures and the commands that produce them
    are in bench/RESULTS.md."""
    module = BENCHMARKS.get(name)
    if module is None:
        err.print(f"[red]unknown benchmark {name!r}[/red]: use one of {', '.join(BENCHMARKS)}")
        raise typer.Exit(2)
    root = checkout_root()
    if not (root / "bench" / "__init__.py").exists():
        err.print(f"[red]no bench/ beside the installed package[/red] ({root}): benchmarks "
                  "run from a source checkout (`pip install -e .`)")
        raise typer.Exit(2)
    env = dict(os.environ)
    if update_tracked:
        env.pop("VALEDGER_BENCH_RESULTS", None)
    else:
        target = results.resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        env["VALEDGER_BENCH_RESULTS"] = str(target)
        err.print(f"results will be recorded in {target}")
    done = subprocess.run([sys.executable, "-m", module, *ctx.args], cwd=root, env=env)
    raise typer.Exit(done.returncode)
