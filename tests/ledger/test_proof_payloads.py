"""Reading a proof batch out of an envelope: the protobuf field the ledger reads by hand
agrees with the generated code, and a packed batch is stored and re-read as signed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.envelope import Envelope
from ledger.errors import InvalidRequest
from ledger.proof_payloads import (
    PACKED_BATCH_PAYLOAD_TYPE,
    PROTO_BATCH_PAYLOAD_TYPE,
    ProtobufFormatError,
    batch_of_envelope,
    length_delimited_fields,
    pack_proof_batch,
    packed_bytes_of,
)
from services.generated.valedger.v1 import mining_pb2

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "proof-batch.json"


def envelope(payload: bytes, payload_type: str = PROTO_BATCH_PAYLOAD_TYPE) -> Envelope:
    return Envelope(payload, payload_type, b"\1" * 64, "k1")


def test_the_payload_type_is_the_generated_message_name() -> None:
    assert mining_pb2.ProofBatchPayload.DESCRIPTOR.full_name == PROTO_BATCH_PAYLOAD_TYPE
    assert mining_pb2.ProofBatchPayload.DESCRIPTOR.fields_by_name["packed_batch"].number == 6


@given(packed=st.binary(max_size=300), request_id=st.text(max_size=20),
       shares=st.integers(0, 3), nonce=st.integers(0, 2**32 - 1))
def test_the_hand_reader_finds_what_the_generated_code_wrote(
        packed: bytes, request_id: str, shares: int, nonce: int) -> None:
    message = mining_pb2.ProofBatchPayload(request_id=request_id, licence_id="L",
                                           packed_batch=packed)
    message.at.seconds = 1_767_225_600
    for _ in range(shares):
        message.shares.add(job_id="j", nonce=nonce)
    payload = message.SerializeToString(deterministic=True)
    fields = length_delimited_fields(payload)
    assert fields.get(6, b"") == packed
    if packed and shares:
        with pytest.raises(InvalidRequest) as caught:
            packed_bytes_of(envelope(payload))
        assert caught.value.field == "packed_batch"
    else:
        assert packed_bytes_of(envelope(payload)) == (packed or None)


@pytest.mark.parametrize("payload", [b"\x0a\x05ab", b"\x80", b"\x0b", b"\x32\xff\xff\xff\xff\x0f"])
def test_malformed_protobuf_is_refused(payload: bytes) -> None:
    with pytest.raises(ProtobufFormatError):
        length_delimited_fields(payload)
    with pytest.raises(InvalidRequest) as caught:
        packed_bytes_of(envelope(payload))
    assert caught.value.field == "envelope.payload"


def test_both_envelope_forms_give_the_same_batch() -> None:
    doc = json.loads(SAMPLE.read_text())
    packed = pack_proof_batch(doc)
    message = mining_pb2.ProofBatchPayload(request_id="r", packed_batch=packed)
    in_proto = batch_of_envelope(envelope(message.SerializeToString()), 10)
    bare = batch_of_envelope(envelope(packed, PACKED_BATCH_PAYLOAD_TYPE), 10)
    assert in_proto.canonical_json() == bare.canonical_json()
    with pytest.raises(InvalidRequest) as caught:
        batch_of_envelope(envelope(packed, PACKED_BATCH_PAYLOAD_TYPE), 2)
    assert caught.value.field == "packed_batch.share_count"
