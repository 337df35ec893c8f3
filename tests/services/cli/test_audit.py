"""`valedger audit` end to end on a real SQLite store: keys, checkpoint, export, verify
(from the store and from the file, with and without the cipher key), prove, verify-proof,
tampering and bad input."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.config import StoreConfig
from services.cli import app
from tests.ledger.conftest import build_market

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path, list[str]]:
    """A SQLite store with a market and five trades, plus an audit key pair."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger(StoreConfig(url=url))
    market = build_market(ledger)
    trades = [str(ledger.record_trade(market.trade(f"t{i}")).trade_id) for i in range(5)]
    ledger.close()
    code, out = invoke("audit", "keygen", "--out", str(tmp_path / "keys"),
                       "--origin", "valedger.test/cli")
    assert code == 0, out
    return url, tmp_path, trades


def test_keygen_and_public_key(store: tuple[str, Path, list[str]]) -> None:
    _, tmp, _ = store
    key, pub = tmp / "keys" / "audit.key", tmp / "keys" / "audit.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    code, out = invoke("audit", "public-key", "--key", str(key))
    assert code == 0 and out.strip() == pub.read_text().strip()
    assert out.startswith("valedger.test/cli+")
    code, out = invoke("audit", "keygen", "--out", str(tmp / "keys"))
    assert code == 2 and "--force" in out


def test_checkpoint_export_verify_prove(store: tuple[str, Path, list[str]]) -> None:
    url, tmp, trades = store
    key, pub = str(tmp / "keys" / "audit.key"), str(tmp / "keys" / "audit.pub")
    code, out = invoke("audit", "checkpoint", "--db", url, "--key", key)
    assert code == 0, out
    assert "valedger.test/cli\n12\n" in out
    kept = tmp / "kept.checkpoint"
    kept.write_text(out[out.index("valedger.test/cli\n"):])
    export = tmp / "log.export"
    code, out = invoke("audit", "export", "--db", url, "--out", str(export), "--key", key)
    assert code == 0 and "exported 12 records and 1 checkpoints" in out, out
    code, out = invoke("audit", "verify", "--from", str(export), "--public-key", pub,
                       "--trusted-checkpoint", str(kept))
    assert code == 0 and "OK" in out, out
    kept.write_text(kept.read_text().replace("\n12\n", "\n13\n"))
    code, out = invoke("audit", "verify", "--from", str(export), "--public-key", pub,
                       "--trusted-checkpoint", str(kept))
    assert code == 2 and "does not verify" in out, out
    vkey = Path(pub).read_text().strip()
    code, out = invoke("audit", "verify", "--db", url, "--public-key", vkey)
    assert code == 0 and "records: 12" in out, out

    bundle = tmp / "proof.tlog-proof"
    code, out = invoke("audit", "prove", "--db", url, "--event", f"{trades[2]}:1",
                       "--out", str(bundle))
    assert code == 0, out
    assert bundle.read_text().startswith("c2sp.org/tlog-proof@v1\n")
    code, out = invoke("audit", "verify-proof", str(bundle), "--public-key", pub)
    assert code == 0 and f"event {trades[2]}:1" in out and "leaf 9" in out, out
    lines = bundle.read_text().split("\n")
    lines[2] = "index 8"
    bundle.write_text("\n".join(lines))
    code, out = invoke("audit", "verify-proof", str(bundle), "--public-key", pub)
    assert code == 1 and "INVALID" in out


def test_tampered_store_exits_nonzero_with_position(store: tuple[str, Path, list[str]]) -> None:
    url, tmp, _ = store
    key, pub = str(tmp / "keys" / "audit.key"), str(tmp / "keys" / "audit.pub")
    assert invoke("audit", "checkpoint", "--db", url, "--key", key)[0] == 0
    db = sqlite3.connect(tmp / "ledger.db")
    table = "stored_events"
    (state,) = db.execute(f"SELECT state FROM {table} WHERE rowid = 9").fetchone()
    db.execute(f"UPDATE {table} SET state = ? WHERE rowid = 9",
               (state[:-1] + bytes([state[-1] ^ 0x80]),))
    db.commit()
    db.close()
    report = tmp / "report.json"
    code, out = invoke("audit", "verify", "--db", url, "--public-key", pub,
                       "--report", str(report))
    assert code == 1, out
    assert "CHANGED" in out and "leaf 8" in out and "notification 9" in out
    data = json.loads(report.read_text())
    assert data["ok"] is False and data["fault_counts"]["ROOT_MISMATCH"] == 1


