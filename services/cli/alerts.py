"""`valedger alerts` and `valedger screening`: the regulator's compliance desk over gRPC
(mTLS with the regulator's certificate): work alert cases, export a suspicious-transaction
report, import a screening list."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer
from google.protobuf.json_format import MessageToDict
from rich.console import Console
from rich.table import Table

from services.cli.app import app
from services.cli.errors import UserError
from services.cli.output import write_bytes
from services.client import LedgerClient
from services.generated.valedger.v1 import compliance_pb2
from services.tls import TlsFiles

alerts_app = typer.Typer(help="Work alert cases and export suspicious-transaction reports "
                              "(regulator, over gRPC).", no_args_is_help=True)
screening_app = typer.Typer(help="Sanctions / PEP screening lists (regulator, over gRPC).",
                            no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(screening_app, name="screening")

console = Console()
T = TypeVar("T")

Server = Annotated[str, typer.Option("--server", help="HOST:PORT of a valedger server.",
                                     envvar="VALEDGER_SERVER")]
CaCert = Annotated[Path, typer.Option("--ca-cert", help="CA certificate (PEM).",
                                      envvar="VALEDGER_CA_CERT")]
Cert = Annotated[Path, typer.Option("--cert", help="Regulator certificate (PEM).",
                                    envvar="VALEDGER_CERT")]
Key = Annotated[Path, typer.Option("--key", help="Regulator private key (PEM).",
                                   envvar="VALEDGER_KEY")]
ServerName = Annotated[str | None, typer.Option(
    "--server-name", help="Name in the server's certificate, if not the host.")]
RequestId = Annotated[str | None, typer.Option(
    "--request-id", help="Request id (default: a new one); the same id again returns the "
                         "first result.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]

STATES = {"open": compliance_pb2.ALERT_STATE_OPEN,
          "escalated": compliance_pb2.ALERT_STATE_ESCALATED,
          "resolved": compliance_pb2.ALERT_STATE_RESOLVED}
SEVERITIES = {"low": compliance_pb2.ALERT_SEVERITY_LOW,
              "medium": compliance_pb2.ALERT_SEVERITY_MEDIUM,
              "high": compliance_pb2.ALERT_SEVERITY_HIGH,
              "critical": compliance_pb2.ALERT_SEVERITY_CRITICAL}


@contextmanager
def regulator(server: str, ca_cert: Path, cert: Path, key: Path,
              server_name: str | None) -> Iterator[LedgerClient]:
    """Returns a client of ``server``; a refused call becomes one line (UserError)."""
    client = LedgerClient.connect(server, TlsFiles(ca_cert, cert, key),
                                  server_name=server_name, timeout=30)
    try:
        yield client
    except grpc.RpcError as error:
        raise UserError(f"{server}: {error.code().name}: {error.details()}") from None
    finally:
        client.close()


def _request_id(given: str | None) -> str:
    return given or f"cli-{uuid.uuid4()}"


def _done(response: Any, json_output: bool, what: str) -> None:
    receipt = response.receipt
    if json_output:
        sys.stdout.write(json.dumps({"aggregate_id": receipt.aggregate_id,
                                     "version": receipt.version,
                                     "replayed": receipt.replayed}) + "\n")
    else:
        console.print(f"{what}: {receipt.aggregate_id} version {receipt.version}"
                      + (" (replayed)" if receipt.replayed else ""), soft_wrap=True)


def _choice(value: str, choices: dict[str, T], option: str) -> T:
    try:
        return choices[value.lower()]
    except KeyError:
        raise UserError(f"{option} must be one of {', '.join(choices)}, "
                        f"got {value!r}") from None


@alerts_app.command("list")
def list_alerts(server: Server, ca_cert: CaCert, cert: Cert, key: Key,
                state: Annotated[str | None, typer.Option(
                    help="open, escalated or resolved.")] = None,
                assignee: Annotated[str | None, typer.Option(help="Assigned to.")] = None,
                unassigned: Annotated[bool, typer.Option(
                    "--unassigned", help="Only alerts assigned to nobody.")] = False,
                kind: Annotated[str | None, typer.Option(help="e.g. STRUCTURING.")] = None,
                severity: Annotated[str | None, typer.Option(
                    help="low, medium, high or critical.")] = None,
                server_name: ServerName = None, json_output: Json = False) -> None:
    """List alerts by state, assignee, kind and severity, oldest first."""
    request = compliance_pb2.ListAlertsRequest(
        page_size=1000, kind=kind or "", assignee=assignee or "", unassigned=unassigned,
        state=_choice(state, STATES, "--state") if state else None,
        severity=_choice(severity, SEVERITIES, "--severity") if severity else None)
    found: list[compliance_pb2.Alert] = []
    with regulator(server, ca_cert, cert, key, server_name) as client:
        while True:
            page = client.compliance.ListAlerts(request, timeout=30)
            found.extend(page.alerts)
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
    if json_output:
        sys.stdout.write(json.dumps([MessageToDict(a) for a in found]) + "\n")
        return
    table = Table("alert", "kind", "severity", "state", "assignee", "raised", "message")
    for a in found:
        table.add_row(a.alert_id, a.kind,
                      compliance_pb2.AlertSeverity.Name(a.severity).split("_")[-1],
                      compliance_pb2.AlertState.Name(a.state).split("_")[-1], a.assignee,
                      a.raised_at.ToJsonString(), a.message)
    console.print(table)


def _command(call: Callable[[LedgerClient], Any], what: str, server: str, ca_cert: Path,
             cert: Path, key: Path, server_name: str | None, json_output: bool) -> None:
    with regulator(server, ca_cert, cert, key, server_name) as client:
        response = call(client)
    _done(response, json_output, what)


@alerts_app.command("assign")
def assign(alert_id: str, assignee: str, server: Server, ca_cert: CaCert, cert: Cert,
           key: Key, server_name: ServerName = None, request_id: RequestId = None,
           json_output: Json = False) -> None:
    """Assign an open alert to an analyst."""
    _command(lambda c: c.compliance.AssignAlert(compliance_pb2.AssignAlertRequest(
        request_id=_request_id(request_id), alert_id=alert_id, assignee=assignee),
        timeout=30), "assigned", server, ca_cert, cert, key, server_name, json_output)


@alerts_app.command("severity")
def severity(alert_id: str, level: str,
             note: Annotated[str, typer.Option(help="Why.")], server: Server,
             ca_cert: CaCert, cert: Cert, key: Key, server_name: ServerName = None,
             request_id: RequestId = None, json_output: Json = False) -> None:
    """Set an open alert's severity: low, medium, high or critical."""
    value = _choice(level, SEVERITIES, "LEVEL")
    _command(lambda c: c.compliance.SetAlertSeverity(compliance_pb2.SetAlertSeverityRequest(
        request_id=_request_id(request_id), alert_id=alert_id, severity=value, note=note),
        timeout=30), "severity set", server, ca_cert, cert, key, server_name, json_output)


