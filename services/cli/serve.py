"""`valedger serve`: run the gRPC server over a store (mTLS unless --insecure).

Every mistake is found before the server starts and told in one line: a malformed or busy
listen address, TOML values of the wrong type, TLS files that do not belong together, a
store without tables (a new SQLite file gets its tables; PostgreSQL needs `valedger db
init`), a cipher key that does not read the store, a signing key whose name is not the
configured origin.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.app import CIPHER_FILE_OPTION_HELP, CIPHER_OPTION_HELP, DB_OPTION_HELP, app
from services.cli.errors import UserError, stderr
from services.cli.store import Access, open_config, sqlite_is_new, sqlite_path, store_url
from services.settings import Settings, deprecations, load_settings

if TYPE_CHECKING:
    from tlog.note import NoteSigner

GRPC_VERBOSITY_ENV = "GRPC_VERBOSITY"

PATH_PARAMETERS = ("ca_dir", "ca_cert", "cert", "key", "crl", "cipher_key_file", "config")
"""Parameters of `serve` that are paths (they travel to workers as text)."""
SERVE_PARAMETERS = (
    "db", "listen", "insecure", "ca_dir", "server_name", "ca_cert", "cert", "key", "crl",
    "cipher_key", "cipher_key_file", "config", "max_message_bytes", "grace",
    "trade_batch_size", "workers", "signature_workers", "calendar_interval", "create_tables")
"""Parameters of `serve` a worker of --processes gets as the supervisor got them."""


@dataclass(frozen=True)
class WorkerRole:
    """What makes a `serve` a worker of ``--processes N``: set by its supervisor."""

    index: int
    parent_pid: int
    ready_fd: int
    create: bool
    """Whether it may create missing tables (the first worker only)."""
    processes: int

    @classmethod
    def parse(cls, text: str) -> WorkerRole:
        """Returns the role written as JSON by the supervisor."""
        data = json.loads(text)
        return cls(int(data["index"]), int(data["parent_pid"]), int(data["ready_fd"]),
                   bool(data["create"]), int(data["processes"]))


DEFAULT_MAX_PROCESSES = 8
"""Most server processes by default: each holds up to 15 PostgreSQL connections (pool of
5, overflow 10) plus its listener's, so 8 stay within PostgreSQL's default
max_connections of 100 with room for tools; and separate servers measured on 16 cores
stopped gaining at 8 (issue 19). More is one ``--processes`` away."""


def default_processes(is_postgres: bool) -> int:
    """Returns the server processes of a `serve` that names none: one per usable core on
    PostgreSQL, at most :data:`DEFAULT_MAX_PROCESSES`; one on SQLite (one file lock
    serialises its writers, so more processes only queue for it)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    return max(1, min(cores, DEFAULT_MAX_PROCESSES)) if is_postgres else 1


def worker_parameters(params: dict[str, object]) -> dict[str, object]:
    """Returns the parameters as JSON values (paths as text)."""
    return {name: str(value) if name in PATH_PARAMETERS and value is not None else value
            for name, value in params.items()}


