"""`valedger audit` end to end on a real SQLite store: keys, checkpoint, export, verify
(from the store and from the file, with and without the cipher key), prove, verify-proof,
tampering, bad input and key rotation; `audit restore` into SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from ledger.audit.export import read_export, write_export
from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import AuditLog
from ledger.audit.stream import AuditStream, StreamCheckpoint, StreamItem, StreamRecord
from ledger.config import StoreConfig
from services.cli import app
from tests.ledger.audit.conftest import ORIGIN, RawDB, RestoreSource, build_restore_source
from tests.ledger.conftest import START, build_market
from tests.ledger.test_signatures import NEUTRAL_POINT
from tests.ontime import on_time_ledger
from tests.tlog.rfc6962 import all_nodes
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.consistency import consistency_proof, verify_consistency
from tlog.hashes import leaf_hash, root_hash
from tlog.nodes import NodeID
from tlog.note import NoteSigner

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path, list[str]]:
    """A SQLite store with a market (9 records) and three trades, plus an audit key pair."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = on_time_ledger(StoreConfig(url=url))
    market = build_market(ledger)
    trades = [str(ledger.record_trade(market.trade(f"t{i}")).trade_id) for i in range(3)]
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
    assert code == 0 and "exported 12 records and 1 checkpoint to" in out, out
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
    assert code == 0 and f"event {trades[2]}:1" in out and "leaf 11" in out, out
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
    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=cipher))
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
    assert code == 0 and "events decoded: 10" in out, out  # the market (9) and a trade
    wrong = base64.b64encode(os.urandom(32)).decode()
    code, out = invoke("audit", "verify", "--from", str(export), "--public-key", pub,
                       "--cipher-key", wrong)
    assert code == 2 and "decrypts none of the 10 events" in out, out


def test_cipher_key_replay_reports_a_key_no_private_key_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cipher = base64.b64encode(os.urandom(32)).decode()
    url = f"sqlite:///{tmp_path / 'enc.db'}"
    ledger = on_time_ledger(StoreConfig(url=url, cipher_key=cipher))
    market = build_market(ledger)
    with monkeypatch.context() as before_the_rule:  # a store from before 2026-12-02
        before_the_rule.setattr("ledger.keys.usable_public_key", lambda key: True)
        ledger.register_key("weak", market.exchange, "weak-key", NEUTRAL_POINT, at=START)
    ledger.close()
    assert invoke("audit", "keygen", "--out", str(tmp_path))[0] == 0
    key, pub = str(tmp_path / "audit.key"), str(tmp_path / "audit.pub")
    assert invoke("audit", "checkpoint", "--db", url, "--key", key)[0] == 0
    code, out = invoke("audit", "verify", "--db", url, "--public-key", pub,
                       "--cipher-key", cipher)
    assert code == 1 and "UNUSABLE_KEY" in out and "'weak-key'" in out, out


def test_bad_input_is_a_clear_error(store: tuple[str, Path, list[str]]) -> None:
    url, tmp, _ = store
    pub = str(tmp / "keys" / "audit.pub")
    code, out = invoke("audit", "verify", "--db", url, "--from", "x", "--public-key", pub)
    assert code == 2 and "not both" in out
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
    ledger = on_time_ledger(StoreConfig(url=url, create_tables=False))
    ledger.register_participant("reg-late", "ENTERPRISE", "Late Ltd", "TAX-late", "KZ")
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


# ---------------------------------------------------------------------------- restore


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> RestoreSource:
    """An encrypted SQLite store with ledger activity and signed checkpoints, exported."""
    return build_restore_source(tmp_path_factory.mktemp("restore-source"))


def store_contents(url: str) -> dict[str, int]:
    """Returns the tables of a store that hold rows (creating nothing)."""
    log = AuditLog.open(StoreConfig(url=url, create_tables=False), create_tables=False)
    try:
        with log.store.read() as tx:
            return tx.nonempty_tables()
    finally:
        log.close()


def rewrite_export(path: Path, out: Path, change: Callable[[list[StreamItem]], None]) -> None:
    """Writes ``out``: the export at ``path`` with its items changed, trailer recomputed."""
    with path.open("rb") as f:
        stream = read_export(f)
        items = list(stream.items)
    change(items)
    with out.open("wb") as f:
        write_export(AuditStream(stream.header, iter(items)), f)


def flip_state_byte(items: list[StreamItem], index: int = 7) -> None:
    """Flips the last byte of the state of record ``index`` (the leaf data's last byte)."""
    positions = [i for i, item in enumerate(items) if isinstance(item, StreamRecord)]
    record = items[positions[index]]
    assert isinstance(record, StreamRecord)
    data = record.leaf_data[:-1] + bytes([record.leaf_data[-1] ^ 0x01])
    items[positions[index]] = record._replace(leaf_data=data)


