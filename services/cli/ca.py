"""`valedger ca`: a private CA for mTLS, certificates naming role and participant, and
revocation (a CRL the server reloads without restart)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.ca import (
    DEFAULT_CRL_DAYS,
    PARTICIPANT_ROLES,
    SERVER_ROLE,
    CAError,
    CertificateAuthority,
    Role,
)
from services.cli.app import ca_app

console = Console()

CA_DIR_HELP = "Directory of the CA (ca.crt, ca.key, crl.pem, issued/)."
DEFAULT_CA_DIR = Path("var/ca")


@ca_app.command("init")
def init(
    ca_dir: Annotated[Path, typer.Option("--ca-dir", help=CA_DIR_HELP)] = DEFAULT_CA_DIR,
    name: Annotated[str, typer.Option("--name", help="Common name of the CA.")
                    ] = "valedger private CA",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing CA.")] = False,
) -> None:
    """Create a private CA (ECDSA P-256 key, mode 0600)."""
    ca = CertificateAuthority.init(ca_dir, name, force=force)
    console.print(f"[green]CA created[/green] certificate {ca.cert_path}, key {ca.key_path}")


@ca_app.command("issue")
def issue(
    role: Annotated[str, typer.Argument(
        help=f"One of {', '.join([*(r.value for r in Role), SERVER_ROLE])}.")],
    name: Annotated[str, typer.Argument(
        help="Certificate name (CN); for a server, its host name.")],
    participant: Annotated[str | None, typer.Option(
        "--participant",
        help=f"Participant id the caller acts for (UID; default NAME). For "
             f"{' and '.join(sorted(PARTICIPANT_ROLES))} it must be the participant's UUID: "
             "receipt.aggregate_id of LicensingService.RegisterParticipant's response.")
    ] = None,
    host: Annotated[list[str] | None, typer.Option(
        "--host", help="Server certificate: DNS name or IP (repeatable; default NAME, "
                       "localhost, 127.0.0.1).")] = None,
    ca_dir: Annotated[Path, typer.Option("--ca-dir", help=CA_DIR_HELP)] = DEFAULT_CA_DIR,
    out_dir: Annotated[Path | None, typer.Option(
        "--out-dir", help="Where to write NAME's files (default CA_DIR/issued).")] = None,
    days: Annotated[int, typer.Option("--days", help="Validity in days.")] = 397,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing certificate and key of ROLE NAME.")] = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print {certificate, key, ca} as JSON.")] = False,
) -> None:
    """Issue a certificate whose subject names ROLE and the participant."""
    hosts = tuple(host or (name, "localhost", "127.0.0.1")) if role == SERVER_ROLE else ()
    issued = CertificateAuthority(ca_dir).issue(role, name, participant, hosts, days,
                                                out_dir, force=force)
    if json_output:
        sys.stdout.write(json.dumps({"certificate": str(issued.cert), "key": str(issued.key),
                                     "ca": str(issued.ca_cert), "role": role,
                                     "name": name}) + "\n")
        return
    console.print(f"[green]issued[/green] {role} {name}: certificate {issued.cert}, "
                  f"key {issued.key}, CA {issued.ca_cert}", soft_wrap=True)


@ca_app.command("revoke")
def revoke(
    target: Annotated[str, typer.Argument(
        help="ROLE-NAME of a certificate in CA_DIR/issued (e.g. auditor-aud), or the path "
             "of a certificate file.")],
    ca_dir: Annotated[Path, typer.Option("--ca-dir", help=CA_DIR_HELP)] = DEFAULT_CA_DIR,
    days: Annotated[int, typer.Option(
        "--days", help="Days until the CRL must be re-signed (run revoke again).")
    ] = DEFAULT_CRL_DAYS,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print {serial, crl, revoked} as JSON.")] = False,
) -> None:
    """Revoke a certificate: add it to CA_DIR/crl.pem. Servers started with this CA load
    the CRL and reload it when it changes (or on SIGHUP): the certificate is refused from
    its next call on."""
    ca = CertificateAuthority(ca_dir)
    path = Path(target)
    if not path.is_file():
        path = ca.directory / "issued" / f"{target}.crt"
        if not path.is_file():
            raise CAError(f"no certificate {target}: give ROLE-NAME of CA_DIR/issued "
                          f"({ca.directory / 'issued'}) or a certificate file")
    cert = ca.revoke(path, days)
    count = len(ca.revoked())
    if json_output:
        sys.stdout.write(json.dumps({"serial": format(cert.serial_number, "x"),
                                     "crl": str(ca.crl_path), "revoked": count}) + "\n")
        return
    console.print(f"[green]revoked[/green] {path} (serial {cert.serial_number:x}); "
                  f"{ca.crl_path} lists {count} certificate(s)", soft_wrap=True)
