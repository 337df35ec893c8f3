"""`valedger alerts` and `valedger screening` (services/cli/alerts.py) through the real
command line against a served ledger: a list imported, a hit worked as a case, an STR
written, mistakes told in one line."""

from __future__ import annotations

import json
from pathlib import Path

from services.generated.valedger.v1 import common_pb2, licensing_pb2
from tests.services.cli.real_cli import valedger
from tests.services.harness import World


def connection(world: World, who: str = "regulator") -> list[str]:
    tls = world.cert(who)
    return ["--server", world.target, "--ca-cert", str(tls.ca_cert), "--cert", str(tls.cert),
            "--key", str(tls.key)]


def test_the_compliance_desk_from_the_command_line(world: World, tmp_path: Path) -> None:
    listing = tmp_path / "pep.json"
    listing.write_text(json.dumps({"source": "NATIONAL-PEP", "version": "7", "entries": [
        {"id": "PEP-1", "name": "Nurlan Abenov", "categories": ["PEP"]}]}))
    imported = valedger("screening", "import", str(listing), *connection(world), "--json")
    assert imported.code == 0, imported.stderr
    assert json.loads(imported.stdout)["version"] >= 2
    with world.client("regulator") as reg:
        reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
            request_id="cli-pep", kind=common_pb2.PARTICIPANT_KIND_INDIVIDUAL,
            legal_name="Abenov Nurlan", tax_id="kz-abenov", country="KZ"), timeout=20)
    listed = valedger("alerts", "list", *connection(world), "--kind", "SCREENING_HIT",
                      "--unassigned", "--json")
    assert listed.code == 0, listed.stderr
    [hit] = [a for a in json.loads(listed.stdout) if a["figures"]["entry_id"] == "PEP-1"]
    alert_id = hit["alertId"]
    for args in (["assign", alert_id, "analyst-3"],
                 ["severity", alert_id, "critical", "--note", "minister"],
                 ["escalate", alert_id, "--to", "FIU", "--note", "file"],
                 ["resolve", alert_id, "--note", "filed", "--str-reference", "STR-9"],
                 ["reopen", alert_id, "--note", "new facts"]):
        done = valedger("alerts", *args, *connection(world))
        assert done.code == 0, (args, done.stderr)
    mine = valedger("alerts", "list", *connection(world), "--assignee", "analyst-3",
                    "--state", "open", "--json")
    assert [a["alertId"] for a in json.loads(mine.stdout)] == [alert_id]
    out = tmp_path / "str.json"
    written = valedger("alerts", "str", alert_id, "--out", str(out), *connection(world))
    assert written.code == 0, written.stderr
    report = json.loads(out.read_text())
    assert report["format"] == "valedger-str/1"
    assert [s["action"] for s in report["cases"][0]["history"]][-1] == "REOPENED"


def test_mistakes_are_one_line_and_exit_2(world: World) -> None:
    wrong_state = valedger("alerts", "list", *connection(world), "--state", "closed")
    assert wrong_state.code == 2
    assert wrong_state.error_lines == [
        "error: --state must be one of open, escalated, resolved, got 'closed'"]
    refused = valedger("alerts", "assign", "not-a-uuid", "x", *connection(world))
    assert refused.code == 2 and len(refused.error_lines) == 1
    assert "INVALID_ARGUMENT" in refused.stderr and "alert_id" in refused.stderr
    not_regulator = valedger("alerts", "list", *connection(world, "auditor"))
    assert not_regulator.code == 0  # the auditor reads alerts
    denied = valedger("alerts", "reopen", "00000000-0000-0000-0000-000000000001",
                      "--note", "x", *connection(world, "auditor"))
    assert denied.code == 2 and "PERMISSION_DENIED" in denied.stderr
