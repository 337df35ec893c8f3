"""AuditLog.latest_checkpoint_end: where the newest checkpoint's records end in the log
(what the supervisor's report is made from), or None without audit tables or checkpoint."""

from __future__ import annotations

from pathlib import Path

from ledger.application import Ledger
from ledger.audit.log import AuditLog
from ledger.config import StoreConfig
from tlog.note import NoteSigner


def test_none_without_audit_tables_then_the_last_leaf_of_the_checkpoint(
        tmp_path: Path) -> None:
    config = StoreConfig(f"sqlite:///{tmp_path / 'l.db'}")
    ledger = Ledger(config)
    try:
        for i in range(3):
            ledger.register_participant(f"r{i}", "ENTERPRISE", f"P{i} Ltd", f"T{i}", "MT")
        log = AuditLog.open(config, create_tables=False)
        try:
            assert log.latest_checkpoint_end() is None  # no audit tables at all
        finally:
            log.close()
        signed = AuditLog(ledger.recorder, signer=NoteSigner.generate("t.example/log"))
        assert signed.latest_checkpoint_end() is None  # tables, no checkpoint yet
        checkpoint = signed.follower.checkpoint_now()
        ledger.register_participant("r9", "ENTERPRISE", "Later Ltd", "T9", "MT")
        found = signed.latest_checkpoint_end()
        signed.follower.stop()
        assert found is not None
        assert found[0].seq == checkpoint.seq and found[0].size == 3
        stored = ledger.recorder.select_notifications(start=None, limit=10)
        assert found[1] == stored[2].id < stored[3].id
    finally:
        ledger.close()
