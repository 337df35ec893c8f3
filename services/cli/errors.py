"""The one error path of the command line: every failure ends here as one line and a code.

* an operator's mistake (bad option, missing file, unreachable store, wrong key): one line
  on stderr, exit 2;
* a verification that ran and failed (a forged log, a rejected share): exit 1, printed by
  the command itself;
* Ctrl-C: one line, exit 130 (partial outputs are removed by :mod:`services.cli.output`);
* anything else is a bug: one line naming it, exit 70, and the traceback only with
  ``--debug`` (or ``VALEDGER_DEBUG=1``).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

EXIT_OK = 0
EXIT_FAILED = 1
"""A verification ran and found a fault (audit verify, verify-shares, verify-proof)."""
EXIT_USAGE = 2
"""An operator's mistake: bad option or input, unusable store, file or key."""
EXIT_INTERNAL = 70
"""A bug in valedger (EX_SOFTWARE); ``--debug`` shows its traceback."""
EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C (SIGINT)."""

DEBUG_ENV = "VALEDGER_DEBUG"

stderr = Console(stderr=True, soft_wrap=True, highlight=False)


class UserError(Exception):
    """An operator's mistake, told in one line (exit 2)."""


class Debug:
    """Whether tracebacks are shown (``--debug`` or ``VALEDGER_DEBUG``)."""

    enabled = os.environ.get(DEBUG_ENV, "") not in ("", "0")


def print_error(message: str) -> None:
    """Prints ``error: message`` as one line on stderr."""
    stderr.print(f"[red]error:[/red] {escape(one_line(message))}")


def one_line(message: str) -> str:
    """Returns ``message`` with its lines joined (driver messages span several)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def expected_errors() -> tuple[type[BaseException], ...]:
    """Returns the exception types that are an operator's mistake, not a bug."""
    from ledger import (
        AuditIntegrityError,
        AuditStoreError,
        ExportFormatError,
        LedgerError,
        ProofBundleError,
        WitnessPolicyError,
    )
    from services.ca import CAError
    from services.settings import SettingsError
    from services.tls import TlsFilesError
    from tlog.errors import TlogError
    from tlog.note import NoteError
    from verifier.batch import MalformedBatch
    from verifier.config import InvalidVerifierConfig

    return (UserError, LedgerError, SettingsError, CAError, NoteError, TlogError,
            WitnessPolicyError, ExportFormatError,
            ProofBundleError, AuditStoreError, AuditIntegrityError, MalformedBatch,
            InvalidVerifierConfig, TlsFilesError, OSError, sqlite3.Error, *store_driver_errors())


def store_driver_errors() -> tuple[type[BaseException], ...]:
    """Returns the database drivers' error types (an unreachable or unusable store)."""
    import psycopg
    from eventsourcing.persistence import PersistenceError

    return (psycopg.Error, PersistenceError)


def describe(exc: BaseException) -> str:
    """Returns the one-line message of an expected error."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, store_driver_errors()):
        return f"store error: {text}"
    return text


@contextmanager
def error_path() -> Iterator[None]:
    """Turns what a command raises into one line and its exit status (typer.Exit)."""
    from typer import _click
    from typer.exceptions import Abort, Exit

    try:
        yield
    except (Exit, Abort, _click.exceptions.ClickException, KeyboardInterrupt):
        raise
    except expected_errors() as exc:
        if Debug.enabled:
            traceback.print_exc()
        print_error(describe(exc))
        raise Exit(EXIT_USAGE) from None
    except Exception as exc:
        if Debug.enabled:
            traceback.print_exc()
        print_error(f"internal error ({type(exc).__name__}: {exc}); "
                    "rerun with --debug for the traceback and report it")
        raise Exit(EXIT_INTERNAL) from None


def run(main: Callable[[], int | None]) -> int:
    """Runs ``main`` and returns the process exit status, every failure told in one line."""
    try:
        code = main()
    except KeyboardInterrupt:
        stderr.print("interrupted")
        return EXIT_INTERRUPTED
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print_error(exc.code)
            return EXIT_USAGE
        return exc.code if isinstance(exc.code, int) else 0
    except expected_errors() as exc:
        if Debug.enabled:
            traceback.print_exc()
        print_error(describe(exc))
        return EXIT_USAGE
    except Exception as exc:
        if Debug.enabled:
            traceback.print_exc()
        print_error(f"internal error ({type(exc).__name__}: {exc}); "
                    "rerun with --debug for the traceback and report it")
        return EXIT_INTERNAL
    return code or EXIT_OK


def exit_with(code: int) -> None:
    """Flushes the standard streams and exits with ``code``."""
    sys.stdout.flush()
    sys.exit(code)
