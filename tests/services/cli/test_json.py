"""A JSON output mode for every command a script would call, through the real CLI: key
generation, checkpoints, export and restore, proofs and their verification, certificates.
(``audit verify/export/prove``, ``db init``, ``ca revoke`` and ``verify-shares`` have
theirs tested beside their other behaviour.)"""

from __future__ import annotations

import json
from pathlib import Path

from ledger import Ledger, StoreConfig
from tests.services.cli.real_cli import valedger


def as_json(stdout: str) -> dict[str, object]:
    """Returns the one JSON document a command printed (nothing else on stdout)."""
    document = json.loads(stdout)
    assert isinstance(document, dict)
    return document


def last_event(url: str) -> str:
    """Returns AGGREGATE_ID:VERSION of the last record of a store."""
    ledger = Ledger(StoreConfig(url=url, create_tables=False))
    try:
        [last] = ledger.recorder.select_notifications(start=10, limit=1)
    finally:
        ledger.close()
    return f"{last.originator_id}:{last.originator_version}"


def test_audit_commands_print_json(filled_store: str, tmp_path: Path) -> None:
    made = valedger("audit", "keygen", "--out", str(tmp_path / "keys"), "--origin",
                    "json.test/log", "--json")
    assert made.code == 0, made.stderr
    keys = as_json(made.stdout)
    assert keys["origin"] == "json.test/log" and Path(str(keys["signing_key"])).is_file()
    key, pub = str(keys["signing_key"]), str(keys["public_key"])

    signed = valedger("audit", "checkpoint", "--db", filled_store, "--key", key, "--json")
    assert signed.code == 0, signed.stderr
    checkpoint = as_json(signed.stdout)
    assert checkpoint["seq"] == 1 and checkpoint["size"] == 12  # 2 + 7 + 3 trades
    assert str(checkpoint["note"]).startswith("json.test/log\n12\n")

    export = tmp_path / "log.vlx"
    assert valedger("audit", "export", "--db", filled_store, "--out", str(export)).code == 0
    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = valedger("audit", "restore", "--from", str(export), "--db", restored_url,
                        "--public-key", pub, "--json")
    assert restored.code == 0, restored.stderr
    summary = as_json(restored.stdout)
    assert (summary["records"], summary["checkpoints"], summary["tree_size"]) == (12, 1, 12)
    assert summary["root"] == checkpoint["root"] and summary["signatures_checked"] is True

    bundle = tmp_path / "event.proof"
    proved = valedger("audit", "prove", "--db", filled_store, "--event", last_event(filled_store),
                      "--out", str(bundle))
    assert proved.code == 0, proved.stderr
    checked = valedger("audit", "verify-proof", str(bundle), "--public-key", pub, "--json")
    assert checked.code == 0, checked.stderr
    valid = as_json(checked.stdout)
    assert valid["valid"] is True and valid["leaf_index"] == 9 and valid["tree_size"] == 12
    damaged = tmp_path / "damaged.proof"
    damaged.write_text(bundle.read_text().replace("tlog-proof", "tlog-proff", 1))
    refused = valedger("audit", "verify-proof", str(damaged), "--public-key", pub, "--json")
    assert refused.code == 1 and as_json(refused.stdout)["valid"] is False


def test_ca_issue_prints_json(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    assert valedger("ca", "init", "--ca-dir", str(ca)).code == 0
    issued = valedger("ca", "issue", "auditor", "alice", "--ca-dir", str(ca), "--json")
    assert issued.code == 0, issued.stderr
    files = as_json(issued.stdout)
    assert files["role"] == "auditor" and files["name"] == "alice"
    assert all(Path(str(files[k])).is_file() for k in ("certificate", "key", "ca"))
