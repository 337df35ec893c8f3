"""`valedger audit`: signing keys, checkpoints, export, offline verification, proofs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
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

from ledger import (
    AuditLog,
    CheckpointNotSigned,
    CheckpointPolicy,
    ExportCheck,
    ExportFormatError,
    FaultKind,
    ProofBundleError,
    Replayer,
    StoreConfig,
    StreamVerifier,
    VerifyReport,
    check_empty,
    check_export,
    cpu_count,
    database_stream,
    default_checks,
    parse_event_ref,
    read_export,
    restore_export,
    verify_bundle,
    write_export,
)
from services.cli.app import CIPHER_FILE_OPTION_HELP, CIPHER_OPTION_HELP, DB_OPTION_HELP, audit_app
from services.cli.errors import EXIT_FAILED, UserError, error_path, print_error
from services.cli.output import atomic_file, check_target, is_stdout
from services.cli.store import (
    Access,
    environment,
    open_config,
    resolve_cipher_key,
    sqlite_is_new,
    sqlite_path,
)
from tlog.checkpoint import open_checkpoint
from tlog.note import NoteError, NoteSigner, NoteVerifier

console = Console()
err = Console(stderr=True)

ORIGIN_ENV = "VALEDGER_AUDIT_ORIGIN"
KEY_ENV = "VALEDGER_AUDIT_SIGNING_KEY_FILE"
PUBLIC_KEY_ENV = "VALEDGER_AUDIT_PUBLIC_KEY"
DEFAULT_ORIGIN = "valedger.example/ledger"

KEY_HELP = f"Private signing key file written by `audit keygen` (env {KEY_ENV})."
PUBLIC_KEY_HELP = (
    "Regulator's verifier key: the text name+keyid+key, or a file holding it. Repeat it "
    "to trust several keys (old and new after a key rotation): each checkpoint is checked "
    f"against the key its signature names (env {PUBLIC_KEY_ENV}, keys separated by spaces)."
)

DbOption = Annotated[str | None, typer.Option("--db", help=DB_OPTION_HELP)]
CipherOption = Annotated[str | None, typer.Option("--cipher-key", help=CIPHER_OPTION_HELP)]
CipherFileOption = Annotated[Path | None, typer.Option("--cipher-key-file",
                                                       help=CIPHER_FILE_OPTION_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing output file.")]
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
    """Prints an error (the message is not markup) and returns the Exit to raise."""
    print_error(message)
    return typer.Exit(code)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turns expected failures into one clear line and exit status 2 (the command line's
    one error path, services.cli.errors)."""
    with error_path():
        yield


def load_signer(path: Path | None) -> NoteSigner:
    """Returns the signer stored in a key file."""
    if path is None:
        named = environment(KEY_ENV)  # or its deprecated name, with a warning
        path = Path(named) if named else None
    if path is None:
        raise fail(f"a signing key is needed: --key FILE or {KEY_ENV}")
    try:
        return NoteSigner.from_skey(path.read_text())
    except OSError as e:
        raise fail(f"cannot read key file {path}: {e.strerror}") from None


def counted(number: int, noun: str) -> str:
    """Returns ``number`` with ``noun``, plural unless the number is one."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def load_verifiers(values: list[str] | None) -> list[NoteVerifier]:
    """Returns the verifiers of vkey strings or of files holding one (at least one)."""
    if not values:
        raise fail(f"the regulator's public key is needed: --public-key or {PUBLIC_KEY_ENV}")
    return [load_verifier(value) for value in values]


KEY_FILES = {
    "--public-key": "audit.pub, or what `valedger audit public-key` prints",
    "--witness-key": "the witness.pub `valedger witness keygen` wrote",
}
"""Where each key option's public key comes from, for the hint a mistake gets."""


