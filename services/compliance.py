"""ComplianceService: alerts worked as cases, screening lists, suspicious-transaction
reports and policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import grpc

from ledger import POLICY_ID, Alert, AlertState, Policy, Severity
from services import wire
from services.auth import current_grant
from services.generated.valedger.v1 import compliance_pb2, compliance_pb2_grpc
from services.ledger_pool import LedgerPool
from services.licensing import receipt
from services.status import invalid_argument

_STATES = {
    AlertState.OPEN: compliance_pb2.ALERT_STATE_OPEN,
    AlertState.ESCALATED: compliance_pb2.ALERT_STATE_ESCALATED,
    AlertState.RESOLVED: compliance_pb2.ALERT_STATE_RESOLVED,
}
_SEVERITIES = {
    Severity.LOW: compliance_pb2.ALERT_SEVERITY_LOW,
    Severity.MEDIUM: compliance_pb2.ALERT_SEVERITY_MEDIUM,
    Severity.HIGH: compliance_pb2.ALERT_SEVERITY_HIGH,
    Severity.CRITICAL: compliance_pb2.ALERT_SEVERITY_CRITICAL,
}


def alert_message(alert: Alert) -> compliance_pb2.Alert:
    """Returns the wire form of an alert."""
    return compliance_pb2.Alert(
        alert_id=str(alert.id), kind=alert.kind, subject=str(alert.subject_id),
        evidence=alert.evidence, figures=alert.figures, state=_STATES[alert.state],
        raised_at=wire.timestamp(alert.raised_at), resolved_by=alert.resolved_by,
        resolution_note=alert.resolution_note, version=alert.version,
        participant_id=str(alert.participant_id or ""), message=alert.message,
        severity=_SEVERITIES[alert.severity], assignee=alert.assignee,
        escalated_to=alert.escalated_to, str_reference=alert.str_reference,
        history=[compliance_pb2.CaseStep(action=s.action, by=s.by,
                                         at=wire.timestamp(s.at), note=s.note)
                 for s in alert.history])


def severity_name(value: int) -> str:
    """Returns the ledger's name of a wire severity; INVALID_ARGUMENT when unset."""
    for severity, number in _SEVERITIES.items():
        if number == value:
            return severity.value
    raise invalid_argument("severity", "must be LOW, MEDIUM, HIGH or CRITICAL")


