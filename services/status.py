"""Maps errors to gRPC status codes with google.rpc details (AIP-193).

* ``ledger.errors.InvalidRequest`` → INVALID_ARGUMENT with ``BadRequest`` naming the field;
* ``ledger.errors.NotFound`` → NOT_FOUND with ``ResourceInfo``;
* ``ledger.errors.RuleViolation`` → FAILED_PRECONDITION with ``ErrorInfo`` (reason = the
  rule, metadata = its figures) and ``PreconditionFailure``;
* :class:`ServiceError` → the code it names (PERMISSION_DENIED, UNAUTHENTICATED, ...).

A busy or unreachable store is UNAVAILABLE with ``RetryInfo`` (retrying is safe: writes
carry request ids). Anything else is a server bug and becomes INTERNAL with no detail of
the cause (it is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import grpc
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    InterfaceError,
    OperationalError,
)
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ledger import Contention, EnvelopeRefused, InvalidRequest, LedgerError, NotFound, RuleViolation

DOMAIN = "valedger.v1"
"""The ErrorInfo domain of every valedger error."""

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error the service layer answers with a given status code and details."""

    def __init__(self, code: grpc.StatusCode, message: str,
                 details: Sequence[Message] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = tuple(details)


def invalid_argument(field: str, reason: str) -> ServiceError:
    """Returns an INVALID_ARGUMENT error naming the offending field."""
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=reason)
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {reason}",
                        [error_details_pb2.BadRequest(field_violations=[violation])])


def permission_denied(reason: str, message: str,
                      metadata: Mapping[str, str] | None = None) -> ServiceError:
    """Returns a PERMISSION_DENIED error whose ErrorInfo reason is ``reason``."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata or {})
    return ServiceError(grpc.StatusCode.PERMISSION_DENIED, message, [info])


def unauthenticated(message: str) -> ServiceError:
    """Returns an UNAUTHENTICATED error."""
    info = error_details_pb2.ErrorInfo(reason="UNAUTHENTICATED", domain=DOMAIN)
    return ServiceError(grpc.StatusCode.UNAUTHENTICATED, message, [info])


def rule_violation_error(rule: str, message: str, figures: Mapping[str, str],
                         extra: Sequence[Message] = ()) -> ServiceError:
    """Returns a FAILED_PRECONDITION error carrying the rule and its figures."""
    info = error_details_pb2.ErrorInfo(reason=rule, domain=DOMAIN, metadata=dict(figures))
    failure = error_details_pb2.PreconditionFailure(violations=[
        error_details_pb2.PreconditionFailure.Violation(type=rule, subject=DOMAIN,
                                                        description=message)])
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, message, [info, failure, *extra])


def service_error(exc: BaseException) -> ServiceError:
    """Returns the ServiceError answering ``exc``."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, InvalidRequest):
        return invalid_argument(exc.field, exc.reason)
    if isinstance(exc, NotFound):
        info = error_details_pb2.ResourceInfo(resource_type=exc.kind, resource_name=exc.key,
                                              description=str(exc))
        return ServiceError(grpc.StatusCode.NOT_FOUND, str(exc), [info])
    if isinstance(exc, EnvelopeRefused):
        return permission_denied(exc.rule, exc.message, exc.figures)
    if isinstance(exc, RuleViolation):
        return rule_violation_error(exc.rule, exc.message, exc.figures)
    if isinstance(exc, Contention):
        return ServiceError(grpc.StatusCode.ABORTED, str(exc),
                            [error_details_pb2.RetryInfo(
                                retry_delay=duration_pb2.Duration(nanos=100_000_000))])
    if isinstance(exc, LedgerError):
        return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, (OperationalError, InterfaceError, ConnectionPoolClosedError)):
        # The store is busy, restarting or unreachable: transient, safe to retry (writes
        # carry request ids), and nothing the client did wrong.
        log.warning("store unavailable while serving a request: %s", type(exc).__name__)
        return ServiceError(grpc.StatusCode.UNAVAILABLE, "the store is unavailable; retry",
                            [error_details_pb2.RetryInfo(
                                retry_delay=duration_pb2.Duration(seconds=1))])
    log.exception("unexpected error while serving a request", exc_info=exc)
    return ServiceError(grpc.StatusCode.INTERNAL, "internal error")


def to_status(error: ServiceError) -> grpc.Status:
    """Returns the grpc.Status (with grpc-status-details-bin) of a ServiceError."""
    details = []
    for message in error.details:
        packed = any_pb2.Any()
        packed.Pack(message)
        details.append(packed)
    proto = status_pb2.Status(code=_code_number(error.code), message=error.message,
                              details=details)
    return rpc_status.to_status(proto)


def _code_number(code: grpc.StatusCode) -> int:
    number = code.value[0]
    assert code_pb2.Code.Name(number)  # every grpc code exists in google.rpc.Code
    return int(number)


async def abort(context: grpc.aio.ServicerContext[object, object], exc: BaseException) -> None:
    """Ends the call with the status answering ``exc`` (never returns)."""
    status = to_status(service_error(exc))
    await context.abort(status.code, status.details, status.trailing_metadata)