def load_verifier(value: str, option: str = "--public-key") -> NoteVerifier:
    """Returns the verifier of a vkey string or of a file holding one; a mistake is named
    by ``option`` (a key of :data:`KEY_FILES`) and the file (a key's text is never
    repeated)."""
    origin = KEY_FILES[option]
    text = value
    source = "the key given"
    if "+" not in value or Path(value).is_file():
        try:
            text = Path(value).read_text()
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not text"
            raise fail(f"cannot read public key file {value}: {reason}") from None
        source = value
    if text.strip().startswith("PRIVATE+KEY+"):
        raise fail(f"{option} {source}: this is a private signing key; give its public "
                   f"key ({origin})")
    try:
        return NoteVerifier.from_vkey(text)
    except NoteError:
        raise fail(f"{option} {source}: not a public key (one line NAME+HASH+BASE64: "
                   f"{origin})") from None


def load_witnesses(values: list[str] | None, quorum: int | None
                   ) -> tuple[list[NoteVerifier], int]:
    """Returns the trusted witness keys and the quorum (default: all of them)."""
    witnesses = [load_verifier(value, "--witness-key") for value in values or []]
    if any(not w.is_cosigner for w in witnesses):
        raise fail("a --witness-key is a witness (cosignature, type 0x04) key")
    k = len(witnesses) if quorum is None else quorum
    if not 0 <= k <= len(witnesses):
        raise fail(f"--quorum {k} needs at least {k} --witness-key")
    return witnesses, k


def open_ledger(db: str | None, cipher_key: str | None) -> Any:
    """Returns the Ledger of a store (tables are not created), or an empty in-memory one
    when ``db`` is None (its mapper is all an export's replay needs)."""
    from ledger import Ledger

    if db is None:
        return Ledger(StoreConfig("sqlite:///:memory:", cipher_key, create_tables=True))
    return Ledger(open_config(db, cipher_key, Access.READ))


def progress_bar() -> Progress:
    """Returns the progress display used by long audit work."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False,
        disable=not err.is_terminal,
    )


@audit_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Directory for audit.key and audit.pub.")],
    origin: Annotated[
        str, typer.Option("--origin", envvar=ORIGIN_ENV, help="Log origin = key name.")
    ] = DEFAULT_ORIGIN,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
    json_output: JsonOption = False,
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
        with atomic_file(key_path, force=True, private=True) as f:
            f.write((signer.to_skey() + "\n").encode())
        with atomic_file(pub_path, force=True) as f:
            f.write((signer.verifier.vkey + "\n").encode())
        if json_output:
            print_json({"signing_key": str(key_path), "public_key": str(pub_path),
                        "verifier_key": signer.verifier.vkey, "origin": origin})
            return
        console.print(f"signing key  {key_path} (keep it secret)")
        console.print(f"public key   {pub_path}")
        console.print(signer.verifier.vkey)


@audit_app.command("public-key")
def public_key(key: KeyOption = None) -> None:
    """Print the public verifier key of a signing key file."""
    with friendly_errors():
        console.print(load_signer(key).verifier.vkey, soft_wrap=True)


def open_log(db: str | None, signer: NoteSigner | None = None,
             access: Access = Access.READ) -> AuditLog:
    """Returns the audit log of an existing store (no cipher key needed: nothing is
    decoded). Reading needs the audit tables; writing creates them when missing."""
    config = open_config(db, None, access, audit_tables=access is Access.READ)
    return AuditLog.open(config, signer=signer, create_tables=access is not Access.READ,
                         policy=CheckpointPolicy(every_records=1000, every_seconds=0))


@audit_app.command("checkpoint")
def checkpoint(db: DbOption = None, key: KeyOption = None,
               json_output: JsonOption = False) -> None:
    """Bring the tree up to date and sign a checkpoint of it now; print the signed note."""
    with friendly_errors():
        log = open_log(db, load_signer(key), Access.WRITE)
        try:
            cp = log.follower.checkpoint_now()
        finally:
            log.close()
        if json_output:
            print_json({"seq": cp.seq, "size": cp.size, "root": cp.root_hash.hex(),
                        "note": cp.note})
            return
        err.print(f"checkpoint {cp.seq}: {cp.size} records")
        sys.stdout.write(cp.note)


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option(
        "--out", help="Export file to write (`-`: standard output). Written whole or not "
                      "at all.")],
    db: DbOption = None,
    key: Annotated[Path | None, typer.Option(
        "--key", envvar=KEY_ENV, help="Sign a checkpoint of the whole log before exporting.")
    ] = None,
    catch_up: Annotated[bool, typer.Option(
        help="Integrate new records into the tree first (needs write access).")] = True,
    force: ForceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Write every stored record and every checkpoint to one self-describing file."""
    with friendly_errors():
        if not is_stdout(out):
            check_target(out, force)
        signer = load_signer(key) if key else None
        log = open_log(db, signer, Access.WRITE if catch_up or signer else Access.READ)
        try:
            with progress_bar() as bar:
                if catch_up:
                    task = bar.add_task("integrating", total=None)
                    log.follower.catch_up(lambda n: bar.advance(task, n))
                if log.follower.signer is not None:
                    log.follower.checkpoint_now()
                stream = database_stream(log.store, log.origin)
                task = bar.add_task("exporting", total=stream.header.record_count)
                with atomic_file(out, force) as f:
                    summary = write_export(stream, f, lambda n: bar.advance(task, n))
        finally:
            log.close()
        result = {"file": str(out), "records": summary.records,
                  "checkpoints": summary.checkpoints, "sha256": summary.sha256}
        if json_output:
            print_json(result, to_stderr=is_stdout(out))
            return
        say = err if is_stdout(out) else console
        say.print(f"exported {counted(summary.records, 'record')} and "
                  f"{counted(summary.checkpoints, 'checkpoint')} to {out}")
        say.print(f"sha256 {summary.sha256}")


