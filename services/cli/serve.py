"""`valedger serve`: run the gRPC server over a store (mTLS unless --insecure)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ledger.config import StoreConfig
from services.cli.app import CIPHER_OPTION_HELP, DB_OPTION_HELP, app
from services.settings import SettingsError, load_settings

err = Console(stderr=True)


@app.command("serve")
def serve(
    db: Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)] = None,
    listen: Annotated[str | None, typer.Option(
        "--listen", help="HOST:PORT to listen on (default 127.0.0.1:50051).")] = None,
    insecure: Annotated[bool, typer.Option(
        "--insecure", help="Plaintext, no client certificates: local development only.")
    ] = False,
    ca_dir: Annotated[Path | None, typer.Option(
        "--ca-dir", help="CA directory of `valedger ca`; uses its ca.crt and "
                         "issued/server-NAME.{crt,key}.")] = None,
    server_name: Annotated[str, typer.Option(
        "--server-name", help="NAME of the server certificate in --ca-dir.")] = "localhost",
    ca_cert: Annotated[Path | None, typer.Option("--ca-cert", help="CA certificate (PEM).")
                       ] = None,
    cert: Annotated[Path | None, typer.Option("--cert", help="Server certificate (PEM).")
                    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Server private key (PEM).")
                   ] = None,
    cipher_key: Annotated[str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)
                          ] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML settings file (env VALEDGER_CONFIG).")] = None,
    max_message_bytes: Annotated[int | None, typer.Option(
        "--max-message-bytes", help="Largest request or response accepted.")] = None,
    grace: Annotated[float | None, typer.Option(
        "--grace", help="Seconds in-flight calls get on SIGTERM.")] = None,
    trade_batch_size: Annotated[int, typer.Option(
        "--trade-batch-size", help="Trades per transaction in RecordTrades.")] = 500,
    workers: Annotated[int, typer.Option(
        "--workers", help="Threads that run ledger calls.")] = 8,
    signature_workers: Annotated[int | None, typer.Option(
        "--signature-workers", min=0,
        help="Processes that check the signatures of streamed trades "
             "(default: every core but one; 0: in the server).")] = None,
    create_tables: Annotated[bool, typer.Option(
        "--create-tables/--no-create-tables",
        help="Create missing tables at start (default off: run `valedger db init`).")
    ] = False,
) -> None:
    """Serve the valedger.v1 gRPC API until SIGTERM (graceful shutdown)."""
    from ledger.signatures import default_workers
    from services.logs import configure_json_logging
    from services.server import INSECURE_WARNING, ServerOptions
    from services.server import serve as run_server
    from services.tls import TlsFiles

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    server = settings.server
    settings.verifier.export(os.environ)  # the ledger's verifier reads VALEDGER_VERIFIER_*
    store = StoreConfig(url=db or settings.store.url,
                        cipher_key=cipher_key or settings.store.resolved_cipher_key(),
                        create_tables=create_tables or settings.store.create_tables)
    insecure = insecure or server.insecure
    tls = None
    if not insecure:
        if ca_dir is not None:
            tls = TlsFiles.from_ca_dir(ca_dir, "server", server_name)
        paths = (ca_cert or (Path(server.ca_cert) if server.ca_cert else None),
                 cert or (Path(server.cert) if server.cert else None),
                 key or (Path(server.key) if server.key else None))
        if all(paths):
            tls = TlsFiles(*paths)  # type: ignore[arg-type]
        if tls is None:
            err.print("[red]mTLS needs certificates:[/red] give --ca-dir (see `valedger ca "
                      "init` / `valedger ca issue server localhost`) or --ca-cert, --cert "
                      "and --key; or --insecure for local development.")
            raise typer.Exit(2)
        for path in (tls.ca_cert, tls.cert, tls.key):
            if not Path(path).is_file():
                err.print(f"[red]TLS file not found:[/red] {path}")
                raise typer.Exit(2)
    else:
        err.print(f"[bold yellow]{INSECURE_WARNING}[/bold yellow]")
    interceptors = []
    metrics = None
    if server.metrics_listen:
        from services.metrics import ServerMetrics

        metrics = ServerMetrics()
        host, _, port = server.metrics_listen.rpartition(":")
        metrics.serve(host or "127.0.0.1", int(port))
        interceptors.append(metrics.interceptor())
    signer = None
    if settings.audit.signing_key_file:
        from tlog.note import NoteSigner

        signer = NoteSigner.from_skey(Path(settings.audit.signing_key_file).read_text().strip())
    from ledger.audit.follower import CheckpointPolicy
    from ledger.audit.witnessing import WitnessPolicyError, load_witness_policy

    try:
        witnesses = (load_witness_policy(Path(settings.audit.witnesses_file))
                     if settings.audit.witnesses_file else None)
    except WitnessPolicyError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    options = ServerOptions(
        listen=listen or server.listen, tls=tls, insecure=insecure,
        max_message_bytes=max_message_bytes or server.max_message_bytes,
        grace_seconds=server.grace_seconds if grace is None else grace,
        workers=workers, trade_batch_size=trade_batch_size, interceptors=interceptors,
        signature_workers=default_workers() if signature_workers is None else signature_workers,
        audit_signer=signer, audit_origin=settings.audit.origin,
        audit_policy=CheckpointPolicy(settings.audit.checkpoint_every_records,
                                      settings.audit.checkpoint_every_seconds),
        audit_witnesses=witnesses, metrics=metrics)
    configure_json_logging(server.log_level)
    try:
        asyncio.run(run_server(store, options))
    except OSError as exc:
        err.print(f"[red]cannot serve:[/red] {exc}")
        raise typer.Exit(1) from None
