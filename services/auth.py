"""Who is calling, and may they call this method: identities and the authorisation matrix.

The peer's client certificate (verified against our CA by the TLS layer) names the caller:
``OU`` = role, ``CN`` = name, ``UID`` = participant. :data:`MATRIX` says, for every method
of every valedger.v1 service, which roles may call it and with which scope:

* ``ANY``: the role may call it about anything;
* ``OWN``: the role may call it only about its own participant and licences — the
  servicer enforces ownership with :func:`require_own_participant` and the licence checks
  of each service (a miner acts only for its own licences, an exchange only records its
  own trades).

A method not in the matrix is refused for everyone (deny by default). Health checks and
server reflection are open to every authenticated peer.

Under ``--insecure`` (local development only) there is no certificate; the caller is then
read from the ``x-valedger-role`` / ``x-valedger-participant`` / ``x-valedger-name``
metadata, which is exactly as trustworthy as it sounds.
"""

from __future__ import annotations

import contextvars
import enum
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from ledger import GRID, REGULATOR, participant_requester
from services.ca import Role
from services.status import (
    ServiceError,
    abort,
    invalid_argument,
    permission_denied,
    unauthenticated,
)


class Scope(enum.Enum):
    """How far a role's permission on a method reaches."""

    ANY = "any"
    OWN = "own"


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: role, certificate name and the participant it acts for."""

    role: Role
    name: str
    participant: str


@dataclass(frozen=True)
class Grant:
    """A caller allowed to call one method, with the scope of that permission."""

    caller: Caller
    scope: Scope
    method: str


R, M, E, G, A = Role.REGULATOR, Role.MINER, Role.EXCHANGE, Role.GRID, Role.AUDITOR
ANY, OWN = Scope.ANY, Scope.OWN
_EVERYONE = {R: ANY, M: ANY, E: ANY, G: ANY, A: ANY}

MATRIX: Mapping[str, Mapping[Role, Scope]] = {
    # LicensingService: the regulator decides; participants manage their own keys.
    "/valedger.v1.LicensingService/RegisterParticipant": {R: ANY},
    "/valedger.v1.LicensingService/ApproveParticipant": {R: ANY},
    "/valedger.v1.LicensingService/SuspendParticipant": {R: ANY},
    "/valedger.v1.LicensingService/ReinstateParticipant": {R: ANY},
    "/valedger.v1.LicensingService/DeregisterParticipant": {R: ANY},
    "/valedger.v1.LicensingService/RegisterKey": {R: ANY, M: OWN, E: OWN},
    "/valedger.v1.LicensingService/RevokeKey": {R: ANY, M: OWN, E: OWN},
    "/valedger.v1.LicensingService/GetParticipant": {R: ANY, A: ANY, M: OWN, E: OWN},
    "/valedger.v1.LicensingService/GrantMiningLicence": {R: ANY},
    "/valedger.v1.LicensingService/AmendMiningCapacity": {R: ANY},
    "/valedger.v1.LicensingService/GrantExchangeLicence": {R: ANY},
    "/valedger.v1.LicensingService/SuspendLicence": {R: ANY},
    "/valedger.v1.LicensingService/ReinstateLicence": {R: ANY},
    "/valedger.v1.LicensingService/RevokeLicence": {R: ANY},
    "/valedger.v1.LicensingService/RenewLicence": {R: ANY},
    "/valedger.v1.LicensingService/GetLicence": {R: ANY, A: ANY, G: ANY, M: OWN, E: OWN},
    "/valedger.v1.LicensingService/ListLicences": {R: ANY, A: ANY, G: ANY, M: OWN, E: OWN},
    "/valedger.v1.LicensingService/RegisterVasp": {R: ANY},
    "/valedger.v1.LicensingService/SuspendVasp": {R: ANY},
    # The VASP registry is public to the market: exchanges name VASPs by id in trades.
    "/valedger.v1.LicensingService/ListVasps": _EVERYONE,
    # MiningService: miners prove and report for their own licences; the grid meters.
    "/valedger.v1.MiningService/SubmitProofBatch": {M: OWN},
    "/valedger.v1.MiningService/ReportOutput": {M: OWN},
    "/valedger.v1.MiningService/RecordMeterReading": {G: ANY},
    "/valedger.v1.MiningService/CloseReconciliation": {R: ANY},
    "/valedger.v1.MiningService/GetReconciliation": {R: ANY, A: ANY, M: OWN},
    "/valedger.v1.MiningService/RegisterPool": {R: ANY},
    "/valedger.v1.MiningService/ListPools": _EVERYONE,
    # TradingService: exchanges record their own trades.
    "/valedger.v1.TradingService/RecordTrade": {E: OWN},
    "/valedger.v1.TradingService/RecordTrades": {E: OWN},
    # HistoryService: regulator and auditor read all; participants their own.
    "/valedger.v1.HistoryService/ListEvents": {R: ANY, A: ANY, M: OWN, E: OWN},
    "/valedger.v1.HistoryService/StreamEvents": {R: ANY, A: ANY},
    "/valedger.v1.HistoryService/GetAggregate": {R: ANY, A: ANY, M: OWN, E: OWN},
    # AuditService: checkpoints and proofs reveal only hashes; the export is everything.
    "/valedger.v1.AuditService/GetCheckpoint": _EVERYONE,
    "/valedger.v1.AuditService/GetInclusionProof": _EVERYONE,
    "/valedger.v1.AuditService/GetConsistencyProof": _EVERYONE,
    "/valedger.v1.AuditService/ExportLog": {R: ANY, A: ANY},
    # ComplianceService: the regulator acts; policy is public.
    "/valedger.v1.ComplianceService/ListAlerts": {R: ANY, A: ANY},
    "/valedger.v1.ComplianceService/AssignAlert": {R: ANY},
    "/valedger.v1.ComplianceService/SetAlertSeverity": {R: ANY},
    "/valedger.v1.ComplianceService/EscalateAlert": {R: ANY},
    "/valedger.v1.ComplianceService/ResolveAlert": {R: ANY},
    "/valedger.v1.ComplianceService/ReopenAlert": {R: ANY},
    "/valedger.v1.ComplianceService/ExportSuspiciousTransactionReport": {R: ANY},
    "/valedger.v1.ComplianceService/ImportScreeningList": {R: ANY},
    "/valedger.v1.ComplianceService/SetPolicy": {R: ANY},
    "/valedger.v1.ComplianceService/GetPolicy": _EVERYONE,
}

OPEN_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
)
"""Methods every authenticated peer may call."""

INSECURE_ROLE_HEADER = "x-valedger-role"
INSECURE_PARTICIPANT_HEADER = "x-valedger-participant"
INSECURE_NAME_HEADER = "x-valedger-name"

_grant: contextvars.ContextVar[Grant] = contextvars.ContextVar("valedger_grant")


def current_grant() -> Grant:
    """Returns the grant of the call being served (set by :class:`AuthInterceptor`)."""
    try:
        return _grant.get()
    except LookupError:
        raise ServiceError(grpc.StatusCode.INTERNAL, "no caller identity") from None


def current_requester() -> str:
    """Returns whose request ids the call being served uses, as the ledger names it: the
    regulator, the grid operator, or the participant the caller's certificate names."""
    caller = current_grant().caller
    if caller.role is Role.REGULATOR:
        return REGULATOR
    if caller.role is Role.GRID:
        return GRID
    try:
        return participant_requester(UUID(caller.participant))
    except ValueError:
        raise permission_denied("NO_PARTICIPANT",
                                "the caller's certificate names no participant") from None