def print_json(document: dict[str, Any], to_stderr: bool = False) -> None:
    """Prints ``document`` as one JSON object (on stderr when stdout carries data)."""
    (sys.stderr if to_stderr else sys.stdout).write(json.dumps(document, indent=1) + "\n")


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
    cipher_key_file: CipherFileOption = None,
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
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print the full report as JSON on stdout instead of text.")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1,
        help="Processes that share the work: leaves hashed in chunks, aggregates rebuilt "
             "in partitions (default: the machine's cores; 1: all in this process). The "
             "report is the same whatever the number.")] = None,
) -> None:
    """Verify a store or an export file with only the regulator's public key.

    Recomputes every leaf and the tree, checks every checkpoint's signature, root and
    consistency with the previous one; with a cipher key also decodes every event and
    rebuilds every aggregate. With --witness-key and --quorum, each checkpoint must carry
    that many valid witness cosignatures (UNWITNESSED otherwise). Exits 1 and lists each
    fault's position when anything fails; exits 2 when the cipher key decrypts no event (a
    wrong key, not tampering). The store is --db, else VALEDGER_DB when --from is not given.
    With --workers N the work is spread over N processes; the report is identical.
    """
    with friendly_errors():
        if db is not None and from_file is not None:
            raise fail("give one of --db URL or --from FILE, not both")
        if db is None and from_file is None:
            db = environment("VALEDGER_DB")
            if db is None:
                raise fail("give --db URL (or set VALEDGER_DB) or --from FILE")
        cipher_key = resolve_cipher_key(cipher_key, cipher_key_file)
        verifiers = load_verifiers(public_key)
        witnesses, k = load_witnesses(witness_key, quorum)
        trusted = []
        for path in trusted_checkpoints or []:
            try:
                trusted.append(open_checkpoint(path.read_text(), verifiers, origin).checkpoint)
            except NoteError as e:
                raise fail(f"trusted checkpoint {path} does not verify: {e}") from None
        processes = cpu_count() if workers is None else workers
        ledger: Any = None
        log: AuditLog | None = None
        replayer = None
        try:
            with progress_bar() as bar:
                if cipher_key:
                    # The Ledger's mapper knows every domain event; an export needs no
                    # store. Proof batches are re-verified in large steps: a bar of their
                    # own counts the shares.
                    ledger = open_ledger(db, cipher_key)
                    shares = bar.add_task("re-verifying shares", total=None)
                    replayer = Replayer(ledger.mapper, default_checks(
                        lambda n: bar.advance(shares, n)))
                checker = StreamVerifier(verifiers, origin, replayer, trusted, witnesses, k,
                                         require_signed)
                if from_file is not None:
                    with from_file.open("rb") as f:
                        stream = read_export(f)
                        task = bar.add_task("verifying", total=stream.header.record_count)
                        report = checker.verify(stream, lambda n: bar.advance(task, n),
                                                workers=processes)
                else:
                    log = open_log(db)
                    # With the store's settings, the workers read their records themselves.
                    stream = database_stream(log.store, config=log.config)
                    task = bar.add_task("verifying", total=stream.header.record_count)
                    report = checker.verify(stream, lambda n: bar.advance(task, n),
                                            workers=processes)
        except ExportFormatError as e:
            raise fail(f"{from_file}: {e}") from None
        finally:
            if log is not None:
                log.close()
            if ledger is not None:
                ledger.close()
        if report_file is not None:
            with atomic_file(report_file, force=True) as f:
                f.write(json.dumps(report_json(report), indent=1).encode())
        if wrong_cipher_key(report):
            raise UserError(
                f"the cipher key decrypts none of the {report.records} events: it is not "
                "this log's key (the records and checkpoints themselves verify)")
        if json_output:
            print_json(report_json(report))
        else:
            print_report(report, show)
        if not report.ok:
            raise typer.Exit(EXIT_FAILED)


