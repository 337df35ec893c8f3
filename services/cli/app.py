"""The `valedger` command tree: one Typer app and its command groups.

Each topic module (``services/cli/<topic>.py``) adds its commands to these objects;
``services/cli/__init__.py`` imports every topic module so the tree is complete.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

from services.cli.errors import Debug, error_path

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


class ValedgerGroup(TyperGroup):
    """The root command: every subcommand runs inside the one error path."""

    def invoke(self, ctx: Any) -> Any:
        """Returns the subcommand's result; its failures become one line and a code."""
        with error_path():
            return super().invoke(ctx)


app = typer.Typer(
    name="valedger",
    cls=ValedgerGroup,
    help="National virtual-asset ledger: licences, mining proofs, trades, audit log.\n\n"
         "Exit status: 0 success; 1 a verification failed; 2 an operator's mistake "
         "(bad option, file, store or key); 70 an internal error (--debug shows the "
         "traceback); 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
)
db_app = typer.Typer(help="Create the store's tables, or add what a new version needs.",
                     no_args_is_help=True)
ca_app = typer.Typer(help="Private certificate authority for mTLS roles.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Tamper-evident audit log: keys, export, verify, prove.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(ca_app, name="ca")
app.add_typer(audit_app, name="audit")

DB_OPTION_HELP = ("Store URL: sqlite:///path or postgresql://user@host:port/db "
                  "(env VALEDGER_DB; default sqlite:///./var/ledger.db).")
CIPHER_OPTION_HELP = ("Base64 AES key that encrypts event state (env VALEDGER_CIPHER_KEY; "
                      "prefer --cipher-key-file: a key on the command line is visible to "
                      "other users of the machine).")
CIPHER_FILE_OPTION_HELP = ("File holding the base64 AES cipher key "
                           "(env VALEDGER_CIPHER_KEY_FILE).")


def package_version() -> str:
    """Returns the installed valedger version."""
    try:
        return version("valedger")
    except PackageNotFoundError:
        return "unknown"


def show_version(value: bool) -> None:
    """Prints the version and exits when ``--version`` is given."""
    if value:
        typer.echo(f"valedger {package_version()}")
        raise typer.Exit(0)


@app.callback()
def options(
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an internal error (env VALEDGER_DEBUG=1).")
    ] = False,
    show: Annotated[bool, typer.Option(
        "--version", callback=show_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """National virtual-asset ledger: licences, mining proofs, trades, audit log."""
    if debug:
        Debug.enabled = True


def _flag_without_type(self: TyperOption, ctx: Any) -> str | None:
    """Returns no type label for boolean flags (help shows ``--force``, not
    ``--force <bool>``), the usual label otherwise."""
    if self.is_flag or self.count:
        return None
    return _typed_label(self, ctx)


_typed_label = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_without_type  # type: ignore[method-assign]
