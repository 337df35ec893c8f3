"""`valedger audit monitor`: follow a server's checkpoints over gRPC (mTLS) and exit
non-zero, printing both signed notes, when the log shows a rollback or a split view."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import grpc
import typer

from services.cli.app import audit_app
from services.cli.audit import (
    PublicKeyOption,
    QuorumOption,
    WitnessKeyOption,
    err,
    fail,
    load_verifiers,
    load_witnesses,
)
from services.client import LedgerClient
from services.generated.valedger.v1 import audit_pb2
from services.tls import TlsFiles
from tlog.monitor import Monitor, MonitorError, SplitViewError

EXIT_SPLIT_VIEW = 3
"""Exit status on a rollback or a split view (1 is a checkpoint that does not verify)."""


def print_evidence(error: SplitViewError) -> None:
    """Prints both signed notes: what the log showed before, and what contradicts it."""
    sys.stdout.write(f"{error.kind.upper()}: {error.reason}\n\n")
    sys.stdout.write("--- checkpoint verified before\n" + error.old_note)
    sys.stdout.write("--- checkpoint now served\n" + error.new_note)
    sys.stdout.flush()


@audit_app.command("monitor")
def monitor(
    server: Annotated[str, typer.Option("--server", help="HOST:PORT of a valedger server.")],
    state: Annotated[Path, typer.Option(
        "--state", help="File keeping the last verified checkpoint (created if missing).")],
    ca_cert: Annotated[Path, typer.Option("--ca-cert", help="CA certificate (PEM).")],
    cert: Annotated[Path, typer.Option("--cert", help="Client certificate (PEM).")],
    key: Annotated[Path, typer.Option("--key", help="Client private key (PEM).")],
    public_key: PublicKeyOption = None,
    witness_key: WitnessKeyOption = None,
    quorum: QuorumOption = None,
    origin: Annotated[str | None, typer.Option(
        "--origin", help="Expected checkpoint origin (default: the public key's name).")
    ] = None,
    server_name: Annotated[str | None, typer.Option(
        "--server-name", help="Name in the server's certificate, if not the host.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between checks.")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="Check once and exit.")] = False,
) -> None:
    """Follow the log's checkpoints: each must be signed by the log, carry the witness
    quorum and extend the last one verified (kept in --state). Exits 3 printing both signed
    notes on a rollback or a split view, 1 on a checkpoint that does not verify."""
    verifiers = load_verifiers(public_key)
    witnesses, k = load_witnesses(witness_key, quorum)
    watcher = Monitor(state, verifiers, origin, witnesses, k)
    client = LedgerClient.connect(server, TlsFiles(ca_cert, cert, key),
                                  server_name=server_name, timeout=30)
    try:
        while True:
            try:
                note = client.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                                  timeout=30).checkpoint.signed_note

                def proof(old: int, new: int) -> list[bytes]:
                    answer = client.audit.GetConsistencyProof(
                        audit_pb2.GetConsistencyProofRequest(first_tree_size=old,
                                                             second_tree_size=new),
                        timeout=30)
                    return list(answer.hashes)

                seen = watcher.observe(note, proof)
                cp = seen.checkpoint
                if seen.grew:
                    err.print(f"verified {cp.checkpoint.origin} at size {cp.size} "
                              f"(root {cp.root_hash.hex()[:16]}…)", soft_wrap=True)
            except SplitViewError as e:
                print_evidence(e)
                raise typer.Exit(EXIT_SPLIT_VIEW) from None
            except MonitorError as e:
                err.print(f"[red]REFUSED[/red]: {e}", soft_wrap=True)
                raise typer.Exit(1) from None
            except grpc.RpcError as e:
                if once:
                    raise fail(f"server {server}: {e.code().name}: {e.details()}") from None
                err.print(f"[yellow]server unavailable[/yellow]: {e.code().name}; retrying")
            if once:
                return
            time.sleep(interval)
    finally:
        client.close()
