"""`valedger witness keygen` and `valedger witness serve` (a real process, TOML config)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from tests.services.witness.conftest import ToyLog
from tlog.cosignature import add_signatures, require_quorum
from tlog.keys import NoteSigner, NoteVerifier
from tlog.witness_client import WitnessError, add_checkpoint

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_keygen_writes_a_cosigner_key(tmp_path):
    result = CliRunner().invoke(app, ["witness", "keygen", "--name", "w.test",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    signer = NoteSigner.from_skey((tmp_path / "witness.key").read_text())
    assert signer.verifier.is_cosigner
    assert (tmp_path / "witness.key").stat().st_mode & 0o077 == 0
    assert NoteVerifier.from_vkey((tmp_path / "witness.pub").read_text()) == signer.verifier
    again = CliRunner().invoke(app, ["witness", "keygen", "--name", "w.test",
                                     "--out", str(tmp_path)])
    assert again.exit_code == 2


def test_serve_from_toml(tmp_path, log_key):
    CliRunner().invoke(app, ["witness", "keygen", "--name", "w.test", "--out", str(tmp_path)])
    witness = NoteVerifier.from_vkey((tmp_path / "witness.pub").read_text())
    port = free_port()
    (tmp_path / "witness.toml").write_text(
        f'[witness]\nkey_file = "witness.key"\nstore = "state/witness.db"\n'
        f'listen = "127.0.0.1:{port}"\n\n'
        f'[[log]]\norigin = "{log_key.name}"\nkey = "{log_key.verifier.vkey}"\n')
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "witness", "serve",
                             "--config", str(tmp_path / "witness.toml")], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    try:
        toy = ToyLog(log_key)
        toy.grow(5)
        deadline = time.monotonic() + 30
        while True:
            try:
                lines = add_checkpoint(f"http://127.0.0.1:{port}", toy.request(0, 5))
                break
            except WitnessError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        require_quorum(add_signatures(toy.note(5), lines), [witness], 1)
        assert (tmp_path / "state" / "witness.db").exists()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_serve_refuses_a_config_without_logs(tmp_path):
    CliRunner().invoke(app, ["witness", "keygen", "--name", "w.test", "--out", str(tmp_path)])
    result = CliRunner().invoke(app, ["witness", "serve", "--key", str(tmp_path / "witness.key"),
                                      "--store", str(tmp_path / "w.db")])
    assert result.exit_code == 2
    assert "no log configured" in result.output


def test_serve_without_a_key_or_a_store_names_the_options(tmp_path):
    result = CliRunner().invoke(app, ["witness", "serve", "--store", str(tmp_path / "w.db")])
    assert result.exit_code == 2
    assert ("give --key ([witness] key_file), or --config FILE"
            in " ".join(result.output.split()))
    result = CliRunner().invoke(app, ["witness", "serve"])
    assert "--key ([witness] key_file) and --store ([witness] store)" in " ".join(
        result.output.split())