def listen_address(text: str, what: str = "--listen") -> tuple[str, int]:
    """Returns (host, port) of ``HOST:PORT`` (``[v6]:PORT`` for IPv6), or raises UserError."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise UserError(f"{what} {text!r} is not HOST:PORT (e.g. 127.0.0.1:50051)")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise UserError(f"{what} {text!r}: port {port} is not in 0-65535")
    return host.strip("[]"), port


def check_port_free(host: str, port: int, what: str) -> None:
    """Raises UserError when ``host:port`` cannot be bound (in use, or not our address)."""
    if port == 0:
        return
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {what} {host}:{port}: {exc.strerror}") from None


def signing_key(settings: Settings) -> NoteSigner | None:
    """Returns the checkpoint signer of the settings, checked against ``[audit] origin``."""
    if not settings.audit.signing_key_file:
        return None
    from tlog.note import NoteError, NoteSigner

    path = Path(settings.audit.signing_key_file)
    setting = "[audit] signing_key_file (VALEDGER_AUDIT_SIGNING_KEY_FILE)"
    try:
        signer = NoteSigner.from_skey(path.read_text().strip())
    except OSError as exc:
        raise UserError(f"{setting} {path}: {exc.strerror or exc}; `valedger audit keygen` "
                        "writes one") from None
    except (NoteError, ValueError) as exc:
        raise UserError(f"{setting} {path} is not a signing key written by `valedger audit "
                        f"keygen`: {exc}") from None
    origin = settings.audit.origin
    if origin and origin != signer.name:
        raise UserError(
            f"[audit] origin {origin!r} (VALEDGER_AUDIT_ORIGIN) is not the name of the signing "
            f"key {path} ({signer.name!r}): its checkpoints would not verify; leave the origin "
            "unset (it comes from the key) or make a key with `audit keygen --origin`")
    return signer


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
    crl: Annotated[Path | None, typer.Option(
        "--crl", help="Certificate revocation list of `valedger ca revoke` (default: "
                      "crl.pem beside the CA certificate); reloaded when it changes or on "
                      "SIGHUP.")] = None,
    cipher_key: Annotated[str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)
                          ] = None,
    cipher_key_file: Annotated[Path | None, typer.Option(
        "--cipher-key-file", help=CIPHER_FILE_OPTION_HELP)] = None,
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
             "(default: every core but one; with --processes N the cores not running "
             "a server process, (cores - N) / N each; 0: in the server).")] = None,
    calendar_interval: Annotated[float | None, typer.Option(
        "--calendar-interval", min=0,
        help="Seconds between runs of the supervisory calendar (licence expiry, report "
             "deadlines, period closes; one server per store leads). 0: this server never "
             "runs it ([server] calendar_interval_seconds, default 30).")] = None,
    create_tables: Annotated[bool, typer.Option(
        "--create-tables/--no-create-tables",
        help="Create missing tables at start. A new SQLite file always gets its tables; "
             "PostgreSQL needs `valedger db init` (or this flag).")
    ] = False,
    processes: Annotated[int | None, typer.Option(
        "--processes", min=0,
        help="Server processes on the one port (SO_REUSEPORT) over the one store "
             "(default, or 0: the setting \\[server] processes, else one per core up to 8 "
             "on PostgreSQL, 1 on SQLite, whose writes are serialised by one file "
             "lock).")] = None,
    worker_spec: Annotated[str | None, typer.Option(
        "--worker-spec", hidden=True,
        help="Internal: set by the supervisor of --processes for each worker.")] = None,
) -> None:
    """Serve the valedger.v1 gRPC API until SIGTERM (graceful shutdown)."""
    params = {name: value for name, value in locals().items() if name in SERVE_PARAMETERS}
    worker = WorkerRole.parse(worker_spec) if worker_spec else None
    if worker is not None:
        from ledger import die_with_parent

        die_with_parent(worker.parent_pid)
    from ledger import default_workers
    os.environ.setdefault(GRPC_VERBOSITY_ENV, "NONE")  # gRPC core's own lines stay out of
    # the JSON log; set GRPC_VERBOSITY=ERROR (or DEBUG) to see them.
    from ledger import CheckpointPolicy, WitnessPolicyError, load_witness_policy
    from services.ca import CRL_FILE
    from services.logs import configure_json_logging
    from services.revocation import RevocationList
    from services.server import ServerOptions
    from services.server import serve as run_server
    from services.tls import TlsFiles, check_tls_files

    settings = load_settings(config)
    for warning in deprecations():
        stderr.print(f"[yellow]warning:[/yellow] {warning}")
    server = settings.server
    address = listen or server.listen
    host, port = listen_address(address)
    metrics_address = listen_address(server.metrics_listen, "[server] metrics_listen") \
        if server.metrics_listen else None
    insecure = insecure or server.insecure
    tls = None
    revocations = None
    if not insecure:
        if ca_dir is not None:
            tls = TlsFiles.from_ca_dir(ca_dir, "server", server_name)
        paths = (ca_cert or (Path(server.ca_cert) if server.ca_cert else None),
                 cert or (Path(server.cert) if server.cert else None),
                 key or (Path(server.key) if server.key else None))
        if all(paths):
            tls = TlsFiles(*paths)  # type: ignore[arg-type]
        if tls is None:
            raise UserError("mTLS needs certificates: give --ca-dir (see `valedger ca init` "
                            "and `valedger ca issue server localhost`) or --ca-cert, --cert "
                            "and --key; or --insecure for local development")
        check_tls_files(tls)
        crl_path = crl or (Path(server.crl) if server.crl else
                           Path(tls.ca_cert).parent / CRL_FILE)
        revocations = RevocationList(crl_path, Path(tls.ca_cert))
    settings.verifier.export(os.environ)  # the ledger's verifier reads VALEDGER_VERIFIER_*
    signer = signing_key(settings)
    if cipher_key and cipher_key_file:
        raise UserError("give --cipher-key or --cipher-key-file, not both")
    key_text = cipher_key or (Path(cipher_key_file).read_text().strip() if cipher_key_file
                              else settings.store.resolved_cipher_key())
    if worker is None:  # a worker's port is held by its supervisor
        check_port_free(host, port, "--listen")
    url = db if db is not None else settings.store.url
    creating = (create_tables or settings.store.create_tables) and \
        (worker is None or worker.create)
    access = Access.CREATE if creating or sqlite_is_new(store_url(url)) else Access.WRITE
    if worker is not None and not worker.create:
        access = Access.WRITE  # the first worker made the tables
    store = open_config(url, key_text, access)
    count = 1 if worker is not None else \
        processes or server.processes or default_processes(store.is_postgres)
    if count > 1:
        if store.create_tables and not creating:
            stderr.print(f"new store {store.url_for_display}: creating its tables")
        if sqlite_path(store_url(url)) is None and not store.is_postgres:
            raise UserError("--processes: an in-memory SQLite store cannot be shared by "
                            "processes; give a file (sqlite:///PATH) or --processes 1")
        if metrics_address is not None:
            check_port_free(*metrics_address, "[server] metrics_listen")
        configure_json_logging(server.log_level)
        raise SystemExit(supervise(
            params, count, host, port, address, metrics_address, insecure,
            server.grace_seconds if grace is None else grace))
    interceptors = []
    metrics = None
    if metrics_address is not None:
        from services.metrics import ServerMetrics

        if worker is None:
            check_port_free(*metrics_address, "[server] metrics_listen")
            metrics = ServerMetrics()
            metrics.serve(metrics_address[0] or "127.0.0.1", metrics_address[1])
        else:  # the supervisor serves the sum of its workers' metrics
            metrics = ServerMetrics(multiprocess=True)
        interceptors.append(metrics.interceptor())
    try:
        witnesses = (load_witness_policy(Path(settings.audit.witnesses_file))
                     if settings.audit.witnesses_file else None)
    except WitnessPolicyError as exc:
        raise UserError(str(exc)) from None
    if signature_workers is None:
        signature_workers = default_workers() if worker is None else \
            max(0, (default_workers() + 1 - worker.processes) // worker.processes)
    options = ServerOptions(
        listen=address, tls=tls, insecure=insecure,
        max_message_bytes=max_message_bytes or server.max_message_bytes,
        grace_seconds=server.grace_seconds if grace is None else grace,
        workers=workers, trade_batch_size=trade_batch_size, interceptors=interceptors,
        signature_workers=signature_workers,
        audit_signer=signer,
        audit_origin=settings.audit.origin,
        audit_policy=CheckpointPolicy(settings.audit.checkpoint_every_records,
                                      settings.audit.checkpoint_every_seconds),
        audit_witnesses=witnesses, metrics=metrics, revocations=revocations,
        calendar_interval_seconds=(server.calendar_interval_seconds
                                   if calendar_interval is None else calendar_interval),
        reuse_port=worker is not None,
        # One follower per store, in a process of its own: the first worker's child.
        audit_follower="process" if worker is None or worker.index == 0 else "none",
        follower_logging=functools.partial(configure_json_logging, server.log_level,
                                           {"process": "audit-follower"}))
    if store.create_tables and not creating and worker is None:
        stderr.print(f"new store {store.url_for_display}: creating its tables")
    configure_json_logging(server.log_level, None if worker is None else
                           {"worker": worker.index, "pid": os.getpid()})
    on_ready = None if worker is None else functools.partial(announce_ready, worker)
    asyncio.run(run_server(store, options, on_ready=on_ready))


def announce_ready(worker: WorkerRole) -> None:
    """Tells the supervisor that this worker serves (a line on its ready pipe)."""
    from services.supervisor import READY

    os.write(worker.ready_fd, READY)
    os.close(worker.ready_fd)


def supervise(params: dict[str, object], count: int, host: str, port: int, address: str,
              metrics_address: tuple[str, int] | None, insecure: bool,
              grace_seconds: float) -> int:
    """Runs ``count`` workers of `serve` on one port until SIGTERM or SIGINT; returns the
    exit status (see services/supervisor.py)."""
    import logging

    from services.supervisor import (
        Supervisor,
        metrics_directory,
        remove_metrics_directory,
        reserve_port,
        serve_metrics,
    )

    log = logging.getLogger("services.server")
    try:
        reserved = reserve_port(host, port)
    except OSError as exc:
        raise UserError(f"cannot listen on --listen {host}:{port}: {exc.strerror}") from None
    bound = int(reserved.getsockname()[1])
    listen_bound = f"{address.rpartition(':')[0]}:{bound}"
    directory = metrics_directory() if metrics_address is not None else None
    try:
        if metrics_address is not None and directory is not None:
            serve_metrics(metrics_address[0] or "127.0.0.1", metrics_address[1], directory)
        shared = dict(worker_parameters(params), listen=listen_bound)

        def spec(index: int, create: bool) -> dict[str, object]:
            return {"params": shared, "role": {"index": index, "create": create,
                                               "processes": count}}

        def ready() -> None:
            log.info("serving", extra={"listen": address, "port": bound, "tls": not insecure,
                                       "processes": count})

        return Supervisor(count, spec, grace_seconds, directory).run(ready)
    finally:
        reserved.close()
        remove_metrics_directory(directory)

