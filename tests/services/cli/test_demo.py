"""`valedger demo --workdir`: a file or a foreign directory is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

from tests.services.cli.real_cli import valedger


def test_workdir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep")
    done = valedger("demo", "--workdir", str(target))
    assert done.code == 2
    assert done.error_lines == [
        f"error: --workdir {target} is a file: give a directory for the demo"]
    assert target.read_text() == "keep"


def test_workdir_that_is_someone_elses_directory(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep")
    done = valedger("demo", "--workdir", str(tmp_path))
    assert done.code == 2 and len(done.error_lines) == 1
    assert "is not empty and not a previous demo's directory" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