def require_own_participant(participant_id: str, what: str = "participant") -> None:
    """Raises PERMISSION_DENIED unless the caller may act for ``participant_id``."""
    grant = current_grant()
    if grant.scope is Scope.ANY:
        return
    if participant_id != grant.caller.participant:
        raise permission_denied(
            "NOT_OWNER",
            f"{grant.caller.role.value} {grant.caller.name!r} may act only for its own "
            f"{what}", {"caller_participant": grant.caller.participant})


@functools.lru_cache(maxsize=4096)
def caller_from_pem(pem: bytes) -> Caller:
    """Returns the caller a client certificate names, or raises UNAUTHENTICATED."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise unauthenticated("unreadable client certificate") from None
    subject = cert.subject

    def one(oid: x509.ObjectIdentifier) -> str:
        values = subject.get_attributes_for_oid(oid)
        if len(values) != 1:
            raise unauthenticated(f"client certificate must carry exactly one {oid._name}")
        value = values[0].value
        return value if isinstance(value, str) else value.decode()

    role_name = one(NameOID.ORGANIZATIONAL_UNIT_NAME)
    try:
        role = Role(role_name)
    except ValueError:
        raise unauthenticated(f"certificate role {role_name!r} is not a client role") from None
    return Caller(role, one(NameOID.COMMON_NAME), one(NameOID.USER_ID))


def caller_from_context(context: grpc.aio.ServicerContext[Any, Any], insecure: bool,
                        pems: list[bytes] | None = None) -> Caller:
    """Returns the caller of a call: from its TLS peer certificate (``pems``, when the
    caller has read them from the auth context already), or in insecure mode from
    metadata."""
    if pems is None:
        pems = peer_certificates(context)
    if pems:
        return caller_from_pem(pems[0])
    if not insecure:
        raise unauthenticated("a client certificate is required")
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    try:
        role = Role(metadata.get(INSECURE_ROLE_HEADER, ""))
    except ValueError:
        raise unauthenticated(
            f"insecure mode: set {INSECURE_ROLE_HEADER} to one of "
            f"{', '.join(r.value for r in Role)}") from None
    name = metadata.get(INSECURE_NAME_HEADER, role.value)
    return Caller(role, name, metadata.get(INSECURE_PARTICIPANT_HEADER, name))


def peer_certificates(context: grpc.aio.ServicerContext[Any, Any]) -> list[bytes]:
    """Returns the PEM certificates the call's TLS peer presented (none when insecure)."""
    return list(context.auth_context().get("x509_pem_cert") or ())


