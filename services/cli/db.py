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
    """Create the tables of the store (idempotent)."""
    from ledger.application import Ledger

    config = StoreConfig.from_environment(db, cipher_key, create_tables=True)
    ledger = Ledger(config)
    try:
        console.print(f"[green]store ready[/green] {config.url}")
    finally:
        ledger.close()