def test_restore_round_trip(source: RestoreSource, store_url: str, tmp_path: Path) -> None:
    pub = str(source.public_key)
    code, out = invoke("audit", "restore", "--from", str(source.export), "--db", store_url,
                       "--public-key", pub)
    assert code == 0, out
    assert "restored 25 records and 4 checkpoints" in out
    assert "restoring" not in out  # no progress bar when stderr is not a terminal
    code, out = invoke("audit", "verify", "--db", store_url, "--public-key", pub)
    assert code == 0 and "records: 25" in out and "4 seen, 4 match" in out, out

    # Every checkpoint kept as signed, and the tree over every record is the original's.
    log = AuditLog.open(StoreConfig(url=store_url, create_tables=False), create_tables=False)
    try:
        # Byte for byte, in export order, with dense notification ids.
        raw = RawDB(store_url, log.store.events_table)
        rows = raw.events()
        raw.close()
        assert [r[0] for r in rows] == list(range(1, 26))
        assert [(UUID(str(r[1])), r[2], r[3], bytes(r[4])) for r in rows] == source.records
        assert log.checkpoints() == source.checkpoints
        assert log.latest_checkpoint().root_hash == source.checkpoints[-1].root_hash  # type: ignore[union-attr]
        assert log.state().size == 25 and log.state().compact.root() == source.root
    finally:
        log.close()

    # The cipher key reads the same aggregates; the store keeps working.
    ledger = on_time_ledger(StoreConfig(url=store_url, cipher_key=source.cipher_key,
                                create_tables=False))
    try:
        for pid, name in source.participants.items():
            assert ledger.get_participant(pid).legal_name == name
        for tid, (rule, value) in source.trades.items():
            trade: Any = ledger.repository.get(tid)
            assert (trade.rule, trade.value_usd) == (rule, value)
        assert ledger.get_exchange_licence(source.licence).version == 3
        assert len(ledger.list_licences()) == 2
        ledger.register_participant("reg-after", "ENTERPRISE", "After Ltd", "TAX-after", "MT")
        log = AuditLog(ledger.recorder, signer=source.signer,
                       policy=CheckpointPolicy(every_records=5, every_seconds=0))
        new = log.follower.checkpoint_now()
    finally:
        ledger.close()
    old = source.checkpoints[-1]
    assert (new.seq, new.size) == (5, 26)
    verify_consistency(old.size, new.size, old.root_hash, new.root_hash, new.consistency)
    code, out = invoke("audit", "verify", "--db", store_url, "--public-key", pub,
                       "--cipher-key", source.cipher_key)
    assert code == 0 and "5 seen, 5 match" in out and "events decoded: 26" in out, out

    # And on into SQLite again: export the restored store, restore that.
    again, copy = tmp_path / "again.vlx", f"sqlite:///{tmp_path / 'copy.db'}"
    assert invoke("audit", "export", "--db", store_url, "--out", str(again))[0] == 0
    code, out = invoke("audit", "restore", "--from", str(again), "--db", copy,
                       "--public-key", pub)
    assert code == 0 and "restored 26 records and 5 checkpoints" in out, out
    copied = AuditLog.open(StoreConfig(url=copy, create_tables=False), create_tables=False)
    try:
        assert copied.checkpoints() == [*source.checkpoints, new]
    finally:
        copied.close()


def test_restore_refuses_a_non_empty_store(source: RestoreSource, store_url: str) -> None:
    ledger = on_time_ledger(StoreConfig(url=store_url))
    ledger.register_participant("reg-x", "ENTERPRISE", "X Ltd", "TAX-x", "MT")
    ledger.close()
    before = store_contents(store_url)
    (table,) = before
    code, out = invoke("audit", "restore", "--from", str(source.export), "--db", store_url)
    assert code == 2, out
    assert "is not empty" in out and f"{table} (1 row)" in out, out
    assert store_contents(store_url) == before == {table: 1}


