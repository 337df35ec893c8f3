"""`valedger report` through the real command line: the files, the period options, and the
printed verify command run against the same store."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.config import StoreConfig
from tests.ontime import on_time_ledger
from tests.services.cli.real_cli import valedger
from tests.services.report.scenario import build_scenario


def test_report_of_a_month_writes_every_file_and_its_checkpoint_verifies(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = on_time_ledger(StoreConfig(url))
    try:
        scenario = build_scenario(ledger)
    finally:
        ledger.close()
    out = tmp_path / "report"
    done = valedger("report", "--period", "2026-03", "--out", str(out), "--db", url, "--json")
    assert done.code == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["period"] == "2026-03" and printed["reconciliations"] == 2
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "report.html", "report.pdf", "report.json", "checkpoint.note", "hashrate.png",
        "utilisation.png", "output.png", "energy.png", "outflows.png", "alerts.png"])
    figures = json.loads((out / "report.json").read_text())
    assert figures["integrity"]["tree_size"] == scenario.checkpoint_size
    (tmp_path / "audit.pub").write_text(scenario.signer.verifier.vkey)
    checked = valedger("audit", "verify", "--db", url, "--public-key",
                       str(tmp_path / "audit.pub"), "--trusted-checkpoint",
                       str(out / "checkpoint.note"))
    assert checked.code == 0, checked.stdout + checked.stderr

    span = valedger("report", "--from", "2026-03-10", "--to", "2026-03-11", "--out",
                    str(tmp_path / "day"), "--db", url, "--json")
    assert span.code == 0, span.stderr
    day = json.loads((tmp_path / "day" / "report.json").read_text())
    assert day["period"]["label"] == "2026-03-10 – 2026-03-11"
    assert day["market"]["blocked_by_rule"] != [] and day["mining"]["rows"] == []


def test_a_wrong_period_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    on_time_ledger(StoreConfig(url)).close()
    done = valedger("report", "--period", "2026-13", "--out", str(tmp_path / "r"), "--db", url)
    assert done.code == 2
    assert done.error_lines == ["error: --period '2026-13' is not a month such as 2026-11"]
    assert not (tmp_path / "r").exists()