class ComplianceServicer(compliance_pb2_grpc.ComplianceServiceServicer):
    """Serves ComplianceService over the ledger."""

    def __init__(self, backend: LedgerPool) -> None:
        self.backend = backend
        self.ledger = backend.ledger

    async def ListAlerts(self, request: compliance_pb2.ListAlertsRequest,
                         context: Any) -> compliance_pb2.ListAlertsResponse:
        participant_id = wire.optional_uuid(request.participant_id, "participant_id")
        if request.subject:
            wire.uuid(request.subject, "subject")
        if request.assignee and request.unassigned:
            raise invalid_argument("unassigned", "give either assignee or unassigned")
        size = wire.page_size(request.page_size)
        filters = {"s": int(request.state), "k": request.kind, "j": request.subject,
                   "p": request.participant_id, "a": request.assignee,
                   "u": request.unassigned, "v": int(request.severity)}
        offset = 0
        if request.page_token:
            token = wire.decode_token(request.page_token)
            if token.get("f") != filters or not isinstance(token.get("o"), int):
                raise invalid_argument("page_token", "does not match this request's filters")
            offset = int(token["o"])
        states = {v: k for k, v in _STATES.items()}
        state = states.get(request.state)
        assignee = "" if request.unassigned else (request.assignee or None)
        alerts = await self.backend.run(self.ledger.list_alerts, False, participant_id,
                                        state, assignee)
        chosen = [a for a in alerts
                  if (not request.kind or a.kind == request.kind)
                  and (not request.subject or str(a.subject_id) == request.subject)
                  and (not request.severity
                       or _SEVERITIES[a.severity] == request.severity)]
        page = chosen[offset:offset + size]
        next_token = ""
        if offset + size < len(chosen):
            next_token = wire.encode_token({"f": filters, "o": offset + size})
        return compliance_pb2.ListAlertsResponse(alerts=[alert_message(a) for a in page],
                                                 next_page_token=next_token)

    async def AssignAlert(self, request: compliance_pb2.AssignAlertRequest,
                          context: Any) -> compliance_pb2.AssignAlertResponse:
        alert_id = wire.uuid(request.alert_id, "alert_id")
        result = await self.backend.run(self.ledger.assign_alert, request.request_id,
                                        alert_id, current_grant().caller.name,
                                        request.assignee, at=wire.time(request, "at"))
        return compliance_pb2.AssignAlertResponse(receipt=receipt(result))

    async def SetAlertSeverity(self, request: compliance_pb2.SetAlertSeverityRequest,
                               context: Any) -> compliance_pb2.SetAlertSeverityResponse:
        alert_id = wire.uuid(request.alert_id, "alert_id")
        result = await self.backend.run(self.ledger.set_alert_severity, request.request_id,
                                        alert_id, current_grant().caller.name,
                                        severity_name(request.severity), request.note,
                                        at=wire.time(request, "at"))
        return compliance_pb2.SetAlertSeverityResponse(receipt=receipt(result))

    async def EscalateAlert(self, request: compliance_pb2.EscalateAlertRequest,
                            context: Any) -> compliance_pb2.EscalateAlertResponse:
        alert_id = wire.uuid(request.alert_id, "alert_id")
        result = await self.backend.run(self.ledger.escalate_alert, request.request_id,
                                        alert_id, current_grant().caller.name, request.to,
                                        request.note, at=wire.time(request, "at"))
        return compliance_pb2.EscalateAlertResponse(receipt=receipt(result))

    async def ResolveAlert(self, request: compliance_pb2.ResolveAlertRequest,
                           context: Any) -> compliance_pb2.ResolveAlertResponse:
        alert_id = wire.uuid(request.alert_id, "alert_id")
        by = current_grant().caller.name
        result = await self.backend.run(self.ledger.resolve_alert, request.request_id,
                                        alert_id, by, request.note, at=wire.time(request, "at"),
                                        str_reference=request.str_reference)
        return compliance_pb2.ResolveAlertResponse(receipt=receipt(result))

    async def ReopenAlert(self, request: compliance_pb2.ReopenAlertRequest,
                          context: Any) -> compliance_pb2.ReopenAlertResponse:
        alert_id = wire.uuid(request.alert_id, "alert_id")
        result = await self.backend.run(self.ledger.reopen_alert, request.request_id,
                                        alert_id, current_grant().caller.name, request.note,
                                        at=wire.time(request, "at"))
        return compliance_pb2.ReopenAlertResponse(receipt=receipt(result))

    async def ExportSuspiciousTransactionReport(
            self, request: compliance_pb2.ExportSuspiciousTransactionReportRequest,
            context: Any) -> compliance_pb2.ExportSuspiciousTransactionReportResponse:
        alert_ids = [wire.uuid(a, "alert_ids") for a in request.alert_ids]
        document = await self.backend.run(self.ledger.suspicious_transaction_report,
                                          alert_ids, current_grant().caller.name)
        return compliance_pb2.ExportSuspiciousTransactionReportResponse(document=document)

    async def ImportScreeningList(self, request: compliance_pb2.ImportScreeningListRequest,
                                  context: Any) -> compliance_pb2.ImportScreeningListResponse:
        result = await self.backend.run(self.ledger.import_screening_list, request.request_id,
                                        bytes(request.content), at=wire.time(request, "at"))
        return compliance_pb2.ImportScreeningListResponse(receipt=receipt(result))

    async def SetPolicy(self, request: compliance_pb2.SetPolicyRequest,
                        context: Any) -> compliance_pb2.SetPolicyResponse:
        result = await self.backend.run(
            self.ledger.set_policy, request.request_id, request.parameter, request.value,
            effective_from=wire.time(request, "effective_from"), at=wire.time(request, "at"))
        return compliance_pb2.SetPolicyResponse(receipt=receipt(result))

    async def GetPolicy(self, request: compliance_pb2.GetPolicyRequest,
                        context: Any) -> compliance_pb2.GetPolicyResponse:
        at = wire.time(request, "at") or self.ledger.clock()

        def look_up() -> tuple[str, datetime | None]:
            value = self.ledger.get_policy(request.parameter, at)
            policy = cast(Policy | None, self.ledger.find(POLICY_ID))
            since = None
            for entry in (policy.history.get(request.parameter, []) if policy else []):
                if entry.effective_from <= at:
                    since = entry.effective_from
            return value, since

        value, since = await self.backend.run(look_up)
        return compliance_pb2.GetPolicyResponse(
            parameter=request.parameter, value=value, effective_from=wire.timestamp(since),
            is_default=since is None)


def add_to_server(backend: LedgerPool, server: grpc.aio.Server) -> None:
    """Registers the servicer on ``server``."""
    compliance_pb2_grpc.add_ComplianceServiceServicer_to_server(ComplianceServicer(backend),
                                                                server)
