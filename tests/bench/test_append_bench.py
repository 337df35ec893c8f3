"""The append benchmark's one-event mode times real appends, both ways."""

from __future__ import annotations

from bench.append_bench import one_event_times, open_recorder


def test_one_event_appends_are_timed_as_arrays_and_as_plain_values(postgres_url: str) -> None:
    recorder = open_recorder(postgres_url, create=True)
    before = recorder.max_notification_id() or 0
    times = one_event_times(postgres_url, 2_000, 2)
    assert {way: len(seconds) for way, seconds in times.items()} == {False: 2, True: 2}
    assert all(second > 0 for seconds in times.values() for second in seconds)
    assert recorder.max_notification_id() == before + 5  # a warm-up, then two each way