def authorise(method: str, caller: Caller,
              matrix: Mapping[str, Mapping[Role, Scope]] = MATRIX) -> Grant:
    """Returns the caller's grant for ``method``, or raises PERMISSION_DENIED."""
    scope = matrix.get(method, {}).get(caller.role)
    if scope is None:
        raise permission_denied(
            "ROLE_NOT_ALLOWED", f"role {caller.role.value} may not call {method}",
            {"role": caller.role.value, "method": method})
    return Grant(caller, scope, method)


Behaviour = Callable[..., Any]


class Malformed:
    """Stands for a request message that could not be decoded."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _safe(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """Returns a deserializer that yields :class:`Malformed` instead of raising, so an
    undecodable message is answered INVALID_ARGUMENT rather than INTERNAL."""
    if deserializer is None:
        return None
    decode = deserializer

    def safe(data: bytes) -> Any:
        try:
            return decode(data)
        except Exception as exc:
            return Malformed(exc)

    return safe


def _check(request: Any) -> Any:
    if isinstance(request, Malformed):
        raise invalid_argument("request", "not a valid protobuf message of this method")
    return request


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        yield _check(request)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates and authorises every call, then runs it with its grant in context.

    It also turns exceptions escaping a servicer into statuses (see services.status), so
    no handler has to.
    """

    def __init__(self, insecure: bool = False,
                 matrix: Mapping[str, Mapping[Role, Scope]] = MATRIX,
                 revoked: Callable[[bytes], None] | None = None) -> None:
        self.insecure = insecure
        self.matrix = matrix
        self.revoked = revoked
        """Raises UNAUTHENTICATED for a revoked PEM client certificate (see
        services.revocation)."""
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        """Per method: the handler and its wrapped form, built once, not once a call."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _enter(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        pems = peer_certificates(context)
        if self.revoked is not None and pems:
            self.revoked(pems[0])
        caller = caller_from_context(context, self.insecure, pems)
        _grant.set(authorise(method, caller, self.matrix))

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        enter = self._enter
        if handler.unary_unary is not None:
            inner_uu: Behaviour = handler.unary_unary

            async def unary_unary(request: Any, context: Any) -> Any:
                try:
                    enter(method, context)
                    return await inner_uu(_check(request), context)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await abort(context, exc)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, _safe(handler.request_deserializer), handler.response_serializer)
        if handler.unary_stream is not None:
            inner_us: Behaviour = handler.unary_stream

            async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                try:
                    enter(method, context)
                    async for item in inner_us(_check(request), context):
                        yield item
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await abort(context, exc)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, _safe(handler.request_deserializer), handler.response_serializer)
        if handler.stream_unary is not None:
            inner_su: Behaviour = handler.stream_unary

            async def stream_unary(requests: Any, context: Any) -> Any:
                try:
                    enter(method, context)
                    return await inner_su(_checked(requests), context)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await abort(context, exc)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, _safe(handler.request_deserializer), handler.response_serializer)
        assert handler.stream_stream is not None
        inner_ss: Behaviour = handler.stream_stream

        async def stream_stream(requests: Any, context: Any) -> AsyncIterator[Any]:
            try:
                enter(method, context)
                async for item in inner_ss(_checked(requests), context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort(context, exc)

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, _safe(handler.request_deserializer), handler.response_serializer)
