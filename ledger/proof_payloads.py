"""Which proof batch a signed envelope carries: the one owner of reading batches out of
envelopes, at submission (``ledger.proofs``) and when a stored batch is read again
(``ledger.proof_figures.stored_batch``, hence reconciliations and the audit replay).

Three payload types carry a batch:

* ``JSON_BATCH_PAYLOAD_TYPE``: the payload is the JSON batch of DESIGN.md §4;
* ``PACKED_BATCH_PAYLOAD_TYPE``: the payload is the packed batch itself
  (docs/PACKED-BATCH.md);
* ``PROTO_BATCH_PAYLOAD_TYPE``: the payload is a serialized ``valedger.v1.ProofBatchPayload``
  whose ``packed_batch`` field (number 6) holds the packed batch. The ledger reads that one
  field with a few lines of protobuf wire format (generated code belongs to services), so
  the batch verified and stored is exactly the one the signature covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.domain.envelope import Envelope
from ledger.domain.proof_batch import JSON_BATCH_PAYLOAD_TYPE, ProofBatch
from ledger.errors import InvalidRequest
from verifier.batch import MalformedBatch, ShareBatch, parse_batch
from verifier.wire_format import FIELD, decode_packed, encode_packed

PACKED_BATCH_PAYLOAD_TYPE = "application/vnd.valedger.proof-batch+packed"
"""Payload type of an envelope whose payload is a packed batch."""
PROTO_BATCH_PAYLOAD_TYPE = "valedger.v1.ProofBatchPayload"
"""Payload type of the protobuf payload SubmitProofBatch carries (its full name)."""
PACKED_FIELD_NUMBER = 6
"""Field number of ``packed_batch`` in ``valedger.v1.ProofBatchPayload``."""
MESSAGE_FIELD_NUMBERS = (4, 5)
"""Field numbers of ``jobs`` and ``shares``: the batch as messages, not packed."""
BATCH_PAYLOAD_TYPES = (JSON_BATCH_PAYLOAD_TYPE, PACKED_BATCH_PAYLOAD_TYPE,
                       PROTO_BATCH_PAYLOAD_TYPE)


class ProtobufFormatError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """Returns (value, next position) of the varint at ``at``."""
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ProtobufFormatError("truncated or overlong varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def length_delimited_fields(payload: bytes) -> dict[int, bytes]:
    """Returns, per field number, the last length-delimited value of a protobuf message's
    top-level fields (last one wins, as protobuf parsers do); other wire types are
    skipped. Raises ProtobufFormatError for malformed bytes. Linear in the payload."""
    found: dict[int, bytes] = {}
    at, end = 0, len(payload)
    while at < end:
        key, at = _varint(payload, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(payload, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            length, at = _varint(payload, at)
            if at + length > end:
                raise ProtobufFormatError("a field runs past the end of the message")
            found[number] = payload[at : at + length]
            at += length
        else:
            raise ProtobufFormatError(f"unsupported wire type {wire}")
        if at > end:
            raise ProtobufFormatError("a field runs past the end of the message")
    return found


def packed_bytes_of(envelope: Envelope) -> bytes | None:
    """Returns the packed batch an envelope carries, None when it carries none (a JSON
    envelope, or a protobuf payload with the batch as messages); InvalidRequest when the
    protobuf payload is malformed or carries the batch both ways."""
    if envelope.payload_type == PACKED_BATCH_PAYLOAD_TYPE:
        return envelope.payload
    if envelope.payload_type != PROTO_BATCH_PAYLOAD_TYPE:
        return None
    try:
        fields = length_delimited_fields(envelope.payload)
    except ProtobufFormatError as exc:
        raise InvalidRequest("envelope.payload", f"not a serialized "
                                                 f"{PROTO_BATCH_PAYLOAD_TYPE}: {exc}") from None
    packed = fields.get(PACKED_FIELD_NUMBER)
    if packed and any(n in fields for n in MESSAGE_FIELD_NUMBERS):
        raise InvalidRequest(FIELD, "give the batch once: packed_batch, or jobs and shares")
    return packed or None


def batch_of_envelope(envelope: Envelope, max_shares: int) -> ShareBatch:
    """Returns the batch an envelope carries; InvalidRequest naming the field when it
    carries none or a malformed one."""
    try:
        if envelope.payload_type == JSON_BATCH_PAYLOAD_TYPE:
            return parse_batch(envelope.payload, max_shares=max_shares)
        packed = packed_bytes_of(envelope)
        if packed is None:
            raise InvalidRequest(
                "envelope.payload_type",
                f"an envelope given as the batch must carry it: one of {BATCH_PAYLOAD_TYPES}"
                f" with the batch inside, got {envelope.payload_type[:100]!r} (pass the "
                "decoded batch as batch and the envelope as envelope)")
        return decode_packed(packed, max_shares=max_shares)
    except MalformedBatch as exc:
        raise InvalidRequest(exc.field, exc.reason) from None


def stored_packed(batch: ProofBatch) -> bytes | None:
    """Returns the packed bytes a recorded batch was submitted as, None when it was
    submitted as JSON (then ``batch.submitted_json()`` holds it)."""
    if batch.batch_json:
        return None
    envelope = batch.envelope
    return None if envelope is None else packed_bytes_of(envelope)


def pack_proof_batch(batch: str | bytes | Mapping[str, Any]) -> bytes:
    """Returns the packed form of a batch given in the JSON form of DESIGN.md §4 (what
    clients put in ``ProofBatchPayload.packed_batch``); InvalidRequest naming the field
    when the batch is malformed or does not fit the packed layout."""
    try:
        return encode_packed(parse_batch(batch, max_shares=2**32 - 1))
    except MalformedBatch as exc:
        raise InvalidRequest(exc.field, exc.reason) from None
