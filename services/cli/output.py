"""Output files that appear whole or not at all.

:func:`atomic_file` writes to a temporary file in the target's directory and renames it
onto the target only when the work succeeded; on an error or Ctrl-C the temporary file is
removed and stderr says so. An existing target is refused unless ``force``; ``-`` means
standard output.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from services.cli.errors import UserError, stderr

STDOUT = "-"


def is_stdout(path: Path | str | None) -> bool:
    """Returns True when ``path`` is ``-`` (standard output)."""
    return path is not None and str(path) == STDOUT


def check_target(path: Path, force: bool = False) -> None:
    """Raises UserError unless a file may be written at ``path``."""
    if path.is_dir():
        raise UserError(f"{path} is a directory: give the name of the file to write")
    if path.exists() and not force:
        raise UserError(f"{path} exists: use --force to replace it")
    if not path.parent.is_dir():
        raise UserError(f"no directory {path.parent} for {path}")


@contextmanager
def atomic_file(path: Path, force: bool = False, private: bool = False
                ) -> Iterator[BinaryIO]:
    """Yields a binary file that becomes ``path`` when the block succeeds (stdout for
    ``-``); ``private`` files are readable by their owner only."""
    if is_stdout(path):
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    check_target(path, force)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                     suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        if not private:
            os.chmod(temporary, 0o644 & ~current_umask())
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        stderr.print(f"{why}: {path} was not written (partial output removed)")
        raise


def current_umask() -> int:
    """Returns the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes, force: bool = False, private: bool = False) -> None:
    """Writes ``data`` to ``path`` (or stdout for ``-``) atomically."""
    with atomic_file(path, force, private) as handle:
        handle.write(data)
