"""A client of the C2SP tlog-witness ``add-checkpoint`` endpoint (standard library HTTP).

:func:`add_checkpoint` sends one request and returns the witness's cosignature lines, or
raises: :class:`WitnessConflict` (409, carrying the witness's size when it sent one),
:class:`WitnessRefused` (any other non-200 answer) or :class:`WitnessUnavailable` (no
answer: connection refused, timeout, TLS failure).
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from dataclasses import dataclass

from tlog.errors import TlogError
from tlog.keys import NoteError
from tlog.note import NoteSignature
from tlog.witness_protocol import (
    ADD_CHECKPOINT_PATH,
    MAX_REQUEST_BYTES,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    WitnessProtocolError,
    parse_size_body,
)

MAX_ANSWER_BYTES = 64 * 1024


class WitnessError(TlogError):
    """A witness that did not cosign."""


class WitnessUnavailable(WitnessError):
    """No answer from the witness (network, timeout, TLS)."""


@dataclass
class WitnessRefused(WitnessError):
    """The witness answered with an error status."""

    status: int
    message: str

    def __str__(self) -> str:
        return f"witness answered {self.status}: {self.message}"


@dataclass
class WitnessConflict(WitnessRefused):
    """409: the old size is not the witness's size (``size``), or the roots differ."""

    size: int | None = None


def add_checkpoint(
    url: str,
    request: AddCheckpoint,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> list[NoteSignature]:
    """Returns the signature lines the witness at submission prefix ``url`` answers for
    ``request`` (their signatures are not checked here: see tlog.cosignature)."""
    from tlog.cosignature import parse_signature_lines

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WitnessUnavailable(f"witness URL {url!r} is not http(s)://HOST[:PORT][/PREFIX]")
    body = request.to_bytes()
    if len(body) > MAX_REQUEST_BYTES:
        raise WitnessProtocolError("request body is too large")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=context or ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path.rstrip("/") + ADD_CHECKPOINT_PATH, body,
                     {"Content-Type": "text/plain; charset=utf-8"})
        answer = conn.getresponse()
        data = answer.read(MAX_ANSWER_BYTES + 1)
        status = answer.status
        content_type = answer.getheader("Content-Type", "")
    except (OSError, http.client.HTTPException) as e:
        raise WitnessUnavailable(f"witness {url} did not answer: {e}") from None
    finally:
        conn.close()
    if len(data) > MAX_ANSWER_BYTES:
        raise WitnessRefused(status, "answer is too large")
    text = data.decode("utf-8", "replace").strip()
    if status == 409:
        size = None
        if content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE:
            try:
                size = parse_size_body(data)
            except WitnessProtocolError:
                size = None
        raise WitnessConflict(status, text, size)
    if status != 200:
        raise WitnessRefused(status, text)
    try:
        return parse_signature_lines(data)
    except NoteError as e:
        raise WitnessRefused(status, f"answer is not signature lines: {e}") from None
