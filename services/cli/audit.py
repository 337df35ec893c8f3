"""`valedger audit`: signing keys, checkpoints, export, offline verification, proofs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ledger.audit.export import ExportFormatError, read_export, write_export
from ledger.audit.faults import FaultKind
from ledger.audit.follower import AuditIntegrityError, CheckpointPolicy
from ledger.audit.log import AuditLog, parse_event_ref
from ledger.audit.proof_bundle import ProofBundleError, verify_bundle
from ledger.audit.replay import Replayer, default_checks
from ledger.audit.restore import ExportCheck, check_empty, check_export, restore_export
from ledger.audit.store import AuditStoreError
from ledger.audit.stream import database_stream
from ledger.audit.verify import StreamVerifier, VerifyReport
from ledger.config import StoreConfig
from ledger.errors import LedgerError
from services.cli.app import CIPHER_OPTION_HELP, DB_OPTION_HELP, audit_app
from tlog.checkpoint import open_checkpoint
from tlog.note import NoteError, NoteSigner, NoteVerifier

console = Console()
err = Console(stderr=True)

ORIGIN_ENV = "VALEDGER_AUDIT_ORIGIN"
KEY_ENV = "VALEDGER_AUDIT_KEY"
PUBLIC_KEY_ENV = "VALEDGER_AUDIT_PUBLIC_KEY"
DEFAULT_ORIGIN = "valedger.local/ledger"

KEY_HELP = f"Private signing key file written by `audit keygen` (env {KEY_ENV})."
PUBLIC_KEY_HELP = (
    "Regulator's verifier key: the text name+keyid+key, or a file holding it. Repeat it "
    "to trust several keys (old and new after a key rotation): each checkpoint is checked "
    f"against the key its signature names (env {PUBLIC_KEY_ENV}, keys separated by spaces)."
)

DbOption = Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)]
CipherOption = Annotated[str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)]
KeyOption = Annotated[Path | None, typer.Option("--key", help=KEY_HELP, envvar=KEY_ENV)]
WITNESS_KEY_HELP = (
    "A witness's verifier key (type 0x04, its witness.pub): the text or a file holding it. "
    "Repeat it for each trusted witness."
)
WitnessKeyOption = Annotated[
    list[str] | None, typer.Option("--witness-key", help=WITNESS_KEY_HELP)]
QuorumOption = Annotated[int | None, typer.Option(
    "--quorum", help="Cosignatures by distinct trusted witnesses each checkpoint needs "
                     "(default: every --witness-key).")]
PublicKeyOption = Annotated[
    list[str] | None,
    typer.Option("--public-key", help=PUBLIC_KEY_HELP, envvar=PUBLIC_KEY_ENV),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Prints an error and returns the Exit to raise."""
    err.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turns expected failures into one clear line and exit status 2."""
    try:
        yield
    except typer.Exit:
        raise
    except (LedgerError, NoteError, AuditIntegrityError, AuditStoreError, ValueError,
            OSError) as e:
        raise fail(str(e)) from None
    except Exception as e:  # database driver errors: unreachable store, missing tables
        if type(e).__module__.startswith(("eventsourcing", "psycopg", "sqlite3")):
            raise fail(f"store error: {e}") from None
        raise


def load_signer(path: Path | None) -> NoteSigner:
    """Returns the signer stored in a key file."""
    if path is None:
        raise fail(f"a signing key is needed: --key FILE or {KEY_ENV}")
    try:
        return NoteSigner.from_skey(path.read_text())
    except OSError as e:
        raise fail(f"cannot read key file {path}: {e.strerror}") from None


def load_verifiers(values: list[str] | None) -> list[NoteVerifier]:
    """Returns the verifiers of vkey strings or of files holding one (at least one)."""
    if not values:
        raise fail(f"the regulator's public key is needed: --public-key or {PUBLIC_KEY_ENV}")
    return [load_verifier(value) for value in values]


def load_verifier(value: str) -> NoteVerifier:
    """Returns the verifier of a vkey string or of a file holding one."""
    text = value
    if "+" not in value or Path(value).is_file():
        try:
            text = Path(value).read_text()
        except OSError as e:
            raise fail(f"cannot read public key file {value}: {e.strerror}") from None
    return NoteVerifier.from_vkey(text)


def load_witnesses(values: list[str] | None, quorum: int | None
                   ) -> tuple[list[NoteVerifier], int]:
    """Returns the trusted witness keys and the quorum (default: all of them)."""
    witnesses = [load_verifier(value) for value in values or []]
    if any(not w.is_cosigner for w in witnesses):
        raise fail("a --witness-key is a witness (cosignature, type 0x04) key")
    k = len(witnesses) if quorum is None else quorum
    if not 0 <= k <= len(witnesses):
        raise fail(f"--quorum {k} needs at least {k} --witness-key")
    return witnesses, k


def open_ledger(db: str | None, cipher_key: str | None) -> Any:
    """Returns the Ledger of a store (tables are not created), or an empty in-memory one
    when ``db`` is None (its mapper is all an export's replay needs)."""
    from ledger.application import Ledger

    if db is None:
        return Ledger(StoreConfig("sqlite:///:memory:", cipher_key, create_tables=True))
    return Ledger(StoreConfig.from_environment(db, cipher_key, create_tables=False))


def progress_bar() -> Progress:
    """Returns the progress display used by long audit work."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False,
    )


@audit_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Directory for audit.key and audit.pub.")],
    origin: Annotated[
        str, typer.Option("--origin", envvar=ORIGIN_ENV, help="Log origin = key name.")
    ] = DEFAULT_ORIGIN,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
) -> None:
    """Create the regulator's checkpoint signing key (audit.key) and public key (audit.pub).

    The key is Ed25519; its name is the log origin. The public key is what auditors need.
    """
    with friendly_errors():
        signer = NoteSigner.generate(origin)
        out.mkdir(parents=True, exist_ok=True)
        key_path, pub_path = out / "audit.key", out / "audit.pub"
        if not force and (key_path.exists() or pub_path.exists()):
            raise fail(f"{key_path} or {pub_path} exists; use --force to replace them")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(signer.to_skey() + "\n")
        pub_path.write_text(signer.verifier.vkey + "\n")
        console.print(f"signing key  {key_path} (keep it secret)")
        console.print(f"public key   {pub_path}")
        console.print(signer.verifier.vkey)


@audit_app.command("public-key")
def public_key(key: KeyOption = None) -> None:
    """Print the public verifier key of a signing key file."""
    with friendly_errors():
        console.print(load_signer(key).verifier.vkey, soft_wrap=True)


def open_log(db: str | None, signer: NoteSigner | None = None,
             create_tables: bool = True) -> AuditLog:
    """Returns the audit log of a store (no cipher key needed: nothing is decoded)."""
    config = StoreConfig.from_environment(db, None, create_tables=False)
    return AuditLog.open(config, signer=signer, create_tables=create_tables,
                         policy=CheckpointPolicy(every_records=1000, every_seconds=0))


@audit_app.command("checkpoint")
def checkpoint(db: DbOption = None, key: KeyOption = None) -> None:
    """Bring the tree up to date and sign a checkpoint of it now; print the signed note."""
    with friendly_errors():
        log = open_log(db, load_signer(key))
        try:
            cp = log.follower.checkpoint_now()
        finally:
            log.close()
        err.print(f"checkpoint {cp.seq}: {cp.size} records")
        sys.stdout.write(cp.note)


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Export file to write.")],
    db: DbOption = None,
    key: Annotated[Path | None, typer.Option(
        "--key", envvar=KEY_ENV, help="Sign a checkpoint of the whole log before exporting.")
    ] = None,
    catch_up: Annotated[bool, typer.Option(
        help="Integrate new records into the tree first (needs write access).")] = True,
) -> None:
    """Write every stored record and every checkpoint to one self-describing file."""
    with friendly_errors():
        log = open_log(db, load_signer(key) if key else None)
        try:
            with progress_bar() as bar:
                if catch_up:
                    task = bar.add_task("integrating", total=None)
                    log.follower.catch_up(lambda n: bar.advance(task, n))
                if log.follower.signer is not None:
                    log.follower.checkpoint_now()
                stream = database_stream(log.store, log.origin)
                task = bar.add_task("exporting", total=stream.header.record_count)
                tmp = out.with_name(out.name + ".partial")
                with tmp.open("wb") as f:
                    summary = write_export(stream, f, lambda n: bar.advance(task, n))
                tmp.replace(out)
        finally:
            log.close()
        console.print(f"exported {summary.records} records and {summary.checkpoints} "
                      f"checkpoints to {out}")
        console.print(f"sha256 {summary.sha256}")


def print_report(report: VerifyReport, limit: int) -> None:
    """Prints the verification report."""
    console.print(f"source: {report.source}")
    console.print(f"records: {report.records}   tree root: {report.tree_root.hex()}",
                  soft_wrap=True)
    console.print(f"checkpoints: {report.checkpoints_seen} seen, "
                  f"{report.checkpoints_matched} match the records")
    for label, n in report.checkpoints_by_key.items():
        console.print(f"  {n} signed by {label}", soft_wrap=True)
    for label, n in report.cosignatures_by_witness.items():
        console.print(f"  {n} cosigned by witness {label}", soft_wrap=True)
    if report.cosignatures_by_witness or FaultKind.UNWITNESSED in report.fault_counts:
        console.print(f"  {report.checkpoints_witnessed} meet the witness quorum")
    if report.events_decoded or report.aggregates_rebuilt:
        console.print(f"events decoded: {report.events_decoded}   "
                      f"aggregates rebuilt: {report.aggregates_rebuilt}")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if report.ok:
        console.print("[green]OK[/green]: every record and checkpoint verifies")
        return
    table = Table(title="faults")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for kind, n in sorted(report.fault_counts.items()):
        table.add_row(str(kind), str(n))
    console.print(table)
    for fault in report.faults[:limit]:
        console.print(f"[red]{fault.kind}[/red] at {fault.where()}: {fault.message}",
                      soft_wrap=True)
    total = sum(report.fault_counts.values())
    if total > limit:
        console.print(f"… and {total - limit} more")
    console.print(f"[red]FAILED[/red]: {total} faults")


@audit_app.command("verify")
def verify(
    db: DbOption = None,
    from_file: Annotated[Path | None, typer.Option("--from", help="Export file to verify.")]
    = None,
    public_key: PublicKeyOption = None,
    cipher_key: CipherOption = None,
    origin: Annotated[str | None, typer.Option(
        "--origin", help="Expected checkpoint origin (default: the public key's name).")
    ] = None,
    report_file: Annotated[Path | None, typer.Option(
        "--report", help="Also write the full report as JSON to this file.")] = None,
    trusted_checkpoints: Annotated[list[Path] | None, typer.Option(
        "--trusted-checkpoint",
        help="A signed checkpoint kept from an earlier audit (repeatable): the log must "
             "still hold exactly that tree.")] = None,
    show: Annotated[int, typer.Option(help="Faults to list in detail.")] = 50,
    witness_key: WitnessKeyOption = None,
    quorum: QuorumOption = None,
    require_signed: Annotated[bool, typer.Option(
        "--require-signed", help="Records after the last checkpoint are a fault.")] = False,
) -> None:
    """Verify a store or an export file with only the regulator's public key.

    Recomputes every leaf and the tree, checks every checkpoint's signature, root and
    consistency with the previous one; with --cipher-key also decodes every event and
    rebuilds every aggregate. With --witness-key and --quorum, each checkpoint must carry
    that many valid witness cosignatures (UNWITNESSED otherwise). Exits 1 and lists each
    fault's position when anything fails.
    """
    with friendly_errors():
        if (db is None) == (from_file is None):
            raise fail("give exactly one of --db URL or --from FILE")
        verifiers = load_verifiers(public_key)
        witnesses, k = load_witnesses(witness_key, quorum)
        trusted = []
        for path in trusted_checkpoints or []:
            try:
                trusted.append(open_checkpoint(path.read_text(), verifiers, origin).checkpoint)
            except NoteError as e:
                raise fail(f"trusted checkpoint {path} does not verify: {e}") from None
        ledger: Any = None
        log: AuditLog | None = None
        replayer = None
        try:
            if cipher_key:
                # The Ledger's mapper knows every domain event; an export needs no store.
                ledger = open_ledger(db, cipher_key)
                replayer = Replayer(ledger.mapper, default_checks())
            checker = StreamVerifier(verifiers, origin, replayer, trusted, witnesses, k,
                                     require_signed)
            with progress_bar() as bar:
                if from_file is not None:
                    with from_file.open("rb") as f:
                        stream = read_export(f)
                        task = bar.add_task("verifying", total=stream.header.record_count)
                        report = checker.verify(stream, lambda n: bar.advance(task, n))
                else:
                    log = open_log(db, create_tables=False)
                    stream = database_stream(log.store)
                    task = bar.add_task("verifying", total=stream.header.record_count)
                    report = checker.verify(stream, lambda n: bar.advance(task, n))
        except ExportFormatError as e:
            raise fail(f"{from_file}: {e}") from None
        finally:
            if log is not None:
                log.close()
            if ledger is not None:
                ledger.close()
        print_report(report, show)
        if report_file is not None:
            report_file.write_text(json.dumps(report_json(report), indent=1))
        if not report.ok:
            raise typer.Exit(1)


def report_json(report: VerifyReport) -> dict[str, Any]:
    """Returns the report as plain JSON data."""
    return {
        "ok": report.ok,
        "source": report.source,
        "records": report.records,
        "tree_root": report.tree_root.hex(),
        "checkpoints_seen": report.checkpoints_seen,
        "checkpoints_matched": report.checkpoints_matched,
        "checkpoints_by_key": report.checkpoints_by_key,
        "checkpoints_witnessed": report.checkpoints_witnessed,
        "cosignatures_by_witness": report.cosignatures_by_witness,
        "events_decoded": report.events_decoded,
        "aggregates_rebuilt": report.aggregates_rebuilt,
        "fault_counts": {str(k): v for k, v in report.fault_counts.items()},
        "faults": [
            {"kind": str(f.kind), "message": f.message, "leaf_index": f.leaf_index,
             "notification_id": f.notification_id, "event": f.event,
             "checkpoint_seq": f.checkpoint_seq}
            for f in report.faults
        ],
        "warnings": report.warnings,
    }


def print_check(check: ExportCheck, limit: int) -> None:
    """Prints why an export was refused."""
    if check.report is not None:
        print_report(check.report, limit)
    for problem in check.problems[:limit]:
        console.print(f"[red]problem[/red]: {problem}", soft_wrap=True)
    if check.problem_count > min(limit, len(check.problems)):
        console.print(f"… and {check.problem_count - min(limit, len(check.problems))} more "
                      "problems")


@audit_app.command("restore")
def restore(
    from_file: Annotated[Path, typer.Option("--from", help="Export file to restore.")],
    db: DbOption = None,
    public_key: PublicKeyOption = None,
    origin: Annotated[str | None, typer.Option(
        "--origin", help="Expected checkpoint origin (default: the public key's name).")
    ] = None,
    show: Annotated[int, typer.Option(help="Faults or problems to list in detail.")] = 50,
) -> None:
    """Restore an audit export into an EMPTY store, byte for byte.

    Creates the tables as `valedger db init` does, writes every record back exactly as it
    was stored, in export order (encrypted state stays encrypted: no cipher key is needed),
    rebuilds the audit tree and imports each checkpoint once the tree reaches its size and
    root. The file is checked in full before anything is written; with --public-key it must
    also verify as `audit verify --from` would. Exits 1 when the file is refused, 2 on
    unusable input or a store that holds any row; nothing is written in either case.
    """
    with friendly_errors():
        verifiers = load_verifiers(public_key) if public_key else []
        try:
            with from_file.open("rb") as f:
                read_export(f)  # a missing or foreign file is refused before the store is opened
        except ExportFormatError as e:
            raise fail(f"{from_file}: {e}") from None
        config = StoreConfig.from_environment(db, None, create_tables=False)
        where = config.url_for_display
        log = AuditLog.open(config, create_tables=False)
        try:
            check_empty(log.store, where)
        finally:
            log.close()
        try:
            with progress_bar() as bar, from_file.open("rb") as f:
                stream = read_export(f)
                task = bar.add_task("verifying" if verifiers else "checking",
                                    total=stream.header.record_count)
                check = check_export(stream, verifiers, origin, lambda n: bar.advance(task, n))
        except ExportFormatError as e:
            raise fail(f"{from_file}: {e}") from None
        if not check.ok:
            print_check(check, show)
            err.print(f"[red]refused[/red]: {from_file} does not "
                      f"{'verify' if verifiers else 'hold together'}; nothing was written",
                      soft_wrap=True)
            raise typer.Exit(1)
        ledger = create_store(db)
        try:
            log = AuditLog(ledger.recorder, create_tables=False)
            with progress_bar() as bar, from_file.open("rb") as f:
                stream = read_export(f)
                task = bar.add_task("restoring", total=stream.header.record_count)
                summary = restore_export(stream, log, where, lambda n: bar.advance(task, n))
        finally:
            ledger.close()
        console.print(f"restored {summary.records} records and {summary.checkpoints} "
                      f"checkpoints into {where}", soft_wrap=True)
        console.print(f"tree size {summary.tree_size}, root {summary.root.hex()}",
                      soft_wrap=True)
        if not verifiers:
            console.print("[yellow]warning:[/yellow] no --public-key given: the signatures "
                          "were not checked; run `valedger audit verify --db URL "
                          "--public-key K` on the restored store")


def create_store(db: str | None) -> Any:
    """Returns a Ledger on the store after creating every table as `valedger db init` does
    (events, history index, audit tree and checkpoints)."""
    from ledger.application import Ledger
    from ledger.history import HistoryIndex

    ledger = Ledger(StoreConfig.from_environment(db, None, create_tables=True))
    try:
        HistoryIndex(ledger)
        AuditLog(ledger.recorder, create_tables=True)
    except BaseException:
        ledger.close()
        raise
    return ledger


@audit_app.command("prove")
def prove(
    event: Annotated[str, typer.Option("--event", help="AGGREGATE_ID:VERSION of the event.")],
    db: DbOption = None,
    key: Annotated[Path | None, typer.Option(
        "--key", envvar=KEY_ENV,
        help="Sign a fresh checkpoint when none covers the event yet.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the bundle here.")] = None,
) -> None:
    """Print a self-contained proof bundle (record, inclusion proof, signed checkpoint)."""
    with friendly_errors():
        aggregate_id, version = parse_event_ref(event)
        log = open_log(db, load_signer(key) if key else None)
        try:
            bundle = log.prove_event(aggregate_id, version).to_text()
        finally:
            log.close()
        if out is not None:
            out.write_text(bundle)
            err.print(f"proof bundle written to {out}")
        else:
            sys.stdout.write(bundle)


@audit_app.command("verify-proof")
def verify_proof(
    bundle: Annotated[Path, typer.Argument(help="Proof bundle file (tlog-proof text).")],
    public_key: PublicKeyOption = None,
    origin: Annotated[str | None, typer.Option(
        "--origin", help="Expected checkpoint origin (default: the public key's name).")
    ] = None,
    witness_key: WitnessKeyOption = None,
    quorum: QuorumOption = None,
) -> None:
    """Check one proof bundle with the regulator's public key (and, with --witness-key,
    that its checkpoint carries the quorum of witness cosignatures). Exits 1 if it fails."""
    with friendly_errors():
        verifiers = load_verifiers(public_key)
        witnesses, k = load_witnesses(witness_key, quorum)
        text = bundle.read_bytes()
        try:
            result = verify_bundle(text, verifiers, origin, witnesses, k)
        except ProofBundleError as e:
            err.print(f"[red]INVALID[/red]: {e}")
            raise typer.Exit(1) from None
        rec = result.record
        keys = ", ".join(k.label for k in result.checkpoint.keys)
        console.print(f"[green]VALID[/green]: event {rec.event_id} ({rec.topic}) is leaf "
                      f"{result.index} of the log {result.checkpoint.checkpoint.origin} "
                      f"at size {result.checkpoint.size} (checkpoint signed by {keys})",
                      soft_wrap=True)
        if result.cosignatures:
            console.print("cosigned by " + ", ".join(
                f"{c.witness} at {c.timestamp}" for c in result.cosignatures), soft_wrap=True)
