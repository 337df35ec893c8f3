"""ComplianceService and the VASP registry over mTLS: screening lists imported and used
at registration, alerts worked as cases (assign, severity, escalate, resolve, reopen,
lists by state and assignee), the STR export, and who may do each."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict

from services import wire
from services.generated.valedger.v1 import (
    common_pb2,
    compliance_pb2,
    history_pb2,
    licensing_pb2,
    trading_pb2,
)
from tests.services.harness import (
    NOW,
    SET_UP,
    TRADE_AT,
    World,
    full_travel_rule,
    reason,
    trade,
)

SANCTIONS = {"source": "OFAC-SDN", "version": "2026-11-30.1", "entries": [
    {"id": "SDN-1", "name": "Ivan Petrovich Sidorov", "aliases": ["Иван Сидоров"],
     "ids": ["P-7700123"], "dates_of_birth": ["1970-02-01"], "categories": ["SANCTIONS"]},
    {"id": "SDN-2", "name": "Boreal Shell Holdings", "ids": ["BVI-1999"],
     "categories": ["SANCTIONS"]}]}


def at(minutes: int) -> Any:
    return wire.timestamp(NOW - timedelta(minutes=minutes))


def register(world: World, request_id: str, name: str, tax_id: str,
             owners: tuple[str, ...] = ()) -> licensing_pb2.RegisterParticipantResponse:
    with world.client("regulator") as reg:
        return reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
            request_id=request_id, kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
            legal_name=name, tax_id=tax_id, country="KZ", beneficial_owners=list(owners),
            at=at(50)), timeout=20)


def alerts(world: World, **filters: Any) -> list[compliance_pb2.Alert]:
    with world.client("regulator") as reg:
        return list(reg.compliance.ListAlerts(compliance_pb2.ListAlertsRequest(**filters),
                                              timeout=20).alerts)


def test_a_sanctioned_name_is_screened_at_registration(world: World) -> None:
    with world.client("regulator") as reg:
        imported = reg.compliance.ImportScreeningList(compliance_pb2.ImportScreeningListRequest(
            request_id="sdn-1", content=json.dumps(SANCTIONS).encode(), at=at(55)),
            timeout=20)
        assert imported.receipt.version >= 2
        with pytest.raises(grpc.RpcError) as bad:
            reg.compliance.ImportScreeningList(compliance_pb2.ImportScreeningListRequest(
                request_id="sdn-bad", content=b"{\"source\": 1}"), timeout=20)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "source" in (bad.value.details() or "")
    # Word order and script differ; only the name matches: an alert, not a refusal.
    possible = register(world, "reg-sidorov", "Sidorov Ivan", "KZ-100", ("Сидоров Иван",))
    [hit] = alerts(world, kind="SCREENING_HIT")
    assert hit.subject == possible.receipt.aggregate_id
    assert hit.figures["entry_id"] == "SDN-1" and hit.figures["confirmed"] == "false"
    assert hit.severity == compliance_pb2.ALERT_SEVERITY_HIGH
    # Name and registry number both match: refused, and the attempt is on the record.
    with pytest.raises(grpc.RpcError) as refused:
        register(world, "reg-boreal", "BOREAL SHELL HOLDINGS LTD", "BVI 1999")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(refused.value) == "SCREENING_CONFIRMED_MATCH"
    confirmed = [a for a in alerts(world, kind="SCREENING_HIT")
                 if a.figures["entry_id"] == "SDN-2"]
    assert [a.severity for a in confirmed] == [compliance_pb2.ALERT_SEVERITY_CRITICAL]


def test_an_alert_is_worked_as_a_case_and_exported_as_an_str(world: World) -> None:
    register(world, "reg-case", "Case Holdings", "KZ-200", ("Ivan Sidorov",))
    [case] = [a for a in alerts(world, kind="SCREENING_HIT")
              if a.figures.get("screened_name") == "Ivan Sidorov"]
    with world.client("regulator") as reg:
        raised = reg.compliance
        raised.AssignAlert(compliance_pb2.AssignAlertRequest(
            request_id="assign", alert_id=case.alert_id, assignee="analyst-7"), timeout=20)
        assert [a.alert_id for a in alerts(world, assignee="analyst-7")] == [case.alert_id]
        assert case.alert_id not in [a.alert_id for a in alerts(world, unassigned=True)]
        raised.SetAlertSeverity(compliance_pb2.SetAlertSeverityRequest(
            request_id="sev", alert_id=case.alert_id,
            severity=compliance_pb2.ALERT_SEVERITY_CRITICAL, note="owner of a shell"),
            timeout=20)
        raised.EscalateAlert(compliance_pb2.EscalateAlertRequest(
            request_id="esc", alert_id=case.alert_id, to="FIU", note="report"), timeout=20)
        assert [a.alert_id for a in alerts(world, state=compliance_pb2.ALERT_STATE_ESCALATED)
                ] == [case.alert_id]
        document = raised.ExportSuspiciousTransactionReport(
            compliance_pb2.ExportSuspiciousTransactionReportRequest(
                alert_ids=[case.alert_id]), timeout=20).document
        report = json.loads(document)
        assert report["format"] == "valedger-str/1"
        assert report["reporting_officer"] == "regulator"
        assert report["cases"][0]["severity"] == "CRITICAL"
        assert report["cases"][0]["parties"][0]["legal_name"] == "Case Holdings"
        raised.ResolveAlert(compliance_pb2.ResolveAlertRequest(
            request_id="resolve", alert_id=case.alert_id, note="STR filed",
            str_reference="STR-1"), timeout=20)
        with pytest.raises(grpc.RpcError) as twice:
            raised.AssignAlert(compliance_pb2.AssignAlertRequest(
                request_id="assign-late", alert_id=case.alert_id, assignee="x"), timeout=20)
        assert reason(twice.value) == "ALERT_ALREADY_RESOLVED"
        raised.ReopenAlert(compliance_pb2.ReopenAlertRequest(
            request_id="reopen", alert_id=case.alert_id, note="new facts"), timeout=20)
        with pytest.raises(grpc.RpcError) as no_severity:
            raised.SetAlertSeverity(compliance_pb2.SetAlertSeverityRequest(
                request_id="sev-0", alert_id=case.alert_id, note="n"), timeout=20)
        assert no_severity.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [now] = [a for a in alerts(world, state=compliance_pb2.ALERT_STATE_OPEN)
             if a.alert_id == case.alert_id]
    assert [s.action for s in now.history] == [
        "ASSIGNED", "SEVERITY CRITICAL", "ESCALATED to FIU", "RESOLVED", "REOPENED"]
    assert now.str_reference == "" and now.assignee == "analyst-7"


@pytest.mark.parametrize("method", ["AssignAlert", "EscalateAlert", "ReopenAlert",
                                    "ImportScreeningList",
                                    "ExportSuspiciousTransactionReport"])
def test_only_the_regulator_works_cases_and_lists(world: World, method: str) -> None:
    request = getattr(compliance_pb2, f"{method}Request")()
    for who in ("auditor", "exchange_x"):
        with world.client(who) as client, pytest.raises(grpc.RpcError) as denied:
            getattr(client.compliance, method)(request, timeout=20)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_vasp_registry(world: World) -> None:
    with world.client("regulator") as reg:
        domestic = reg.licensing.RegisterVasp(licensing_pb2.RegisterVaspRequest(
            request_id="vasp-x", name="Exchange X", country="KZ",
            licence_id=world.ids["licence_exchange_x"]), timeout=20)
        foreign = reg.licensing.RegisterVasp(licensing_pb2.RegisterVaspRequest(
            request_id="vasp-de", name="Berlin Coins GmbH", country="DE",
            foreign_registration="BaFin 123", travel_rule_endpoint="https://tr.example/de"),
            timeout=20)
        cases: list[tuple[dict[str, Any], str]] = [
            (dict(name="No Id", country="DE"), "INVALID_ARGUMENT"),
            (dict(name="Home Unlicensed", country="KZ", foreign_registration="x"),
             "VASP_NOT_LICENSED"),
            (dict(name="Abroad Licensed", country="DE",
                  licence_id=world.ids["licence_exchange_y"]), "VASP_COUNTRY_MISMATCH"),
        ]
        for bad, why in cases:
            with pytest.raises(grpc.RpcError) as refused:
                reg.licensing.RegisterVasp(licensing_pb2.RegisterVaspRequest(
                    request_id=f"bad-{why}", **bad), timeout=20)
            assert why in (reason(refused.value), refused.value.code().name)
    with world.client("exchange_x") as ex:
        listed = ex.licensing.ListVasps(licensing_pb2.ListVaspsRequest(), timeout=20).vasps
        german = ex.licensing.ListVasps(licensing_pb2.ListVaspsRequest(country="DE"),
                                        timeout=20).vasps
        with pytest.raises(grpc.RpcError) as denied:
            ex.licensing.RegisterVasp(licensing_pb2.RegisterVaspRequest(
                request_id="self", name="Me", country="DE", foreign_registration="x"),
                timeout=20)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    ids = [v.vasp_id for v in listed]
    assert domestic.receipt.aggregate_id in ids and foreign.receipt.aggregate_id in ids
    assert [v.name for v in german] == ["Berlin Coins GmbH"]
    assert german[0].travel_rule_endpoint == "https://tr.example/de"


def test_999_99_usd_transfers_sent_newest_first_raise_one_structuring_alert(
        world: World) -> None:
    times = [TRADE_AT + timedelta(hours=h) for h in (0, 5, 9, 10)]
    payloads = [trade(world, f"near-{n}", quantity="1", price="999.99",
                      at=wire.timestamp(when)) for n, when in enumerate(times)]
    with world.client("exchange_x") as ex:
        # Newest first: no trade is the "third" in arrival order by time.
        response = ex.record_trades(reversed(payloads))
    assert len(response.results) == 4
    [alert] = alerts(world, kind="STRUCTURING")
    assert alert.figures["count"] == "3" and alert.figures["band_low_usd"] == "900"
    assert alert.participant_id == world.ids["buyer"]
    assert alert.severity == compliance_pb2.ALERT_SEVERITY_HIGH


def test_a_trade_names_a_registered_vasp_and_carries_ivms101_data(world: World) -> None:
    with world.client("regulator") as reg:
        vasp_id = reg.licensing.RegisterVasp(licensing_pb2.RegisterVaspRequest(
            request_id="vasp-fr", name="Paris Crypto SAS", country="FR",
            foreign_registration="AMF E2026-001", at=wire.timestamp(SET_UP)),
            timeout=20).receipt.aggregate_id
    at = wire.timestamp(TRADE_AT + timedelta(hours=3))
    abroad: dict[str, Any] = {"counterparty_vasp_id": vasp_id, "counterparty_country": "",
                              "at": at}
    with world.client("exchange_x") as ex:
        # 2,000 USD to the French VASP with complete IVMS101 data: recorded.
        done = ex.record_trade(trade(world, "fr-ok", quantity="4", price="500",
                                     travel_rule=full_travel_rule(), **abroad))
        assert done.status == trading_pb2.TRADE_STATUS_RECORDED
        # Without the originator's identification beyond the name: blocked, naming it.
        lean = full_travel_rule()
        lean.originator.persons[0].ClearField("customer_identification")
        with pytest.raises(grpc.RpcError) as missing:
            ex.record_trade(trade(world, "fr-lean", quantity="4", price="500",
                                  travel_rule=lean, **abroad))
        assert reason(missing.value) == "TRAVEL_RULE_DATA_MISSING"
        assert "originator.address_or_national_id" in (missing.value.details() or "")
        # A VASP nobody registered, and a malformed one.
        with pytest.raises(grpc.RpcError) as unknown:
            ex.record_trade(trade(world, "fr-unknown", travel_rule=full_travel_rule(),
                                  **{**abroad, "counterparty_vasp_id": participant_free()}))
        assert reason(unknown.value) == "VASP_NOT_REGISTERED"
        bad_type = full_travel_rule()
        bad_type.originator.persons[0].names[0].name_identifier_type = "NICK"
        for field, payload in (
                ("counterparty_vasp_id", trade(world, "fr-bad", counterparty_vasp_id="x",
                                               at=at)),
                ("travel_rule.originator.persons[0].names[0].kind",
                 trade(world, "fr-nick", travel_rule=bad_type, **abroad))):
            with pytest.raises(grpc.RpcError) as malformed:
                ex.record_trade(payload)
            assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (malformed.value.details() or ""), field
    with world.client("regulator") as reg:
        stored = reg.history.GetAggregate(history_pb2.GetAggregateRequest(
            aggregate_id=done.receipt.aggregate_id), timeout=20).aggregate
    state = MessageToDict(stored.state)
    # The VASP's country, not the client's word; the IVMS101 data as sent.
    assert state["counterparty_country"] == "FR"
    assert state["counterparty_vasp_id"] == vasp_id
    assert state["travel_rule"]["originator"]["persons"][0]["customer_number"] == "C-1"


def participant_free() -> str:
    """Returns an id no aggregate has."""
    return "00000000-0000-4000-8000-00000000f00d"
