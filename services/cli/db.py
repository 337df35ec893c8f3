"""`valedger db`: create the schema once, before servers run with table creation off."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.cli.app import CIPHER_FILE_OPTION_HELP, CIPHER_OPTION_HELP, DB_OPTION_HELP, db_app
from services.cli.store import Access, open_config, resolve_cipher_key

console = Console()


@db_app.command("init")
def init(
    db: Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)] = None,
    cipher_key: Annotated[
        str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)
    ] = None,
    cipher_key_file: Annotated[
        Path | None, typer.Option("--cipher-key-file", help=CIPHER_FILE_OPTION_HELP)
    ] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print {store, ready} as JSON on stdout.")] = False,
) -> None:
    """Create every table of the store: the event log, the trade request index, the
    history index and the audit tree and checkpoints (idempotent). Servers then run with
    table creation off. On a store restored from an audit export, or written before the
    trade request index existed, this also fills that index from the stored trades (the
    cipher key is needed to read them)."""
    from ledger import AuditLog, HistoryIndex, Ledger

    config = open_config(db, resolve_cipher_key(cipher_key, cipher_key_file), Access.CREATE)
    ledger = Ledger(config)
    try:
        HistoryIndex(ledger)
        AuditLog(ledger.recorder, create_tables=True)
        indexed = ledger.rebuild_request_index()
    finally:
        ledger.close()
    if json_output:
        sys.stdout.write(json.dumps({"store": config.url_for_display, "ready": True,
                                     "trade_requests_indexed": indexed}) + "\n")
    else:
        console.print(f"[green]store ready[/green] {config.url_for_display}", soft_wrap=True)
        if indexed:
            console.print(f"indexed the request ids of {indexed} stored trades")
