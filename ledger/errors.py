"""Typed domain errors: each names the rule it enforces and the numbers involved."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from uuid import UUID


class LedgerError(Exception):
    """Base class of every error the ledger raises on purpose."""


class InvalidRequest(LedgerError):
    """A malformed request: nothing is recorded (gRPC INVALID_ARGUMENT)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(LedgerError):
    """A request names something the ledger does not hold (gRPC NOT_FOUND)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = str(key)


class CheckpointNotSigned(NotFound):
    """No signed checkpoint covers a recorded leaf yet, and no signing key was given to
    sign one now (gRPC NOT_FOUND). ``valedger audit prove`` relies on it to say how to get
    one (give --key, or wait for the server's next checkpoint)."""

    def __init__(self, leaf_index: int) -> None:
        super().__init__("signed checkpoint covering leaf", leaf_index)
        self.leaf_index = leaf_index


class RuleViolation(LedgerError):
    """A well-formed request that breaks a business rule (gRPC FAILED_PRECONDITION).

    ``rule`` is an UPPER_SNAKE name, ``figures`` the numbers that broke it, as strings.
    """

    def __init__(self, rule: str, message: str, figures: Mapping[str, object] | None = None):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.figures: dict[str, str] = {k: str(v) for k, v in (figures or {}).items()}


class EnvelopeRefused(RuleViolation):
    """A signed envelope that does not verify (gRPC PERMISSION_DENIED, with the rule as
    the reason): KEY_UNKNOWN, KEY_REVOKED (not valid at the client's time or at the
    server's) or SIGNATURE_INVALID. Nothing is recorded from it."""


class RequestIdReused(RuleViolation):
    """A request id its caller already used for a different payload (gRPC
    FAILED_PRECONDITION, rule REQUEST_ID_REUSED): refused, never replayed.

    Only the caller's own ids can collide (ids are scoped to the requester), so the
    message quotes nothing of anyone else's request. ``requester``, ``digest`` (of the
    refused request) and ``subject_id`` (what the first request made or changed) let the
    refusal be kept on the record (``ledger.attempts.keep_reused_request``); they are not
    shown to the caller.
    """

    def __init__(self, request_id: str, requester: str = "", digest: str = "",
                 subject_id: UUID | None = None) -> None:
        super().__init__("REQUEST_ID_REUSED",
                         f"request id {request_id!r} was already used for a different "
                         "request; use a new request id for a new request",
                         {"request_id": request_id})
        self.request_id = request_id
        self.requester = requester
        self.digest = digest
        self.subject_id = subject_id


class Contention(LedgerError):
    """Concurrent writers kept changing what a command reads, past every retry (gRPC
    ABORTED: nothing was recorded, retry with the same request id)."""


def amount(value: Decimal | int) -> str:
    """Returns an amount with thousands separators and no exponent, e.g. ``48,200.5``."""
    text = f"{Decimal(value):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class StoreError(LedgerError):
    """The configured store cannot be used as it is (gRPC UNAVAILABLE)."""


class StoreUnavailable(StoreError):
    """The store cannot be queried: it is unreachable, or has no ledger tables yet."""


class StoreKeyError(StoreError):
    """Stored event state cannot be read with the configured cipher key (or lack of one)."""