@alerts_app.command("escalate")
def escalate(alert_id: str, to: Annotated[str, typer.Option(help="Whom to, e.g. FIU.")],
             note: Annotated[str, typer.Option(help="Why.")], server: Server,
             ca_cert: CaCert, cert: Cert, key: Key, server_name: ServerName = None,
             request_id: RequestId = None, json_output: Json = False) -> None:
    """Escalate an open alert (its severity becomes high at least)."""
    _command(lambda c: c.compliance.EscalateAlert(compliance_pb2.EscalateAlertRequest(
        request_id=_request_id(request_id), alert_id=alert_id, to=to, note=note),
        timeout=30), "escalated", server, ca_cert, cert, key, server_name, json_output)


@alerts_app.command("resolve")
def resolve(alert_id: str, note: Annotated[str, typer.Option(help="What was found and done.")],
            server: Server, ca_cert: CaCert, cert: Cert, key: Key,
            str_reference: Annotated[str, typer.Option(
                "--str-reference", help="Reference of the STR filed, if one was.")] = "",
            server_name: ServerName = None, request_id: RequestId = None,
            json_output: Json = False) -> None:
    """Resolve an open alert with a note."""
    _command(lambda c: c.compliance.ResolveAlert(compliance_pb2.ResolveAlertRequest(
        request_id=_request_id(request_id), alert_id=alert_id, note=note,
        str_reference=str_reference), timeout=30), "resolved", server, ca_cert, cert, key,
        server_name, json_output)


@alerts_app.command("reopen")
def reopen(alert_id: str, note: Annotated[str, typer.Option(help="Why.")], server: Server,
           ca_cert: CaCert, cert: Cert, key: Key, server_name: ServerName = None,
           request_id: RequestId = None, json_output: Json = False) -> None:
    """Reopen a resolved alert."""
    _command(lambda c: c.compliance.ReopenAlert(compliance_pb2.ReopenAlertRequest(
        request_id=_request_id(request_id), alert_id=alert_id, note=note), timeout=30),
        "reopened", server, ca_cert, cert, key, server_name, json_output)


@alerts_app.command("str")
def export_str(alert_ids: list[str],
               out: Annotated[Path, typer.Option("--out", help="Report file to write.")],
               server: Server, ca_cert: CaCert, cert: Cert, key: Key,
               force: Annotated[bool, typer.Option("--force", help="Overwrite --out.")] = False,
               server_name: ServerName = None) -> None:
    """Export a suspicious-transaction report (valedger-str/1 JSON, docs/STR-EXPORT.md) of
    one or more alerts."""
    with regulator(server, ca_cert, cert, key, server_name) as client:
        document = client.compliance.ExportSuspiciousTransactionReport(
            compliance_pb2.ExportSuspiciousTransactionReportRequest(alert_ids=alert_ids),
            timeout=60).document
    write_bytes(out, document, force=force, private=True)
    console.print(f"STR of {len(alert_ids)} alert(s) written to {out}", soft_wrap=True)


@screening_app.command("import")
def import_list(file: Path, server: Server, ca_cert: CaCert, cert: Cert, key: Key,
                server_name: ServerName = None, request_id: RequestId = None,
                json_output: Json = False) -> None:
    """Import a screening list file (JSON: source, version, entries) as a new version."""
    content = file.read_bytes()
    _command(lambda c: c.compliance.ImportScreeningList(
        compliance_pb2.ImportScreeningListRequest(request_id=_request_id(request_id),
                                                  content=content), timeout=60),
        "list imported", server, ca_cert, cert, key, server_name, json_output)