def test_cipher_key_replay(tmp_path: Path) -> None:
    cipher = base64.b64encode(os.urandom(32)).decode()
    url = f"sqlite:///{tmp_path / 'enc.db'}"
    ledger = Ledger(StoreConfig(url=url, cipher_key=cipher))
    market = build_market(ledger)
    ledger.record_trade(market.trade("t"))
    ledger.close()
    assert invoke("audit", "keygen", "--out", str(tmp_path))[0] == 0
    key, pub = str(tmp_path / "audit.key"), str(tmp_path / "audit.pub")
    assert invoke("audit", "checkpoint", "--db", url, "--key", key)[0] == 0
    export = tmp_path / "enc.export"
    assert invoke("audit", "export", "--db", url, "--out", str(export))[0] == 0
    code, out = invoke("audit", "verify", "--from", str(export), "--public-key", pub,
                       "--cipher-key", cipher)
    assert code == 0 and "events decoded: 8" in out, out
    wrong = base64.b64encode(os.urandom(32)).decode()
    code, out = invoke("audit", "verify", "--from", str(export), "--public-key", pub,
                       "--cipher-key", wrong)
    assert code == 1 and "UNDECODABLE_EVENT" in out


def test_bad_input_is_a_clear_error(store: tuple[str, Path, list[str]]) -> None:
    url, tmp, _ = store
    pub = str(tmp / "keys" / "audit.pub")
    code, out = invoke("audit", "verify", "--db", url, "--from", "x", "--public-key", pub)
    assert code == 2 and "exactly one" in out
    code, out = invoke("audit", "verify", "--db", url, "--public-key", "not+a+key")
    assert code == 2 and "Traceback" not in out
    junk = tmp / "junk"
    junk.write_bytes(b"nonsense")
    code, out = invoke("audit", "verify", "--from", str(junk), "--public-key", pub)
    assert code == 2 and "not a valedger audit export" in out
    code, out = invoke("audit", "prove", "--db", url, "--event", "nope")
    assert code == 2 and "AGGREGATE_ID:VERSION" in out


def test_key_rotation_verify_and_verify_proof(store: tuple[str, Path, list[str]]) -> None:
    url, tmp, trades = store
    old_key, old_pub = str(tmp / "keys" / "audit.key"), str(tmp / "keys" / "audit.pub")
    assert invoke("audit", "checkpoint", "--db", url, "--key", old_key)[0] == 0
    code, out = invoke("audit", "prove", "--db", url, "--event", f"{trades[0]}:1",
                       "--out", str(tmp / "old.proof"))
    assert code == 0, out
    # Rotate: a new key under the same origin signs from now on.
    code, out = invoke("audit", "keygen", "--out", str(tmp / "new"),
                       "--origin", "valedger.test/cli")
    assert code == 0, out
    new_key, new_pub = str(tmp / "new" / "audit.key"), str(tmp / "new" / "audit.pub")
    ledger = Ledger(StoreConfig(url=url, create_tables=False))
    ledger.register_participant("reg-late", "ENTERPRISE", "Late Ltd", "TAX-late", "XX")
    ledger.close()
    code, out = invoke("audit", "checkpoint", "--db", url, "--key", new_key)
    assert code == 0 and "checkpoint 2: 13 records" in out, out
    export = tmp / "rotated.vlx"
    assert invoke("audit", "export", "--db", url, "--out", str(export))[0] == 0
    for source in (("--db", url), ("--from", str(export))):
        code, out = invoke("audit", "verify", *source, "--public-key", old_pub,
                           "--public-key", new_pub)
        assert code == 0 and "2 seen, 2 match" in out, out
        code, out = invoke("audit", "verify", *source, "--public-key", new_pub)
        assert code == 1 and "UNTRUSTED_KEY" in out and "checkpoint 1" in out, out
        assert "checkpoint 2:" not in out
    # An auditor's environment variable may carry both keys.
    both = f"{Path(old_pub).read_text().strip()} {Path(new_pub).read_text().strip()}"
    result = runner.invoke(app, ["audit", "verify", "--db", url],
                           env={"VALEDGER_AUDIT_PUBLIC_KEY": both})
    assert result.exit_code == 0, result.output
    # A proof against the old key's checkpoint verifies with the old key among the trusted.
    code, out = invoke("audit", "verify-proof", str(tmp / "old.proof"), "--public-key", new_pub)
    assert code == 1 and "not signed by any trusted key" in out, out
    code, out = invoke("audit", "verify-proof", str(tmp / "old.proof"), "--public-key", new_pub,
                       "--public-key", old_pub)
    assert code == 0 and "size 12" in out, out
    code, out = invoke("audit", "prove", "--db", url, "--event", f"{trades[0]}:1",
                       "--out", str(tmp / "new.proof"))
    assert code == 0, out
    code, out = invoke("audit", "verify-proof", str(tmp / "new.proof"), "--public-key", new_pub)
    assert code == 0 and "size 13" in out, out
