"""Whose request is it, and what did it ask: the identity of a write (DESIGN §3 "Trust").

A request id belongs to its caller: the idempotency key is (requester, request id),
where the requester is the calling participant, the regulator or the grid operator, as
the services layer authenticated it (or as the ledger derives it from the licence a
signed envelope acts for). The digest of what the request asked tells a retry (same
digest: the first result) from a reused id (another digest: REQUEST_ID_REUSED).

Relied on by every use case; the stored events carry both (``requester``,
``request_digest``), so an auditor can see which request made each one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

from ledger.errors import InvalidRequest

REGULATOR = "regulator"
"""The requester of regulator decisions: one scope shared by every regulator identity."""

GRID = "grid"
"""The requester of meter readings (the grid operator)."""


def participant_requester(participant_id: UUID) -> str:
    """Returns the requester name of a participant acting for itself."""
    return f"participant:{participant_id}"


def check_requester(requester: str) -> str:
    """Returns ``requester`` when it is one the ledger knows how to scope ids by."""
    if requester in (REGULATOR, GRID):
        return requester
    if isinstance(requester, str) and requester.startswith("participant:"):
        try:
            UUID(requester.removeprefix("participant:"))
        except ValueError:
            pass
        else:
            return requester
    raise InvalidRequest("requester", "must be the regulator, the grid operator or "
                                      "participant:<uuid>")


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value.is_finite() else str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def digest_of(command: str, fields: Mapping[str, object]) -> str:
    """Returns the hex SHA-256 of a command and its (already checked) fields, in a
    canonical JSON form: equal requests give equal digests whatever their field order or
    the spelling of their numbers."""
    canonical = json.dumps({"command": command, "fields": _plain(fields)}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
