"""`valedger db`: create the schema once, before servers run with table creation off."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.cli.app import CIPHER_FILE_OPTION_HELP, CIPHER_OPTION_HELP, DB_OPTION_HELP, db_app
from services.cli.errors import UserError, stderr
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
    home_country: Annotated[str | None, typer.Option(
        "--home-country", help="ISO 3166 alpha-2 code of this country. There is no "
        "placeholder: until it is set every trade is refused (omit it only to create an "
        "empty schema to restore an export into).")] = None,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print {store, ready, home_country} as JSON on stdout.")] = False,
) -> None:
    """Create every table of the store: the event log, the trade request index, the
    history index and the audit tree and checkpoints, and record the home country
    (idempotent). Servers then run with table creation off. On a store restored from an
    audit export, or written before the trade request index existed, this also fills that
    index from the stored trades (the cipher key is needed to read them)."""
    from ledger import (
        HOME_COUNTRY,
        AuditLog,
        HistoryIndex,
        Ledger,
        RuleViolation,
        is_country_code,
    )

    code = home_country.strip() if home_country is not None else None
    if code is not None and not is_country_code(code):
        raise UserError(f"--home-country must be an assigned ISO 3166 alpha-2 code such as "
                        f"KZ, got {code[:10]!r}")
    config = open_config(db, resolve_cipher_key(cipher_key, cipher_key_file), Access.CREATE)
    ledger = Ledger(config)
    try:
        HistoryIndex(ledger)
        AuditLog(ledger.recorder, create_tables=True)
        indexed = ledger.rebuild_request_index()
        try:
            current: str | None = ledger.get_policy(HOME_COUNTRY)
        except RuleViolation:
            current = None
        if current is None and code is not None:
            ledger.set_policy("db-init-home-country", HOME_COUNTRY, code)
            current = code
        elif code is not None and code != current:
            raise UserError(f"the store's home country is {current}, not {code}: a change "
                            "is a policy decision (SetPolicy home_country), not an init")
    finally:
        ledger.close()
    if current is None:
        # Schema only (e.g. to restore an export into, which brings its home country).
        stderr.print("warning: no home country is set: every trade is refused "
                     "(HOME_COUNTRY_NOT_SET) until `valedger db init --home-country CC` "
                     "or SetPolicy home_country")
    if json_output:
        sys.stdout.write(json.dumps({"store": config.url_for_display, "ready": True,
                                     "trade_requests_indexed": indexed,
                                     "home_country": current}) + "\n")
    else:
        console.print(f"[green]store ready[/green] {config.url_for_display} (home country "
                      f"{current or 'not set'})", soft_wrap=True)
        if indexed:
            console.print(f"indexed the request ids of {indexed} stored trades")
