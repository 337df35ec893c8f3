"""The one error path, through the real command line: one line on stderr and exit 2 for a
mistake, the conventions every command shares (--version, -h, exit codes in help)."""

from __future__ import annotations

from pathlib import Path

from tests.services.cli.real_cli import valedger


def test_unknown_command_is_one_line_and_exit_2() -> None:
    done = valedger("audit", "frobnicate")
    assert done.code == 2
    assert done.error_lines == [
        "error: No such command 'frobnicate'. (see `valedger audit --help`)"]


def test_missing_option_is_one_line() -> None:
    done = valedger("audit", "export")
    assert done.code == 2
    assert len(done.error_lines) == 1 and "Missing option '--out'" in done.stderr


def test_missing_file_is_one_line_without_traceback(tmp_path: Path) -> None:
    done = valedger("audit", "public-key", "--key", str(tmp_path / "nope.key"))
    assert done.code == 2
    assert len(done.error_lines) == 1 and "nope.key" in done.stderr
    assert "Traceback" not in done.stderr


def test_version_and_short_help() -> None:
    done = valedger("--version")
    assert done.code == 0 and done.stdout.startswith("valedger ")
    done = valedger("-h")
    assert done.code == 0 and "Exit status" in done.stdout
    done = valedger("audit", "export", "-h")
    assert done.code == 0 and "--out" in done.stdout


def test_flags_show_no_type_and_defaults_are_shown() -> None:
    done = valedger("audit", "verify", "-h")
    assert done.code == 0
    assert "<bool>" not in done.stdout
    assert "[default: 50]" in done.stdout


BROKEN_COMMAND = """
import sys
from services.cli import app, main

@app.command("explode")
def explode() -> None:
    raise RuntimeError("kaput")

sys.argv = ["valedger", *sys.argv[1:], "explode"]
main()
"""


def run_broken(*options: str) -> tuple[int, str]:
    import subprocess
    import sys

    from tests.services.cli.real_cli import ROOT, environment

    done = subprocess.run([sys.executable, "-c", BROKEN_COMMAND, *options], cwd=ROOT,
                          env=environment(), capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr


def test_a_bug_is_one_line_and_exit_70_and_debug_shows_the_traceback() -> None:
    code, stderr = run_broken()
    assert code == 70
    assert stderr.strip() == ("error: internal error (RuntimeError: kaput); rerun with "
                              "--debug for the traceback and report it")
    code, stderr = run_broken("--debug")
    assert code == 70
    assert "Traceback (most recent call last)" in stderr and "RuntimeError: kaput" in stderr
