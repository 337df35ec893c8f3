"""The compression benchmark times both ways on a state long enough to be cut in pieces,
and they make the same bytes."""

from __future__ import annotations

import pytest

from bench.compression_bench import (
    ENCODINGS,
    SHORT_WAYS,
    compression_times,
    encoding_times,
    proof_batch_like_state,
    short_state_times,
    trade_like_state,
)
from ledger import compression
from ledger.compression import PIECE
from ledger.domain.base64_text import base64_text


def test_a_long_state_is_timed_on_threads_and_on_one() -> None:
    state = proof_batch_like_state(20_000)
    assert len(state) > 4 * PIECE
    times = compression_times(state, 2)
    assert {way: len(seconds) for way, seconds in times.items()} == {
        "threads": 2, "one thread": 2}
    assert all(second > 0 for seconds in times.values() for second in seconds)


def test_a_batch_like_event_is_mapped_three_ways_each_reading_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)  # a payload goes ahead
    assert len(base64_text(bytes(12 * 100_000))) >= compression.AHEAD_MIN
    times = encoding_times(100_000, 2)
    assert {way: len(seconds) for way, seconds in times.items()} == {
        way: 2 for way in ENCODINGS}
    assert all(second > 0 for seconds in times.values() for second in seconds)


def test_short_states_are_timed_both_ways_each_reading_the_others_streams() -> None:
    assert 1_000 < len(trade_like_state()) < 2_000
    assert trade_like_state() != trade_like_state()  # fresh each call
    packing, reading, sizes = short_state_times(50, 2)
    for times in (packing, reading):
        assert {way: len(seconds) for way, seconds in times.items()} == {
            way: 2 for way in SHORT_WAYS}
        assert all(second > 0 for seconds in times.values() for second in seconds)
    # Both keep a trade's state at well under its size, neither much larger than the other.
    assert all(size < 0.8 * 50 * len(trade_like_state()) for size in sizes.values())
    assert max(sizes.values()) <= 1.1 * min(sizes.values())
