"""The demo end to end (real server, mTLS, SQLite), and the report's numbers against the ledger."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from ledger.application import Ledger
from ledger.config import StoreConfig
from services.demo import FARMS, MARKER, DemoResult
from services.report import gather


def test_every_expected_outcome_happened(demo: DemoResult) -> None:
    failed = [c for c in demo.checks if not c.ok]
    assert not failed, failed
    assert demo.ok


def test_alerts_are_the_expected_ones(demo: DemoResult) -> None:
    kinds = sorted(a.kind for a in demo.alerts)
    assert kinds == sorted(["STRUCTURING", "OVER_CAPACITY", "ENERGY_OVER_QUOTA",
                            "OUTPUT_UNDER_REPORTED", "SCREENING_HIT"])
    [hit] = [a for a in demo.alerts if a.kind == "SCREENING_HIT"]
    assert hit.figures["confirmed"] == "true" and hit.figures["entry_id"] == "DEMO.001"
    assert hit.figures["screened_name"] == "VOLKOV Dmitriy"
    names = {c.name: c for c in demo.checks}
    for farm in FARMS:
        check = names[f"{farm.name} reconciliation"]
        assert check.ok, check


def test_blocked_trades_carry_rule_and_numbers(demo: DemoResult) -> None:
    by_rule = {r.rule: r for r in demo.blocked}
    assert set(by_rule) == {"OUTFLOW_CAP_EXCEEDED", "TRAVEL_RULE_DATA_MISSING"}
    assert by_rule["OUTFLOW_CAP_EXCEEDED"].message == \
        "outflow cap 50,000 USD exceeded: 45,000 + 9,500"
    assert by_rule["TRAVEL_RULE_DATA_MISSING"].figures["value_usd"] == "2,400"


def test_audit_verify_passes_and_tampered_copy_fails(demo: DemoResult) -> None:
    names = {c.name: c for c in demo.checks}
    assert names["audit verify of the export"].observed.startswith("exit 0")
    verified = (demo.workdir / "audit-verify.txt").read_text()
    assert "cosigned by witness witness.finance-ministry.demo" in verified
    assert "cosigned by witness witness.audit-chamber.demo" in verified
    assert names["audit verify of a copy with one flipped bit"].observed != "exit 0"
    assert demo.artefacts["audit export"].stat().st_size > 0
    report = (demo.workdir / "audit-verify-tampered.txt").read_text()
    assert "FAIL" in report.upper() or "fault" in report.lower()


def test_workdir_keeps_everything_it_made(demo: DemoResult) -> None:
    assert (demo.workdir / MARKER).exists()
    for name in ("store", "checkpoint public key", "audit export", "report", "server log"):
        assert demo.artefacts[name].exists(), name


def test_report_numbers_equal_the_ledger(demo: DemoResult) -> None:
    cipher_key = (demo.workdir / "keys" / "cipher.key").read_text().strip()
    ledger = Ledger(StoreConfig(f"sqlite:///{demo.workdir / 'ledger.db'}", cipher_key,
                                create_tables=False))
    try:
        reconciliations = ledger.list_reconciliations()
        data = gather(ledger, "demo")
        alert_kinds = sorted(a.kind for a in ledger.list_alerts())
    finally:
        ledger.close()
    written = json.loads((demo.workdir / "report" / "report.json").read_text())
    assert len(reconciliations) == len(FARMS) == len(written["licences"])
    rows = {row["licence_id"]: row for row in written["licences"]}
    for rec in reconciliations:
        row = rows[str(rec.licence_id)]
        assert Decimal(row["proved_ths"]) == rec.hashrate_ths
        assert Decimal(row["licensed_ths"]) == rec.licensed_capacity_ths
        assert (Decimal(row["proved_ths_low"]), Decimal(row["proved_ths_high"])) == \
            rec.hashrate_interval_ths
        assert Decimal(row["expected_output"]) == rec.expected_output
        assert Decimal(row["reported_output"]) == rec.reported_output
        assert Decimal(row["metered_kwh"]) == rec.metered_kwh
        assert Decimal(row["quota_kwh"]) == rec.quota_kwh
        assert row["verdicts"] == list(rec.verdicts)
    assert sorted(a["kind"] for a in written["alerts"]) == alert_kinds
    assert [r.licence_id for r in data.licences] == [row["licence_id"]
                                                     for row in written["licences"]]
    html = (demo.workdir / "report" / "report.html").read_text()
    for rec in reconciliations:
        assert str(rec.licence_id) in html
    assert html.count("data:image/png;base64,") == 4


def test_demo_refuses_a_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("not the demo's")
    done = subprocess.run([sys.executable, "-m", "services.cli", "demo", "--workdir",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "not empty" in done.stdout + done.stderr
    assert (tmp_path / "precious.txt").exists()
