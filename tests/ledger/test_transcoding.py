"""Event state JSON (``ledger.transcoding``): long base64 texts spliced in, the bytes
exactly eventsourcing's."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.config import StoreConfig
from ledger.domain.base64_text import MIN_SPLICE_CHARS, Base64Text, base64_text
from ledger.domain.envelope import Envelope
from ledger.transcoding import SplicingJSONTranscoder, holds_long_text
from tests.ontime import on_time_ledger


def transcoders() -> tuple[SplicingJSONTranscoder, JSONTranscoder]:
    """Returns the splicing transcoder and eventsourcing's, with the ledger's transcodings."""
    pair = (SplicingJSONTranscoder(), JSONTranscoder())
    for transcoder in pair:
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            transcoder.register(transcoding)
    return pair


SPLICING, PLAIN = transcoders()
LONG = MIN_SPLICE_CHARS * 3 // 4  # bytes whose base64 text is exactly MIN_SPLICE_CHARS long


def proof_batch_like_state(shares: int) -> dict[str, Any]:
    """Returns a state shaped like a ProofBatch.Verified event's."""
    payload = os.urandom(24 * shares)
    return {
        "request_id": "r-1", "licence_id": uuid4(), "at": datetime.now(UTC),
        "accepted_work": Decimal("12.5"), "counts": {"ACCEPTED": shares},
        "envelope": Envelope(payload, "application/x-packed", bytes(64), "k1").to_record(),
        "accepted_hashes": base64_text(os.urandom(32 * shares)),
        "verdicts": "A" * shares, "block_candidates": [1, 2], "ntime_min": None,
    }


def test_only_long_texts_are_marked() -> None:
    assert type(base64_text(os.urandom(LONG))) is Base64Text
    assert len(base64_text(os.urandom(LONG))) == MIN_SPLICE_CHARS
    assert type(base64_text(os.urandom(LONG - 3))) is str
    assert type(Envelope(b"short", "t", bytes(64), "k").to_record()["payload"]) is str


def longest_text_encoded(transcoder: SplicingJSONTranscoder, state: dict[str, Any]) -> int:
    """Returns the length of the longest string value json's encoder was given while
    ``transcoder`` encoded ``state`` (the spliced texts never reach it)."""
    seen = [0]
    encode = transcoder.encoder.encode

    def watched(obj: Any) -> str:
        def longest(value: Any) -> int:
            if isinstance(value, dict):
                return max([longest(v) for v in value.values()] + [0])
            return len(value) if isinstance(value, str) else 0
        seen[0] = max(seen[0], longest(obj))
        return encode(obj)

    setattr(transcoder.encoder, "encode", watched)  # noqa: B010 (an instance attribute)
    try:
        transcoder.encode(state)
    finally:
        delattr(transcoder.encoder, "encode")
    return seen[0]


def test_a_proof_batch_state_is_written_exactly_as_eventsourcing_writes_it() -> None:
    state = proof_batch_like_state(20_000)
    assert holds_long_text(state, depth=2)
    assert type(state["envelope"]["payload"]) is Base64Text
    assert SPLICING.encode(state) == PLAIN.encode(state)
    assert SPLICING.decode(SPLICING.encode(state)) == PLAIN.decode(PLAIN.encode(state))
    # ... and the long texts were spliced in, not handed to json's encoder.
    splicing = transcoders()[0]
    assert longest_text_encoded(splicing, state) < MIN_SPLICE_CHARS
    assert longest_text_encoded(splicing, {"short": "x" * 100}) == 100


def test_a_proof_batch_state_comes_in_parts_holding_its_texts_themselves() -> None:
    state = proof_batch_like_state(20_000)
    parts = SPLICING.encode_parts(state)
    texts = [part for part in parts if not isinstance(part, bytes)]
    assert texts == [state["envelope"]["payload"], state["accepted_hashes"]] or texts == [
        state["accepted_hashes"], state["envelope"]["payload"]]
    assert all(any(text is part for part in parts) for text in texts)  # not copies
    assert b"".join(p if isinstance(p, bytes) else p.encode() for p in parts) == (
        PLAIN.encode(state))
    small = {"n": 1}
    assert SPLICING.encode_parts(small) == [PLAIN.encode(small)]