def test_restore_refuses_a_tampered_export(source: RestoreSource, sqlite_url: str,
                                           tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.vlx"
    rewrite_export(source.export, tampered, flip_state_byte)
    pub = str(source.public_key)
    code, out = invoke("audit", "restore", "--from", str(tampered), "--db", sqlite_url,
                       "--public-key", pub)
    assert code == 1 and "CHANGED" in out and "leaf 7" in out, out
    assert "nothing was written" in out
    assert store_contents(sqlite_url) == {}
    # Without a key the file's own structure already gives it away: its root is not the
    # one its checkpoint signs.
    code, out = invoke("audit", "restore", "--from", str(tampered), "--db", sqlite_url)
    assert code == 1 and "checkpoint 2 (after 10 records)" in out, out
    assert store_contents(sqlite_url) == {}
    # A damaged file is refused before anything is written, too.
    damaged = tmp_path / "damaged.vlx"
    damaged.write_bytes(source.export.read_bytes()[:-40])
    code, out = invoke("audit", "restore", "--from", str(damaged), "--db", sqlite_url)
    assert code == 1 and "unreadable" in out, out
    assert store_contents(sqlite_url) == {}


def nodes_of(leaves: list[bytes]) -> Callable[[Iterable[NodeID]], dict[NodeID, bytes]]:
    """Returns a node lookup over the tree of ``leaves``."""
    nodes = all_nodes(leaves)
    return lambda _ids: nodes


def test_restore_of_a_re_signed_export_needs_the_key(source: RestoreSource, store_url: str,
                                                      tmp_path: Path) -> None:
    # A tamperer changes a record and re-signs every checkpoint with a key of its own:
    # the file holds together, and only the regulator's key tells it apart.
    forger = NoteSigner.generate(ORIGIN)

    def forge(items: list[StreamItem]) -> None:
        flip_state_byte(items)
        leaves: list[bytes] = []
        previous = 0
        for i, item in enumerate(items):
            if isinstance(item, StreamRecord):
                leaves.append(leaf_hash(item.leaf_data))
                continue
            assert isinstance(item, StreamCheckpoint)
            root = root_hash(leaves)
            proof = consistency_proof(previous, len(leaves), nodes_of(leaves)) if previous else []
            note = sign_checkpoint(Checkpoint(ORIGIN, len(leaves), root), forger).note
            items[i] = item._replace(note=note, consistency=tuple(proof))
            previous = len(leaves)

    forged = tmp_path / "forged.vlx"
    rewrite_export(source.export, forged, forge)
    pub = str(source.public_key)
    code, out = invoke("audit", "restore", "--from", str(forged), "--db", store_url,
                       "--public-key", pub)
    assert code == 1 and "UNTRUSTED_KEY" in out and "nothing was written" in out, out
    assert store_contents(store_url) == {}
    code, out = invoke("audit", "restore", "--from", str(forged), "--db", store_url)
    assert code == 0 and "signatures were not checked" in out, out
    code, out = invoke("audit", "verify", "--db", store_url, "--public-key", pub)
    assert code == 1 and "UNTRUSTED_KEY" in out, out


def test_restore_bad_input_touches_no_store(source: RestoreSource, tmp_path: Path) -> None:
    target = tmp_path / "never.db"
    url = f"sqlite:///{target}"
    code, out = invoke("audit", "restore", "--from", str(tmp_path / "missing.vlx"), "--db", url)
    assert code == 2 and "No such file" in out, out
    junk = tmp_path / "junk.vlx"
    junk.write_bytes(b"not an export at all")
    code, out = invoke("audit", "restore", "--from", str(junk), "--db", url)
    assert code == 2 and "not a valedger audit export" in out, out
    code, out = invoke("audit", "restore", "--from", str(source.export), "--db", url,
                       "--public-key", "not+a+key")
    assert code == 2 and "Traceback" not in out, out
    assert not target.exists()


# ---------------------------------------------------------------------------- workers


def test_verify_workers_through_the_real_command_line(
    source: RestoreSource, tmp_path: Path,
) -> None:
    """`audit verify --workers 2` (the parallel pass) prints the report `--workers 1`
    prints, word for word, on a clean export with the cipher key and on a tampered store;
    the exit codes agree; `--workers 0` is refused naming the option."""
    from tests.services.cli.real_cli import valedger

    key = ["--public-key", str(source.public_key), "--json"]
    clean = [valedger("audit", "verify", "--from", str(source.export), *key,
                      "--cipher-key", source.cipher_key, "--workers", str(n))
             for n in (1, 2)]
    assert clean[0].code == clean[1].code == 0, clean[0].stderr
    assert json.loads(clean[0].stdout)["events_decoded"] > 0
    assert clean[0].stdout == clean[1].stdout

    url = f"sqlite:///{tmp_path / 'tampered.db'}"
    # A copy of the source store, then tampered.
    assert invoke("audit", "restore", "--from", str(source.export), "--db", url)[0] == 0
    raw = RawDB(url)
    try:
        nid, _, _, _, state = raw.events()[7]
        raw.run(f"UPDATE {raw.table} SET state = ? WHERE {raw.nid} = ?",
                (state[:-1] + bytes([state[-1] ^ 1]), nid))
    finally:
        raw.close()
    tampered = [valedger("audit", "verify", "--db", url, *key, "--workers", str(n))
                for n in (1, 2)]
    assert tampered[0].code == tampered[1].code == 1, tampered[0].stderr
    assert "CHANGED" in json.loads(tampered[0].stdout)["fault_counts"]
    assert tampered[0].stdout == tampered[1].stdout

    refused = valedger("audit", "verify", "--db", url, *key, "--workers", "0")
    assert refused.code == 2 and "--workers" in refused.stderr, refused.stderr
