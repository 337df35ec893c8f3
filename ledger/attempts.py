"""Refused attempts stay on the record (DESIGN §3): the one way a refused output report
or meter reading leaves its trace.

A refusal of an authenticated request (the licence not active, a key unknown or revoked,
a signature that does not verify, a time outside its window, figures that break a rule)
is raised to the caller *and* recorded as an ``Alert`` whose kind is the refusal's rule
(``INVALID_ARGUMENT`` for bad figures) and whose figures keep what was sent, so nothing a
user sent disappears silently. The alert id is derived from (requester, request id,
kind, subject): a retry refused the same way records nothing new. Relied on by
``ledger.reports`` and ``ledger.metering``; proof batches keep their refusals the same
way in ``ledger.proofs``. A request id reused for another payload (REQUEST_ID_REUSED) is
kept by :func:`keep_reused_request`, which every use case reaches through
``UseCase.run`` (trades through ``Trading.record_trades``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from ledger.domain.alert import Alert
from ledger.domain.base import Stamp, stamped
from ledger.domain.envelope import Envelope
from ledger.errors import InvalidRequest, RequestIdReused, RuleViolation
from ledger.store import LedgerStore

MAX_SENT_TEXT = 2000
"""Longest text kept of one field a refused request sent (longer is cut, and says so)."""
MAX_SENT_PAYLOAD = 1 << 18
"""Longest hex kept of a refused envelope's payload (128 KiB of payload: every output
report fits whole)."""


def sent_text(value: object, limit: int = MAX_SENT_TEXT) -> str:
    """Returns ``value`` as printable text of bounded length, as a refusal keeps it."""
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        text = ", ".join(sent_text(v) for v in value)
    elif isinstance(value, bytes):
        text = value.hex()
    else:
        text = str(value)
    text = "".join(c if c.isprintable() else "\ufffd" for c in text)
    if len(text) > limit:
        return text[:limit] + f"… ({len(text)} characters)"
    return text


def envelope_figures(envelope: Envelope | None) -> dict[str, str]:
    """Returns the figures that keep a refused signed envelope: its key id, payload type,
    payload and signature (hex)."""
    if envelope is None:
        return {}
    return {"envelope.key_id": sent_text(envelope.key_id),
            "envelope.payload_type": sent_text(envelope.payload_type),
            "envelope.payload": sent_text(envelope.payload, MAX_SENT_PAYLOAD),
            "envelope.signature": sent_text(envelope.signature)}


def refusal_kind(refusal: RuleViolation | InvalidRequest) -> str:
    """Returns the alert kind of a refusal: its rule, or INVALID_ARGUMENT."""
    return refusal.rule if isinstance(refusal, RuleViolation) else "INVALID_ARGUMENT"


def keep_refusal(store: LedgerStore, requester: str, request_id: str, at: datetime,
                 what: str, subject_id: UUID, participant_id: UUID | None,
                 refusal: RuleViolation | InvalidRequest, sent: Mapping[str, object],
                 envelope: Envelope | None = None, alert_request_id: str | None = None
                 ) -> UUID:
    """Records (once per requester, request id, kind and subject) the alert that keeps a
    refused ``what`` with everything it sent; returns the alert's id. ``alert_request_id``
    (default: the request id) is what the alert is raised under, when one request id can
    be refused more than once. Must run inside a stamped command (``UseCase.run``)."""
    kind = refusal_kind(refusal)
    raised_under = alert_request_id or request_id
    alert_id = Alert.create_id(requester, raised_under, kind, subject_id)
    if store.find(alert_id) is not None:
        return alert_id
    if isinstance(refusal, RuleViolation):
        reason = refusal.message
        figures = {f"refusal.{k}": sent_text(v) for k, v in refusal.figures.items()}
    else:
        reason = f"{refusal.field}: {refusal.reason}"
        figures = {"refusal.field": sent_text(refusal.field)}
    figures |= {f"sent.{k}": sent_text(v) for k, v in sent.items()}
    figures |= {"sent.request_id": sent_text(request_id), "requester": requester}
    figures |= envelope_figures(envelope)
    store.save(Alert(request_id=raised_under, at=at, kind=kind, subject_id=subject_id,
                     participant_id=participant_id,
                     message=f"{what} refused ({kind}): {sent_text(reason)}",
                     evidence=[], figures=figures))
    return alert_id


def keep_reused_request(store: LedgerStore, reuse: RequestIdReused, at: datetime) -> None:
    """Records the alert that keeps a request refused for reusing its request id with
    another payload: who sent it, the request id, the refused payload's digest and what
    the first request made. Once per (requester, request id, refused digest): a retry of
    the same refused request records nothing new, each other payload is kept. Runs in its
    own transaction, after the refused one; a writer keeping the same refusal at the same
    time wins and this one records nothing."""
    if not reuse.requester or reuse.subject_id is None:
        return  # raised outside a use case (no requester to keep it for)
    stamp = Stamp(reuse.requester, reuse.digest, at)
    with stamped(stamp), contextlib.suppress(RecordConflictError):
        keep_refusal(store, reuse.requester, reuse.request_id, at, "request",
                     reuse.subject_id, None, reuse, {"digest": reuse.digest},
                     alert_request_id=f"{reuse.request_id}/reused/{reuse.digest[:32]}")
