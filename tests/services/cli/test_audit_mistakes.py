"""`valedger audit` mistakes through the real command line: restores that are refused or
interrupted leave nothing, a wrong cipher key is not tampering, VALEDGER_DB and
--cipher-key-file are honoured, old variable names still work with a warning, --json."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from ledger.config import StoreConfig
from tests.ledger.conftest import build_market
from tests.ontime import on_time_ledger
from tests.services.cli.real_cli import interrupted, valedger
from tests.services.cli.test_output import big_store


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "keys"
    assert valedger("audit", "keygen", "--out", str(out), "--origin", "test.example/log"
                    ).code == 0
    return out / "audit.key", out / "audit.pub"


def exported(url: str, key: Path, out: Path) -> Path:
    """Returns an export of ``url`` with a checkpoint signed by ``key``."""
    done = valedger("audit", "export", "--db", url, "--key", str(key), "--out", str(out))
    assert done.code == 0, done.stderr
    return out


def test_refused_restore_leaves_no_file(filled_store: str, keys: tuple[Path, Path],
                                        tmp_path: Path) -> None:
    key, _ = keys
    export = exported(filled_store, key, tmp_path / "e.vlx")
    other = tmp_path / "other"
    assert valedger("audit", "keygen", "--out", str(other), "--origin", "x.example/y").code == 0
    target = tmp_path / "restored.db"
    done = valedger("audit", "restore", "--from", str(export), "--db", f"sqlite:///{target}",
                    "--public-key", str(other / "audit.pub"))
    assert done.code == 1
    assert "nothing was written" in done.stderr
    assert not target.exists()
    assert not list(tmp_path.glob(".restored.db*"))


def test_ctrl_c_in_restore_into_a_new_file_leaves_nothing(keys: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    key, pub = keys
    url = big_store(tmp_path)
    export = exported(url, key, tmp_path / "big.vlx")
    target = tmp_path / "restored.db"
    done = interrupted("audit", "restore", "--from", str(export), "--db",
                       f"sqlite:///{target}", "--public-key", str(pub),
                       when=str(tmp_path / ".restored.db.partial"))
    assert done.code == 130, done.stderr
    assert f"restore stopped: {target} was not created (partial store removed)" in done.stderr
    assert not target.exists()
    assert not list(tmp_path.glob(".restored.db*"))


def test_ctrl_c_in_restore_into_an_empty_store_removes_what_it_wrote(
        keys: tuple[Path, Path], tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.services.cli.real_cli import ROOT, environment

    key, pub = keys
    export = exported(big_store(tmp_path), key, tmp_path / "big.vlx")
    target = tmp_path / "empty.db"
    url = f"sqlite:///{target}"
    assert valedger("db", "init", "--db", url).code == 0  # schema only: restore needs it empty
    child = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "audit", "restore", "--from", str(export),
         "--db", url, "--public-key", str(pub)],
        cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        with sqlite3.connect(target) as db:
            if db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]:
                break
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    assert "every row written to" in stderr and "was removed again" in stderr
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM audit_leaves").fetchone()[0] == 0
    done = valedger("audit", "verify", "--db", url, "--public-key", str(pub))
    assert done.code != 0 or "records: 0" in done.stdout


def encrypted_store(tmp_path: Path) -> tuple[str, str]:
    """Returns (URL, key) of a store made by db init whose events are encrypted."""
    key = base64.b64encode(os.urandom(32)).decode()
    url = f"sqlite:///{tmp_path / 'enc.db'}"
    assert valedger("db", "init", "--db", url, "--cipher-key", key,
                    "--home-country", "KZ").code == 0
    ledger = on_time_ledger(StoreConfig(url, key, create_tables=False))
    build_market(ledger)
    ledger.close()
    return url, key


def test_wrong_cipher_key_is_a_mistake_not_tampering(keys: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    key, pub = keys
    url, cipher = encrypted_store(tmp_path)
    export = exported(url, key, tmp_path / "e.vlx")
    wrong = tmp_path / "wrong.key"
    wrong.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    for source in (["--from", str(export)], ["--db", url]):
        done = valedger("audit", "verify", *source, "--public-key", str(pub),
                        "--cipher-key-file", str(wrong))
        assert done.code == 2, (source, done.stdout, done.stderr)
        assert len(done.error_lines) == 1 and "UNDECODABLE_EVENT" not in done.stdout
        assert wrong.read_text().strip() not in done.stderr
    right = tmp_path / "right.key"
    right.write_text(cipher + "\n")
    done = valedger("audit", "verify", "--from", str(export), "--public-key", str(pub),
                    "--cipher-key-file", str(right), "--json")
    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["events_decoded"] > 0


def test_verify_reads_the_store_from_valedger_db(filled_store: str, keys: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    key, pub = keys
    exported(filled_store, key, tmp_path / "e.vlx")  # signs a checkpoint
    done = valedger("audit", "verify", "--public-key", str(pub),
                    env={"VALEDGER_DB": filled_store})
    assert done.code == 0, done.stderr
    assert "OK: every record and checkpoint verifies" in done.stdout


def test_old_variable_names_still_work_with_a_warning(filled_store: str,
                                                      keys: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    key, _ = keys
    done = valedger("audit", "checkpoint", "--db", filled_store,
                    env={"VALEDGER_AUDIT_KEY": str(key)})
    assert done.code == 0, done.stderr
    assert ("warning: VALEDGER_AUDIT_KEY is deprecated: use VALEDGER_AUDIT_SIGNING_KEY_FILE"
            in done.stderr)
    done = valedger("report", "--out", str(tmp_path / "r"),
                    env={"VALEDGER_STORE_URL": filled_store})
    assert done.code == 0, done.stderr
    assert "warning: VALEDGER_STORE_URL is deprecated: use VALEDGER_DB" in done.stderr


def test_prove_json(filled_store: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    key, pub = keys
    exported(filled_store, key, tmp_path / "e.vlx")
    with sqlite3.connect(filled_store.removeprefix("sqlite:///")) as db:
        (aggregate,) = db.execute("SELECT originator_id FROM stored_events LIMIT 1").fetchone()
    event = f"{aggregate}:1"
    done = valedger("audit", "prove", "--db", filled_store, "--event", event, "--json")
    assert done.code == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["event"] == event
    bundle = tmp_path / "bundle.txt"
    bundle.write_text(document["bundle"])
    done = valedger("audit", "verify-proof", str(bundle), "--public-key", str(pub))
    assert done.code == 0 and "VALID" in done.stdout


def test_prove_before_any_checkpoint_says_how_to_get_one(filled_store: str) -> None:
    with sqlite3.connect(filled_store.removeprefix("sqlite:///")) as db:
        (aggregate,) = db.execute("SELECT originator_id FROM stored_events LIMIT 1").fetchone()
    done = valedger("audit", "prove", "--db", filled_store, "--event", f"{aggregate}:1")
    assert done.code == 2
    assert len(done.error_lines) == 1
    assert "signed checkpoint covering leaf" in done.stderr
    assert "give --key to sign one now" in done.stderr


def test_a_public_key_option_given_the_wrong_file(filled_store: str, keys: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    key, _ = keys
    certificate = tmp_path / "ca.crt"
    certificate.write_text("-----BEGIN CERTIFICATE-----\nMIIBqDCCAU4=\n-----END CERTIFICATE-----\n")
    for given, says in ((certificate, "not a public key (one line NAME+HASH+BASE64"),
                        (key, "this is a private signing key; give its public key")):
        done = valedger("audit", "verify", "--db", filled_store, "--public-key", str(given))
        assert done.code == 2 and len(done.error_lines) == 1, done.stderr
        assert done.error_lines[0].startswith(f"error: --public-key {given}: "), done.stderr
        assert says in done.stderr
        assert "audit.pub" in done.stderr and "witness" not in done.stderr
    done = valedger("audit", "verify", "--db", filled_store, "--public-key", str(keys[1]),
                    "--witness-key", str(certificate))
    assert done.code == 2, done.stderr
    assert done.error_lines[0].startswith(f"error: --witness-key {certificate}: not a public key")
    assert "witness.pub `valedger witness keygen` wrote" in done.stderr
    assert "audit.pub" not in done.stderr
    private = key.read_text().strip()
    done = valedger("audit", "verify", "--db", filled_store, "--public-key", private)
    assert done.code == 2 and "this is a private signing key" in done.stderr
    # The key's material (its base64, which may hold "+" itself) is not repeated.
    assert private.split("+", 4)[4] not in done.stderr  # PRIVATE+KEY+name+id+material
