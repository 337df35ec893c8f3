"""`valedger witness`: a witness's key and its add-checkpoint server (c2sp.org/tlog-witness)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from services.cli.app import app
from services.cli.errors import print_error
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, KeyFormatError, NoteSigner

witness_app = typer.Typer(
    help="Witness: cosign a log's checkpoints after checking it only grows (C2SP tlog-witness).",
    no_args_is_help=True,
)
app.add_typer(witness_app, name="witness")

console = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    """Prints the one error line (the message is not markup) and returns the Exit."""
    print_error(message)
    return typer.Exit(2)


def load_witness_key(path: Path) -> NoteSigner:
    """Returns the cosigner key stored in ``path`` (written by `witness keygen`)."""
    try:
        signer = NoteSigner.from_skey(path.read_text())
    except OSError as e:
        raise _fail(f"cannot read witness key {path}: {e.strerror}") from None
    except KeyFormatError as e:
        raise _fail(f"witness key {path}: {e}") from None
    if signer.sig_type != SIG_TYPE_COSIGNATURE_V1:
        raise _fail(f"{path} is not a witness (cosignature/v1) key")
    return signer


@witness_app.command("keygen")
def keygen(
    name: Annotated[str, typer.Option("--name", help="Witness name, e.g. witness.mof.example.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for witness.key and witness.pub.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
) -> None:
    """Create a witness's Ed25519 cosignature/v1 key (witness.key) and its public key
    (witness.pub: give it to the log's operator and to auditors)."""
    try:
        signer = NoteSigner.generate(name, SIG_TYPE_COSIGNATURE_V1)
    except KeyFormatError as e:
        raise _fail(str(e)) from None
    out.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = out / "witness.key", out / "witness.pub"
    if not force and (key_path.exists() or pub_path.exists()):
        raise _fail(f"{key_path} or {pub_path} exists; use --force to replace them")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.to_skey() + "\n")
    pub_path.write_text(signer.verifier.vkey + "\n")
    console.print(f"witness key  {key_path} (keep it secret)")
    console.print(f"public key   {pub_path}")
    console.print(signer.verifier.vkey, soft_wrap=True)


@witness_app.command("serve")
def serve(
    config: Annotated[Path | None, typer.Option(
        "--config", help="TOML file with \\[witness] and \\[\\[log]] sections.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Witness key file.")] = None,
    store: Annotated[Path | None, typer.Option(
        "--store", help="SQLite file holding the latest cosigned checkpoint of each log.")
    ] = None,
    listen: Annotated[str | None, typer.Option("--listen", help="HOST:PORT.")] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    log: Annotated[list[str] | None, typer.Option(
        "--log", help="A log to witness: ORIGIN=VKEY or VKEY (repeatable).")] = None,
) -> None:
    """Serve POST /add-checkpoint: cosign each checkpoint of a configured log that is
    signed by the log and consistent with the last one cosigned, stored before answering."""
    from services.witness.config import WitnessConfigError, load_config
    from services.witness.core import Witness
    from services.witness.http import WitnessHTTPServer, parse_listen
    from services.witness.store import WitnessStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = load_config(config, key, store, listen, tls_cert, tls_key, log or ())
        address = parse_listen(settings.listen)
    except (WitnessConfigError, ValueError) as e:
        raise _fail(str(e)) from None
    signer = load_witness_key(settings.key_file)
    witness = Witness(signer, WitnessStore(settings.store), settings.log_keys())
    try:
        server = WitnessHTTPServer(address, witness, settings.tls_cert, settings.tls_key)
    except OSError as e:
        raise _fail(f"cannot listen on {settings.listen}: {e}") from None

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    err.print(f"witness {signer.verifier.label} on {server.url}/add-checkpoint for "
              + ", ".join(sorted(settings.log_keys())), soft_wrap=True)
    err.print(signer.verifier.vkey, soft_wrap=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        witness.store.close()
