"""`valedger report`: the regulator's HTML report and PNG charts, from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ledger.config import StoreConfig
from services.cli.app import CIPHER_OPTION_HELP, DB_OPTION_HELP, app

console = Console()


@app.command("report")
def report(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and charts.")],
    db: Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)] = None,
    cipher_key: Annotated[
        str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)
    ] = None,
) -> None:
    """Write a self-contained HTML report with charts: proved hashrate against capacity,
    reported against expected output, metered energy against quota, alerts over time."""
    from ledger.application import Ledger
    from ledger.errors import LedgerError
    from services.report import CHARTS, gather, render

    config = StoreConfig.from_environment(db, cipher_key, create_tables=False)
    try:
        ledger = Ledger(config)
    except LedgerError as exc:
        console.print(f"[red]cannot open the store:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        data = gather(ledger, config.url_for_display)
    finally:
        ledger.close()
    path = render(data, out)
    console.print(f"report  {path}")
    console.print("charts  " + ", ".join(str(out / name) for name in CHARTS))
    console.print(f"{len(data.licences)} reconciliations, {len(data.alerts)} alerts")