def wrong_cipher_key(report: VerifyReport) -> bool:
    """Returns True when every fault is an undecodable event and no event decoded: a
    wrong cipher key, where tampering would also break leaves or checkpoints."""
    return (report.records > 0 and report.events_decoded == 0
            and set(report.fault_counts) == {FaultKind.UNDECODABLE_EVENT})


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
    json_output: JsonOption = False,
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
        config = open_config(db, None, Access.CREATE)
        where = config.url_for_display
        fresh_file = sqlite_is_new(config.url)
        if not fresh_file:
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
        with restoring_into(config) as target:
            ledger = create_store(target)
            try:
                log = AuditLog(ledger.recorder, create_tables=False)
                with progress_bar() as bar, from_file.open("rb") as f:
                    stream = read_export(f)
                    task = bar.add_task("restoring", total=stream.header.record_count)
                    summary = restore_export(stream, log, where,
                                             lambda n: bar.advance(task, n))
            finally:
                ledger.close()
        if json_output:
            print_json({"records": summary.records, "checkpoints": summary.checkpoints,
                        "tree_size": summary.tree_size, "root": summary.root.hex(),
                        "store": where, "signatures_checked": bool(verifiers)})
            return
        console.print(f"restored {counted(summary.records, 'record')} and "
                      f"{counted(summary.checkpoints, 'checkpoint')} into {where}",
                      soft_wrap=True)
        console.print(f"tree size {summary.tree_size}, root {summary.root.hex()}",
                      soft_wrap=True)
        if not verifiers:
            console.print("[yellow]warning:[/yellow] no --public-key given: the signatures "
                          "were not checked; run `valedger audit verify --db URL "
                          "--public-key K` on the restored store")