def test_a_small_state_goes_the_ordinary_way() -> None:
    state = {"envelope": Envelope(b"p", "t", bytes(64), "k").to_record(), "n": 1}
    assert not holds_long_text(state, depth=2)
    assert SPLICING.encode(state) == PLAIN.encode(state)


def test_texts_deeper_than_an_envelope_are_written_but_not_spliced() -> None:
    deep = {"a": {"b": {"c": base64_text(os.urandom(LONG))}}}
    assert not holds_long_text(deep, depth=2)
    assert SPLICING.encode(deep) == PLAIN.encode(deep)


def test_the_state_given_is_not_changed() -> None:
    state = proof_batch_like_state(5_000)
    before = dict(state, envelope=dict(state["envelope"]))
    SPLICING.encode(state)
    assert state == before
    assert type(state["accepted_hashes"]) is Base64Text


TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
SMALL_VALUES = st.one_of(TEXT, st.integers(), st.none(), st.booleans(),
                         st.decimals(allow_nan=False, allow_infinity=False),
                         st.lists(TEXT, max_size=3))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(TEXT, SMALL_VALUES, max_size=6),
       st.dictionaries(TEXT, SMALL_VALUES, max_size=4),
       st.lists(st.sampled_from(["top", "nested"]), min_size=1, max_size=3),
       st.integers(0, 3))
def test_any_state_is_written_exactly_as_eventsourcing_writes_it(
        top: dict[str, Any], nested: dict[str, Any], places: list[str], extra: int) -> None:
    """Keys and texts with quotes, backslashes and control characters around the long
    texts change nothing."""
    nested = dict(nested)
    state: dict[str, Any] = dict(top)
    for number, place in enumerate(places):
        text = base64_text(os.urandom(LONG + 3 * (number + extra)))
        (state if place == "top" else nested)[f"text-{number}"] = text
    state["nested"] = nested
    state['"quoted-0"'] = '"\\u0000-0" and \\"-1\\"'
    assert SPLICING.encode(state) == PLAIN.encode(state)


def test_a_text_written_twice_falls_back_to_the_ordinary_way(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A placeholder that appears elsewhere in the state (as a clash with a forged token
    would) is not guessed at: the state is written the ordinary way."""
    monkeypatch.setattr("ledger.transcoding.secrets.token_hex", lambda _n: "fixed")
    state = {"a": base64_text(os.urandom(LONG)), "b": "fixed-0", "c": {"fixed-0": 1}}
    assert SPLICING.encode(state) == PLAIN.encode(state)
    echo = {"a": base64_text(os.urandom(LONG)), "note": "fixed-0"}
    assert SPLICING.encode(echo) == PLAIN.encode(echo)
    before = {"note": "fixed-1", "a": base64_text(os.urandom(LONG)),
              "b": base64_text(os.urandom(LONG))}
    assert SPLICING.encode(before) == PLAIN.encode(before)
    quoted = {"note": 'x"fixed-0', "a": base64_text(os.urandom(LONG))}
    assert SPLICING.encode(quoted) == PLAIN.encode(quoted)


def test_a_marked_text_that_is_not_ascii_goes_the_ordinary_way() -> None:
    """Only ``base64_text`` makes marked texts; one made otherwise is not trusted blindly."""
    state = {"a": Base64Text("é" * MIN_SPLICE_CHARS)}
    assert SPLICING.encode(state) == PLAIN.encode(state)


def test_a_marked_text_is_shared_not_copied() -> None:
    text = base64_text(os.urandom(LONG))
    assert copy.deepcopy({"t": text})["t"] is text and copy.copy(text) is text


def test_the_ledger_stores_through_the_splicing_transcoder(tmp_path: Path) -> None:
    ledger = on_time_ledger(StoreConfig(url=f"sqlite:///{tmp_path}/l.db"))
    try:
        assert isinstance(ledger.mapper.transcoder, SplicingJSONTranscoder)
    finally:
        ledger.close()
