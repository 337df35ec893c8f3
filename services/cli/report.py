"""`valedger report`: the supervisor's report (HTML, PDF, JSON with units, PNG charts)."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from services.cli.app import CIPHER_FILE_OPTION_HELP, CIPHER_OPTION_HELP, DB_OPTION_HELP, app
from services.cli.audit import print_json, progress_bar
from services.cli.errors import UserError, stderr
from services.cli.store import Access, open_config, resolve_cipher_key

if TYPE_CHECKING:
    from services.report import Rendered, Report

console = Console()


@app.command("report")
def report(
    out: Annotated[Path, typer.Option(
        "--out", help="Directory for report.html, report.pdf, report.json and the charts "
                      "(created when missing).")],
    period: Annotated[str | None, typer.Option(
        "--period", help="Calendar month to report, such as 2026-11 (default: the current "
                         "month).")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="Start of any period (a date such as 2026-11-01, or an ISO time); "
                       "with --to instead of --period.")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="End of the period, excluded (a date or an ISO time).")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)] = None,
    cipher_key: Annotated[
        str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)
    ] = None,
    cipher_key_file: Annotated[
        Path | None, typer.Option("--cipher-key-file", help=CIPHER_FILE_OPTION_HELP)
    ] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the written files and headline counts as JSON.")] = False,
) -> None:
    """Write the supervisor's report of a period: summary, mining (hashrate against
    capacity and the alert line, output, energy, verdicts), market (trades, blocked
    attempts, outflows, travel rule, structuring), alerts, and the signed checkpoint it
    was made from, as HTML, PDF and JSON with units."""
    from ledger import Ledger
    from services.report import PeriodError, gather, parse_period

    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file: --out names the directory for report.html "
                        "and its charts")
    try:
        chosen = parse_period(period, start, end, datetime.now(UTC))
    except PeriodError as error:
        raise UserError(str(error)) from None
    config = open_config(db, resolve_cipher_key(cipher_key, cipher_key_file), Access.READ)
    ledger = Ledger(config)
    try:
        with progress_bar() as bar:
            task = bar.add_task("reading the log",
                                total=ledger.recorder.max_notification_id() or 0)
            data = gather(ledger, config, chosen, progress=lambda n: bar.advance(task, n))
    finally:
        ledger.close()
    written = render_whole(data, out)
    if json_output:
        print_json({"period": chosen.label, "html": str(written.html),
                    "pdf": str(written.pdf), "json": str(written.json),
                    "charts": [str(p) for p in written.charts],
                    "checkpoint": None if written.note is None else str(written.note),
                    "reconciliations": len(data.mining.rows),
                    "alerts": len(data.alerts.raised)})
        return
    console.print(f"report  {written.html}")
    console.print(f"pdf     {written.pdf}")
    console.print(f"figures {written.json}")
    console.print("charts  " + ", ".join(str(p) for p in written.charts))
    if written.note is not None:
        console.print(f"made from the signed checkpoint {written.note} "
                      f"({data.integrity.tree_size:,} records)")
    else:
        console.print("no signed checkpoint: the report cannot be checked against the "
                      "audit log")
    console.print(f"{chosen.label}: {len(data.mining.rows)} reconciliations, "
                  f"{len(data.alerts.raised)} alerts raised")


def render_whole(data: Report, out: Path) -> Rendered:
    """Renders the report in a temporary directory beside ``out`` and moves its files into
    ``out`` only when every one was written; returns where they are."""
    from services.report import render

    parent = out.resolve().parent
    if not parent.is_dir():
        raise UserError(f"no directory {parent} for {out}")
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        made = render(data, staging)
        out.mkdir(exist_ok=True)
        for path in sorted(staging.iterdir()):
            os.replace(path, out / path.name)
    except BaseException as exc:
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        stderr.print(f"{why}: the report was not written (partial output removed)")
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    def moved(path: Path) -> Path:
        return out / path.name

    from services.report import Rendered

    return Rendered(moved(made.html), moved(made.pdf), moved(made.json),
                    [moved(p) for p in made.charts],
                    None if made.note is None else moved(made.note), made.pdf_pages)
