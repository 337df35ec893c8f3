"""Outputs appear whole or not at all: existing files are kept unless --force, a directory
is not a file name, Ctrl-C removes the partial file and says so, `-` is standard output."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import uuid
from pathlib import Path

from ledger.audit.export import read_export
from tests.services.cli.real_cli import interrupted, valedger


def test_export_keeps_an_existing_file_unless_forced(filled_store: str, tmp_path: Path) -> None:
    out = tmp_path / "audit.export"
    out.write_text("precious")
    done = valedger("audit", "export", "--db", filled_store, "--out", str(out))
    assert done.code == 2
    assert done.error_lines == [f"error: {out} exists: use --force to replace it"]
    assert out.read_text() == "precious"
    done = valedger("audit", "export", "--db", filled_store, "--out", str(out), "--force")
    assert done.code == 0, done.stderr
    with out.open("rb") as f:
        assert (read_export(f).header.record_count or 0) > 0


def test_export_to_a_directory_leaves_nothing(filled_store: str, tmp_path: Path) -> None:
    target = tmp_path / "exports"
    target.mkdir()
    done = valedger("audit", "export", "--db", filled_store, "--out", str(target))
    assert done.code == 2
    assert done.error_lines == [
        f"error: {target} is a directory: give the name of the file to write"]
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports", "ledger.db"]


def test_export_to_stdout_and_json(filled_store: str, tmp_path: Path) -> None:
    done = valedger("audit", "export", "--db", filled_store, "--out", "-")
    assert done.code == 0
    exported = io.BytesIO(done.stdout.encode("utf-8", "surrogateescape"))
    assert (read_export(exported).header.record_count or 0) > 0
    assert "exported" in done.stderr
    out = tmp_path / "e.bin"
    done = valedger("audit", "export", "--db", filled_store, "--out", str(out), "--json")
    assert done.code == 0
    summary = json.loads(done.stdout)
    assert summary["file"] == str(out) and summary["records"] > 0
    assert len(summary["sha256"]) == 64


def big_store(tmp_path: Path, records: int = 60_000) -> str:
    """Returns a store with many raw records (an export of it takes a while)."""
    url = f"sqlite:///{tmp_path / 'big.db'}"
    assert valedger("db", "init", "--db", url, "--home-country", "KZ").code == 0
    with sqlite3.connect(tmp_path / "big.db") as db:
        db.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)",
                       ((uuid.uuid4().hex, 1, "ledger.x:Y", os.urandom(1500))
                        for _ in range(records)))
    return url


def test_ctrl_c_in_export_removes_the_partial_file_and_says_so(tmp_path: Path) -> None:
    url = big_store(tmp_path)
    out = tmp_path / "audit.export"
    done = interrupted("audit", "export", "--no-catch-up", "--db", url, "--out", str(out),
                       when=str(tmp_path / ".audit.export.*.partial"))
    assert done.code == 130, done.stderr
    assert f"interrupted: {out} was not written (partial output removed)" in done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("big.db")] == []


def test_report_out_naming_a_file_is_one_line(filled_store: str, tmp_path: Path) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("keep")
    done = valedger("report", "--db", filled_store, "--out", str(existing))
    assert done.code == 2
    assert done.error_lines == [f"error: {existing} is a file: --out names the directory "
                                "for report.html and its charts"]
    assert existing.read_text() == "keep"


def test_prove_out_keeps_an_existing_file(filled_store: str, tmp_path: Path) -> None:
    out = tmp_path / "bundle.txt"
    out.write_text("keep")
    done = valedger("audit", "prove", "--db", filled_store, "--out", str(out),
                    "--event", f"{uuid.uuid4()}:1")
    assert done.code == 2 and done.error_lines == [
        f"error: {out} exists: use --force to replace it"]
    assert out.read_text() == "keep"
