"""`valedger report`: the regulator's HTML report and PNG charts, from the store."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from services.cli.app import CIPHER_FILE_OPTION_HELP, CIPHER_OPTION_HELP, DB_OPTION_HELP, app
from services.cli.errors import UserError, stderr
from services.cli.store import Access, open_config, resolve_cipher_key

if TYPE_CHECKING:
    from services.report import ReportData

console = Console()


@app.command("report")
def report(
    out: Annotated[Path, typer.Option(
        "--out", help="Directory for report.html and charts (created when missing).")],
    db: Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)] = None,
    cipher_key: Annotated[
        str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)
    ] = None,
    cipher_key_file: Annotated[
        Path | None, typer.Option("--cipher-key-file", help=CIPHER_FILE_OPTION_HELP)
    ] = None,
) -> None:
    """Write a self-contained HTML report with charts: proved hashrate against capacity,
    reported against expected output, metered energy against quota, alerts over time."""
    from ledger import Ledger
    from services.report import CHARTS, gather

    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file: --out names the directory for report.html "
                        "and its charts")
    config = open_config(db, resolve_cipher_key(cipher_key, cipher_key_file), Access.READ)
    ledger = Ledger(config)
    try:
        data = gather(ledger, config.url_for_display)
    finally:
        ledger.close()
    path = render_whole(data, out)
    console.print(f"report  {path}")
    console.print("charts  " + ", ".join(str(out / name) for name in CHARTS))
    console.print(f"{len(data.licences)} reconciliations, {len(data.alerts)} alerts")


def render_whole(data: ReportData, out: Path) -> Path:
    """Renders the report in a temporary directory beside ``out`` and moves its files into
    ``out`` only when every one was written; returns the HTML path."""
    from services.report import render

    parent = out.resolve().parent
    if not parent.is_dir():
        raise UserError(f"no directory {parent} for {out}")
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        html = render(data, staging)
        out.mkdir(exist_ok=True)
        for made in sorted(staging.iterdir()):
            os.replace(made, out / made.name)
    except BaseException as exc:
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        stderr.print(f"{why}: the report was not written (partial output removed)")
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / html.name
