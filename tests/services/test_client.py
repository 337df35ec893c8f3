"""The typed client's pieces that need no server: how trades are cut into stream messages."""

from __future__ import annotations

import pytest

from services.client import trade_messages
from services.generated.valedger.v1 import common_pb2


def envelopes(n: int) -> list[common_pb2.SignedEnvelope]:
    return [common_pb2.SignedEnvelope(key_id=f"k{i}") for i in range(n)]


def test_trades_are_cut_into_messages_of_the_given_size_in_order() -> None:
    messages = list(trade_messages(envelopes(7), 3))
    assert [len(m.envelopes) for m in messages] == [3, 3, 1]
    assert not any(m.HasField("envelope") for m in messages)
    assert [e.key_id for m in messages for e in m.envelopes] == [f"k{i}" for i in range(7)]


def test_one_a_message_uses_the_single_envelope_form() -> None:
    messages = list(trade_messages(envelopes(2), 1))
    assert [m.envelope.key_id for m in messages] == ["k0", "k1"]
    assert not any(m.envelopes for m in messages)


def test_no_trades_make_no_messages_and_a_size_below_one_is_refused() -> None:
    assert list(trade_messages([], 100)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(trade_messages(envelopes(1), 0))
