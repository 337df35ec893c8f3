"""The `valedger` command tree: one Typer app and its command groups.

Each topic module (``services/cli/<topic>.py``) adds its commands to these objects;
``services/cli/__init__.py`` imports every topic module so the tree is complete.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="valedger",
    help="National virtual-asset ledger: licences, mining proofs, trades, audit log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Create and inspect the store.", no_args_is_help=True)
ca_app = typer.Typer(help="Private certificate authority for mTLS roles.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Tamper-evident audit log: keys, export, verify, prove.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(ca_app, name="ca")
app.add_typer(audit_app, name="audit")

DB_OPTION_HELP = "Store URL: sqlite:///path or postgresql://user@host:port/db (env VALEDGER_DB)."
CIPHER_OPTION_HELP = "Base64 AES key that encrypts event state (env VALEDGER_CIPHER_KEY)."
