"""Authorisation over real mTLS on loopback: every method × every role, ownership, identity."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import grpc
import pytest
from google.protobuf.message import Message

from services import wire
from services.auth import MATRIX, Scope, caller_from_pem
from services.ca import CertificateAuthority, Role
from services.client import LedgerClient
from services.envelope import Signer
from services.generated.valedger.v1 import (
    audit_pb2,
    common_pb2,
    compliance_pb2,
    history_pb2,
    licensing_pb2,
    mining_pb2,
    trading_pb2,
)
from services.server import SERVICE_NAMES
from services.status import ServiceError
from services.tls import TlsFiles
from tests.services.harness import VALID_FROM, VALID_UNTIL, World, reason, trade

WHO = {Role.REGULATOR: "regulator", Role.AUDITOR: "auditor", Role.GRID: "grid",
       Role.MINER: "miner_a", Role.EXCHANGE: "exchange_x"}
PERIOD = common_pb2.Period(start_time=wire.timestamp(datetime(2026, 5, 1, tzinfo=UTC)),
                           end_time=wire.timestamp(datetime(2026, 6, 1, tzinfo=UTC)))
UNKNOWN = str(uuid.UUID(int=7))


def own(world: World, who: str) -> str:
    """Returns the participant a caller acts for (miner_a for the non-owning roles)."""
    return world.ids[who] if who in ("miner_a", "exchange_x") else world.ids["miner_a"]


def own_licence(world: World, who: str) -> str:
    return world.ids["licence_exchange_x" if who == "exchange_x" else "licence_miner_a"]


Factory = Callable[[World, str], Message]

REQUESTS: dict[str, Factory] = {
    "LicensingService/RegisterParticipant": lambda w, who: licensing_pb2.RegisterParticipantRequest(
        request_id=f"matrix-reg-{who}", kind=common_pb2.PARTICIPANT_KIND_INDIVIDUAL,
        legal_name="New", tax_id=f"tax-new-{who}", country="KZ"),
    "LicensingService/ApproveParticipant": lambda w, who: licensing_pb2.ApproveParticipantRequest(
        request_id=f"matrix-approve-{who}", participant_id=w.ids["miner_b"]),
    # No such participant: the regulator is let through (NOT_FOUND), nobody is changed.
    "LicensingService/SuspendParticipant": lambda w, who: licensing_pb2.SuspendParticipantRequest(
        request_id=f"matrix-suspend-{who}", participant_id=str(UUID(int=99)), reason="x"),
    "LicensingService/ReinstateParticipant":
        lambda w, who: licensing_pb2.ReinstateParticipantRequest(
            request_id=f"matrix-reinstate-{who}", participant_id=str(UUID(int=99))),
    "LicensingService/DeregisterParticipant":
        lambda w, who: licensing_pb2.DeregisterParticipantRequest(
            request_id=f"matrix-deregister-{who}", participant_id=str(UUID(int=99)),
            reason="x"),
    "LicensingService/RegisterKey": lambda w, who: licensing_pb2.RegisterKeyRequest(
        request_id=f"matrix-key-{who}", participant_id=own(w, who), key_id=f"k-{who}",
        public_key=Signer.generate().public_key),
    "LicensingService/RevokeKey": lambda w, who: licensing_pb2.RevokeKeyRequest(
        request_id=f"matrix-revoke-{who}", participant_id=own(w, who), key_id="no-such-key"),
    "LicensingService/GetParticipant": lambda w, who: licensing_pb2.GetParticipantRequest(
        participant_id=own(w, who)),
    "LicensingService/GrantMiningLicence": lambda w, who: licensing_pb2.GrantMiningLicenceRequest(
        request_id=f"matrix-grant-{who}", participant_id=w.ids["miner_b"],
        site=licensing_pb2.Site(region="r", grid_zone="z", meter_id=f"matrix-m-{who}"),
        licensed_power_mw="1", declared_efficiency_j_per_th="20", coinbase_tags=[b"/tag-auth/"],
        valid_from=wire.timestamp(VALID_FROM), valid_until=wire.timestamp(VALID_UNTIL)),
    "LicensingService/AmendMiningCapacity": lambda w, who:
        licensing_pb2.AmendMiningCapacityRequest(
            request_id=f"matrix-amend-{who}", licence_id=w.ids["licence_miner_b"],
            licensed_power_mw="12"),
    "LicensingService/GrantExchangeLicence": lambda w, who:
        licensing_pb2.GrantExchangeLicenceRequest(
            request_id=f"matrix-grantx-{who}", participant_id=w.ids["exchange_y"],
            services=["spot"], valid_until=wire.timestamp(VALID_UNTIL)),
    "LicensingService/SuspendLicence": lambda w, who: licensing_pb2.SuspendLicenceRequest(
        request_id=f"matrix-suspend-{who}", licence_id=UNKNOWN, reason="test"),
    "LicensingService/ReinstateLicence": lambda w, who: licensing_pb2.ReinstateLicenceRequest(
        request_id=f"matrix-reinstate-{who}", licence_id=UNKNOWN),
    "LicensingService/RevokeLicence": lambda w, who: licensing_pb2.RevokeLicenceRequest(
        request_id=f"matrix-revoke-l-{who}", licence_id=UNKNOWN, reason="test"),
    "LicensingService/RenewLicence": lambda w, who: licensing_pb2.RenewLicenceRequest(
        request_id=f"matrix-renew-{who}", licence_id=UNKNOWN,
        valid_until=wire.timestamp(VALID_UNTIL)),
    "LicensingService/GetLicence": lambda w, who: licensing_pb2.GetLicenceRequest(
        licence_id=own_licence(w, who)),
    "LicensingService/ListLicences": lambda w, who: licensing_pb2.ListLicencesRequest(),
    "LicensingService/RegisterVasp": lambda w, who: licensing_pb2.RegisterVaspRequest(
        request_id=f"matrix-vasp-{who}", name="V", country="DE", foreign_registration="r"),
    "LicensingService/SuspendVasp": lambda w, who: licensing_pb2.SuspendVaspRequest(
        request_id=f"matrix-suspend-vasp-{who}", vasp_id=UNKNOWN, reason="x"),
    "LicensingService/ListVasps": lambda w, who: licensing_pb2.ListVaspsRequest(),
    "MiningService/SubmitProofBatch": lambda w, who: mining_pb2.SubmitProofBatchRequest(
        envelope=w.signers["miner_a"].seal(mining_pb2.ProofBatchPayload(
            request_id=f"matrix-proof-{who}", licence_id=w.ids["licence_miner_a"]))),
    "MiningService/ReportOutput": lambda w, who: mining_pb2.ReportOutputRequest(
        envelope=w.signers["miner_a"].seal(mining_pb2.OutputReportPayload(
            request_id=f"matrix-output-{who}", licence_id=w.ids["licence_miner_a"],
            period=PERIOD, asset="BTC", amount="1", sold_through_exchange_amount="1",
            at=wire.timestamp(datetime(2026, 6, 2, tzinfo=UTC))))),
    "MiningService/RecordMeterReading": lambda w, who: mining_pb2.RecordMeterReadingRequest(
        request_id=f"matrix-meter-{who}", meter_id="m-miner_a", period=PERIOD, kwh="100"),
    "MiningService/CloseReconciliation": lambda w, who: mining_pb2.CloseReconciliationRequest(
        request_id=f"matrix-close-{who}", licence_id=w.ids["licence_miner_a"], period=PERIOD),
    "MiningService/GetReconciliation": lambda w, who: mining_pb2.GetReconciliationRequest(
        licence_id=w.ids["licence_miner_a"], period=PERIOD),
    "MiningService/RegisterPool": lambda w, who: mining_pb2.RegisterPoolRequest(
        request_id=f"matrix-pool-{who}", name="Pool", country="KZ", payout_scheme="FPPS",
        fee="0.02"),
    "MiningService/ListPools": lambda w, who: mining_pb2.ListPoolsRequest(),
    "TradingService/RecordTrade": lambda w, who: trading_pb2.RecordTradeRequest(
        envelope=w.signers["exchange_x"].seal(trade(w, f"matrix-trade-{who}"))),
    "TradingService/RecordTrades": lambda w, who: trading_pb2.RecordTradesRequest(
        envelope=w.signers["exchange_x"].seal(trade(w, f"matrix-trades-{who}"))),
    "HistoryService/ListEvents": lambda w, who: history_pb2.ListEventsRequest(
        participant_id=own(w, who)),
    "HistoryService/StreamEvents": lambda w, who: history_pb2.StreamEventsRequest(),
    "HistoryService/GetAggregate": lambda w, who: history_pb2.GetAggregateRequest(
        aggregate_id=own(w, who)),
    "AuditService/GetCheckpoint": lambda w, who: audit_pb2.GetCheckpointRequest(),
    "AuditService/GetInclusionProof": lambda w, who: audit_pb2.GetInclusionProofRequest(
        leaf_index=0),
    "AuditService/GetConsistencyProof": lambda w, who: audit_pb2.GetConsistencyProofRequest(
        first_tree_size=1),
    "AuditService/ExportLog": lambda w, who: audit_pb2.ExportLogRequest(),
    "ComplianceService/ListAlerts": lambda w, who: compliance_pb2.ListAlertsRequest(),
    "ComplianceService/ResolveAlert": lambda w, who: compliance_pb2.ResolveAlertRequest(
        request_id=f"matrix-resolve-{who}", alert_id=UNKNOWN, note="n"),
    "ComplianceService/AssignAlert": lambda w, who: compliance_pb2.AssignAlertRequest(
        request_id=f"matrix-assign-{who}", alert_id=UNKNOWN, assignee="a"),
    "ComplianceService/SetAlertSeverity": lambda w, who: compliance_pb2.SetAlertSeverityRequest(
        request_id=f"matrix-severity-{who}", alert_id=UNKNOWN,
        severity=compliance_pb2.ALERT_SEVERITY_LOW, note="n"),
    "ComplianceService/EscalateAlert": lambda w, who: compliance_pb2.EscalateAlertRequest(
        request_id=f"matrix-escalate-{who}", alert_id=UNKNOWN, to="FIU", note="n"),
    "ComplianceService/ReopenAlert": lambda w, who: compliance_pb2.ReopenAlertRequest(
        request_id=f"matrix-reopen-{who}", alert_id=UNKNOWN, note="n"),
    "ComplianceService/ExportSuspiciousTransactionReport":
        lambda w, who: compliance_pb2.ExportSuspiciousTransactionReportRequest(
            alert_ids=[UNKNOWN]),
    "ComplianceService/ImportScreeningList":
        lambda w, who: compliance_pb2.ImportScreeningListRequest(
            request_id=f"matrix-list-{who}", content=b"{}"),
    "ComplianceService/SetPolicy": lambda w, who: compliance_pb2.SetPolicyRequest(
        request_id=f"matrix-policy-{who}", parameter="travel_rule_threshold_usd",
        value="1000"),
    "ComplianceService/GetPolicy": lambda w, who: compliance_pb2.GetPolicyRequest(
        parameter="travel_rule_threshold_usd"),
}

CLIENT_STREAMING = {"TradingService/RecordTrades"}
SERVER_STREAMING = {"HistoryService/StreamEvents", "AuditService/ExportLog"}


def invoke(client: LedgerClient, method: str, request: Message) -> grpc.StatusCode:
    """Calls ``method`` with ``request`` over the client's channel; returns the status code
    (OK for a stream that produced a message or was still open at the deadline)."""
    path = f"/valedger.v1.{method}"
    serialize = type(request).SerializeToString

    def identity(data: bytes) -> bytes:
        return data

    try:
        if method in CLIENT_STREAMING:
            client.channel.stream_unary(path, serialize, identity)(iter([request]), timeout=20)
        elif method in SERVER_STREAMING:
            stream = client.channel.unary_stream(path, serialize, identity)(request, timeout=3)
            next(iter(stream), None)
            stream.cancel()
        else:
            client.channel.unary_unary(path, serialize, identity)(request, timeout=20)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        if code is grpc.StatusCode.PERMISSION_DENIED:
            assert reason(error) in ("ROLE_NOT_ALLOWED", "NOT_OWNER"), error
        return code
    return grpc.StatusCode.OK


def test_matrix_covers_every_method_of_every_service() -> None:
    from services.generated.valedger.v1 import (
        audit_pb2,
        compliance_pb2,
        history_pb2,
        licensing_pb2,
        mining_pb2,
        trading_pb2,
    )

    methods = set()
    for module in (licensing_pb2, mining_pb2, trading_pb2, history_pb2, audit_pb2,
                   compliance_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            assert service.full_name in SERVICE_NAMES
            methods |= {f"/{service.full_name}/{m.name}" for m in service.methods}
    assert set(MATRIX) == methods
    assert {f"/valedger.v1.{m}" for m in REQUESTS} == methods


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("method", sorted(REQUESTS))
def test_every_method_for_every_role(world: World, method: str, role: Role) -> None:
    who = WHO[role]
    allowed = role in MATRIX[f"/valedger.v1.{method}"]
    with world.client(who) as client:
        code = invoke(client, method, REQUESTS[method](world, who))
    if allowed:
        assert code not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
                            grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), code
    else:
        assert code is grpc.StatusCode.PERMISSION_DENIED


def test_denied_write_records_nothing(world: World) -> None:
    with world.client("regulator") as reg:
        before = [e.position for e in reg.list_events()]
    with world.client("auditor") as auditor, pytest.raises(grpc.RpcError) as caught:
        auditor.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
            request_id="auditor-writes", kind=common_pb2.PARTICIPANT_KIND_INDIVIDUAL,
            legal_name="X", tax_id="x", country="KZ"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with world.client("regulator") as reg:
        assert [e.position for e in reg.list_events()] == before


OWNED = [
    ("LicensingService/GetLicence", lambda w: licensing_pb2.GetLicenceRequest(
        licence_id=w.ids["licence_miner_b"])),
    ("LicensingService/GetParticipant", lambda w: licensing_pb2.GetParticipantRequest(
        participant_id=w.ids["miner_b"])),
    ("LicensingService/ListLicences", lambda w: licensing_pb2.ListLicencesRequest(
        participant_id=w.ids["miner_b"])),
    ("LicensingService/RegisterKey", lambda w: licensing_pb2.RegisterKeyRequest(
        request_id="steal-key", participant_id=w.ids["miner_b"], key_id="mine",
        public_key=Signer.generate().public_key)),
    ("HistoryService/ListEvents", lambda w: history_pb2.ListEventsRequest(
        participant_id=w.ids["miner_b"])),
    ("HistoryService/ListEvents", lambda w: history_pb2.ListEventsRequest(
        participant_id=w.ids["miner_a"], licence_id=w.ids["licence_miner_b"])),
    ("HistoryService/GetAggregate", lambda w: history_pb2.GetAggregateRequest(
        aggregate_id=w.ids["licence_miner_b"])),
    ("MiningService/GetReconciliation", lambda w: mining_pb2.GetReconciliationRequest(
        licence_id=w.ids["licence_miner_b"], period=PERIOD)),
]


@pytest.mark.parametrize(("method", "factory"), OWNED, ids=[m for m, _ in OWNED])
def test_miner_cannot_reach_another_participants_records(world: World, method: str,
                                                         factory: Any) -> None:
    with world.client("miner_a") as miner:
        assert invoke(miner, method, factory(world)) is grpc.StatusCode.PERMISSION_DENIED


def test_scopes_in_the_matrix_are_written_for_every_role() -> None:
    for rules in MATRIX.values():
        assert all(isinstance(r, Role) and isinstance(s, Scope) for r, s in rules.items())
    assert MATRIX["/valedger.v1.TradingService/RecordTrade"] == {Role.EXCHANGE: Scope.OWN}


def test_certificate_from_another_ca_cannot_connect(world: World, tmp_path: Any) -> None:
    rogue = CertificateAuthority.init(tmp_path / "rogue")
    issued = rogue.issue("regulator", "regulator")
    files = TlsFiles(world.ca.cert_path, issued.cert, issued.key)
    with LedgerClient.connect(world.target, files, timeout=5) as client, \
            pytest.raises(grpc.RpcError) as caught:
        client.check_health()
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


def test_server_certificate_is_not_a_client_identity(world: World) -> None:
    issued = world.ca.issue("server", "impostor")
    # TLS refuses it (serverAuth-only key usage) before any method is reached ...
    with LedgerClient.connect(world.target, TlsFiles.issued(issued), timeout=5) as client, \
            pytest.raises(grpc.RpcError) as caught:
        client.licensing.ListLicences(licensing_pb2.ListLicencesRequest(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    # ... and its subject names no client role anyway.
    with pytest.raises(ServiceError) as refused:
        caller_from_pem(issued.cert.read_bytes())
    assert refused.value.code is grpc.StatusCode.UNAUTHENTICATED


def test_certificate_subject_names_role_and_participant(world: World) -> None:
    files = world.cert("miner_a")
    caller = caller_from_pem(files.cert.read_bytes())
    assert caller.role is Role.MINER
    assert caller.participant == world.ids["miner_a"]
    assert caller.name == "miner_a"
