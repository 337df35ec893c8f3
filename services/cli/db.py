"""`valedger db`: create the schema once, before servers run with table creation off."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ledger.config import StoreConfig
from services.cli.app import CIPHER_OPTION_HELP, DB_OPTION_HELP, db_app

console = Console()


@db_app.command("init")
def init(
    db: Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)] = None,
    cipher_key: Annotated[
        str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)
    ] = None,
) -> None:
    """Create every table of the store: the event log, the history index and the audit
    tree and checkpoints (idempotent). Servers then run with table creation off."""
    from ledger.application import Ledger
    from ledger.audit.log import AuditLog
    from ledger.errors import LedgerError
    from ledger.history import HistoryIndex

    config = StoreConfig.from_environment(db, cipher_key, create_tables=True)
    try:
        ledger = Ledger(config)
    except LedgerError as exc:
        console.print(f"[red]cannot open the store:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        HistoryIndex(ledger)
        AuditLog(ledger.recorder, create_tables=True)
        console.print(f"[green]store ready[/green] {config.url_for_display}")
    finally:
        ledger.close()
