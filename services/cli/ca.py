"""`valedger ca`: a private CA for mTLS, and certificates naming role and participant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.ca import SERVER_ROLE, CAError, CertificateAuthority, Role
from services.cli.app import ca_app

console = Console()
err = Console(stderr=True)

CA_DIR_HELP = "Directory of the CA (ca.crt, ca.key, issued/)."
DEFAULT_CA_DIR = Path("var/ca")


@ca_app.command("init")
def init(
    ca_dir: Annotated[Path, typer.Option("--ca-dir", help=CA_DIR_HELP)] = DEFAULT_CA_DIR,
    name: Annotated[str, typer.Option("--name", help="Common name of the CA.")
                    ] = "valedger private CA",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing CA.")] = False,
) -> None:
    """Create a private CA (ECDSA P-256 key, mode 0600)."""
    try:
        ca = CertificateAuthority.init(ca_dir, name, force=force)
    except CAError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]CA created[/green] certificate {ca.cert_path}, key {ca.key_path}")


@ca_app.command("issue")
def issue(
    role: Annotated[str, typer.Argument(
        help=f"One of {', '.join([*(r.value for r in Role), SERVER_ROLE])}.")],
    name: Annotated[str, typer.Argument(
        help="Certificate name (CN); for a server, its host name.")],
    participant: Annotated[str | None, typer.Option(
        "--participant", help="Participant id the caller acts for (UID; default NAME).")
    ] = None,
    host: Annotated[list[str] | None, typer.Option(
        "--host", help="Server certificate: DNS name or IP (repeatable; default NAME, "
                       "localhost, 127.0.0.1).")] = None,
    ca_dir: Annotated[Path, typer.Option("--ca-dir", help=CA_DIR_HELP)] = DEFAULT_CA_DIR,
    out_dir: Annotated[Path | None, typer.Option(
        "--out-dir", help="Where to write NAME's files (default CA_DIR/issued).")] = None,
    days: Annotated[int, typer.Option("--days", help="Validity in days.")] = 397,
) -> None:
    """Issue a certificate whose subject names ROLE and the participant."""
    hosts = tuple(host or (name, "localhost", "127.0.0.1")) if role == SERVER_ROLE else ()
    try:
        issued = CertificateAuthority(ca_dir).issue(role, name, participant, hosts, days,
                                                    out_dir)
    except CAError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]issued[/green] {role} {name}: certificate {issued.cert}, "
                  f"key {issued.key}, CA {issued.ca_cert}")