def remove_sqlite_files(path: Path) -> None:
    """Removes a SQLite database file and the journal files SQLite keeps beside it (an
    interrupted writer leaves its ``-wal`` and ``-shm`` behind)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


@contextmanager
def restoring_into(config: StoreConfig) -> Iterator[StoreConfig]:
    """Yields the store a restore writes to, so that a failed or interrupted restore
    leaves nothing: a new SQLite file is written beside its name and renamed when
    complete; an existing (empty) store has every row removed again."""
    path = sqlite_path(config.url) if sqlite_is_new(config.url) else None
    if path is not None:
        partial = path.with_name(f".{path.name}.partial")
        remove_sqlite_files(partial)
        try:
            yield replace(config, url=f"sqlite:///{partial.resolve()}", create_tables=True)
            partial.replace(path)
        except BaseException:
            remove_sqlite_files(partial)
            err.print(f"restore stopped: {path} was not created (partial store removed)")
            raise
        return
    try:
        yield replace(config, create_tables=True)
    except BaseException:
        empty_store(config)
        err.print(f"restore stopped: every row written to {config.url_for_display} was "
                  "removed again")
        raise


def empty_store(config: StoreConfig) -> None:
    """Deletes every row of every table of a store that a restore began to fill."""
    log = AuditLog.open(replace(config, create_tables=False), create_tables=False)
    try:
        store: Any = log.store
        with store.write(lock=False) as tx:
            for name in tx.table_names():
                tx.execute(f"DELETE FROM {store.quote(name)}")
    finally:
        log.close()


def create_store(config: StoreConfig) -> Any:
    """Returns a Ledger on the store after creating every table as `valedger db init` does
    (events, history index, audit tree and checkpoints)."""
    from ledger import HistoryIndex, Ledger

    ledger = Ledger(replace(config, create_tables=True))
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
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the bundle to this file (default `-`: standard output).")
    ] = None,
    force: ForceOption = False,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print {event, leaf_index, tree_size, bundle} as JSON.")] = False,
) -> None:
    """Print a self-contained proof bundle (record, inclusion proof, signed checkpoint)."""
    with friendly_errors():
        aggregate_id, version = parse_event_ref(event)
        if out is not None and not is_stdout(out):
            check_target(out, force)
        signer = load_signer(key) if key else None
        log = open_log(db, signer, Access.WRITE if signer else Access.READ)
        try:
            proof = log.prove_event(aggregate_id, version)
            bundle = proof.to_text()
        except CheckpointNotSigned as missing:
            raise UserError(f"{missing}: give --key to sign one now, or wait for the "
                            "server's next checkpoint ([audit] checkpoint_every_seconds)"
                            ) from None
        finally:
            log.close()
        if json_output:
            text = json.dumps({"event": event, "bundle": bundle}, indent=1) + "\n"
        else:
            text = bundle
        if out is not None and not is_stdout(out):
            with atomic_file(out, force) as f:
                f.write(text.encode())
            err.print(f"proof bundle written to {out}")
        else:
            sys.stdout.write(text)


@audit_app.command("verify-proof")
def verify_proof(
    bundle: Annotated[Path, typer.Argument(help="Proof bundle file (tlog-proof text).")],
    public_key: PublicKeyOption = None,
    origin: Annotated[str | None, typer.Option(
        "--origin", help="Expected checkpoint origin (default: the public key's name).")
    ] = None,
    witness_key: WitnessKeyOption = None,
    quorum: QuorumOption = None,
    json_output: JsonOption = False,
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
            if json_output:
                print_json({"valid": False, "error": str(e)})
            else:
                err.print(f"[red]INVALID[/red]: {e}")
            raise typer.Exit(1) from None
        rec = result.record
        if json_output:
            print_json({"valid": True, "event": rec.event_id, "topic": rec.topic,
                        "leaf_index": result.index,
                        "origin": result.checkpoint.checkpoint.origin,
                        "tree_size": result.checkpoint.size,
                        "signed_by": [k.label for k in result.checkpoint.keys],
                        "cosigned_by": [{"witness": c.witness, "timestamp": c.timestamp}
                                        for c in result.cosignatures]})
            return
        keys = ", ".join(k.label for k in result.checkpoint.keys)
        console.print(f"[green]VALID[/green]: event {rec.event_id} ({rec.topic}) is leaf "
                      f"{result.index} of the log {result.checkpoint.checkpoint.origin} "
                      f"at size {result.checkpoint.size} (checkpoint signed by {keys})",
                      soft_wrap=True)
        if result.cosignatures:
            console.print("cosigned by " + ", ".join(
                f"{c.witness} at {c.timestamp}" for c in result.cosignatures), soft_wrap=True)
