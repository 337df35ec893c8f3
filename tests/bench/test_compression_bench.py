"""The compression benchmark times both ways on a state long enough to be cut in pieces,
and they make the same bytes."""

from __future__ import annotations

from bench.compression_bench import compression_times, proof_batch_like_state
from ledger.compression import PIECE


def test_a_long_state_is_timed_on_threads_and_on_one() -> None:
    state = proof_batch_like_state(20_000)
    assert len(state) > 4 * PIECE
    times = compression_times(state, 2)
    assert {way: len(seconds) for way, seconds in times.items()} == {
        "threads": 2, "one thread": 2}
    assert all(second > 0 for seconds in times.values() for second in seconds)
