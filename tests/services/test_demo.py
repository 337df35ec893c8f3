"""The demo end to end (real server, mTLS, SQLite), and the report's numbers against the ledger."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.config import StoreConfig
from services.demo import FARMS, MARKER, WITNESSES, DemoResult, Timeline
from services.report import gather, month_period
from services.report.period import span_period


def test_every_expected_outcome_happened(demo: DemoResult) -> None:
    failed = [c for c in demo.checks if not c.ok]
    assert not failed, failed
    assert demo.ok


def test_alerts_are_the_expected_ones(demo: DemoResult) -> None:
    kinds = {a.kind for a in demo.alerts}
    assert kinds == {"STRUCTURING", "OVER_CAPACITY", "ENERGY_OVER_QUOTA",
                     "OUTPUT_UNDER_REPORTED", "OUTPUT_OVER_REPORTED", "MINED_WHILE_NOT_ACTIVE",
                     "LICENCE_NOT_ACTIVE", "SCREENING_HIT"}
    # The suspended farm's meter reading is recorded and alerted, not its output report.
    inactive = [a for a in demo.alerts if a.kind == "LICENCE_NOT_ACTIVE"]
    assert inactive and all("kwh" in " ".join(a.figures).lower() for a in inactive), inactive
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
    config = StoreConfig(f"sqlite:///{demo.workdir / 'ledger.db'}", cipher_key,
                         create_tables=False)
    ledger = Ledger(config)
    try:
        reconciliations = ledger.list_reconciliations()
        names = {rec.licence_id: ledger.get_participant(rec.participant_id).legal_name
                 for rec in reconciliations}
        written = json.loads((demo.workdir / "report" / "report.json").read_text())
        period = written["period"]
        start, end = (datetime.fromisoformat(period[k]) for k in ("start", "end"))
        reported = (month_period(start.year, start.month)
                    if period["label"] == f"{start:%Y-%m}" else span_period(start, end))
        data = gather(ledger, config, reported)
        # The report's alerts are those raised in its period: on the first 20 days of a
        # month the screening hit at registration (20 days back) lies in the month before.
        alert_kinds = sorted(a.kind for a in ledger.list_alerts()
                             if reported.contains(a.raised_at))
    finally:
        ledger.close()
    assert len(reconciliations) == len(FARMS) == len(written["mining"]["rows"])
    rows = {row["licence_id"]: row for row in written["mining"]["rows"]}
    for rec in reconciliations:
        row = rows[str(rec.licence_id)]
        assert Decimal(row["proved_hashrate"]["value"]) == Decimal(rec.figures["hashrate_hs"])
        assert row["proved_hashrate"]["unit"] == "H/s"
        assert Decimal(row["licensed_capacity"]["value"]) == \
            rec.licensed_capacity_ths * Decimal(10) ** 12
        assert Decimal(row["expected_output"]["value"]) == rec.expected_output
        assert Decimal(row["reported_output"]["value"]) == rec.reported_output
        assert row["reported_output"]["unit"] == "BTC"
        assert Decimal(row["metered_energy"]["value"]) == rec.metered_kwh
        assert Decimal(row["energy_quota"]["value"]) == rec.quota_kwh
        assert row["verdicts"] == list(rec.verdicts)
        assert row["holder"] == names[rec.licence_id]
    assert sorted(a["kind"] for a in written["alerts"]["raised"]) == alert_kinds
    assert [r.licence_id for r in data.mining.rows] == [row["licence_id"]
                                                        for row in written["mining"]["rows"]]
    assert {c["witness"] for c in written["integrity"]["cosignatures"]} == set(WITNESSES)
    assert {b["rule"] for b in written["market"]["blocked_by_rule"]} == {
        "OUTFLOW_CAP_EXCEEDED", "TRAVEL_RULE_DATA_MISSING"}
    html = (demo.workdir / "report" / "report.html").read_text()
    for name in names.values():
        assert name in html
    assert html.count("data:image/png;base64,") == 6
    assert (demo.workdir / "report" / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_demo_refuses_a_foreign_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("not the demo's")
    done = subprocess.run([sys.executable, "-m", "services.cli", "demo", "--workdir",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "not empty" in done.stdout + done.stderr
    assert (tmp_path / "precious.txt").exists()


@pytest.mark.parametrize(("now", "expected"), [
    ("2026-11-15T10:20:00+00:00", ["--period", "2026-11"]),
    ("2026-12-01T01:52:00+00:00", ["--from", "2026-11-01", "--to", "2027-01-01"]),
    ("2026-11-30T23:10:00+00:00", ["--from", "2026-11-01", "--to", "2027-01-01"]),
    ("2027-01-01T03:00:00+00:00", ["--from", "2026-12-01", "--to", "2027-02-01"]),
    ("2026-12-01T06:00:00+00:00", ["--period", "2026-12"]),
], ids=["mid-month", "first-hours-of-month", "last-hour-of-month", "new-year", "after-dawn"])
def test_report_period_holds_the_reconciled_hour_and_the_run(now: str,
                                                            expected: list[str]) -> None:
    """The report covers the reconciled hour (four hours back) and the hours the run stamps
    its alerts in: near a month's turn that is two months, else the one."""
    assert Timeline(datetime.fromisoformat(now)).report_options() == expected
