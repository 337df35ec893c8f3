"""How fast writers append to one PostgreSQL store under its table lock, written
statement by statement (eventsourcing's way, the baseline) or as one statement.

Every writer is a process with its own ``LedgerPostgresRecorder`` that appends
transactions of ``--events`` trade-sized events (1,200 random bytes of state each, one
trade request key each) as fast as it can, all writers released at once. With ``--busy
N`` each writer process also runs N threads of pure-Python work, as a server process's
other calls do: the writing thread then waits for the GIL between its statements. Both
ways are timed in the same run, alternating, on the same database (PostgreSQL from the
``pgserver`` wheel, or ``POSTGRES_*`` when ``POSTGRES_HOST`` is set); each figure is the
median of ``--repeats`` rounds.

Run: ``.venv/bin/python -m bench.append_bench [--writers 1 4] [--busy 0 1]``

``--one-event-bytes N`` measures instead transactions of one event of N random bytes (a
proof batch's state is about 6 MB), appended by one writer through the array function
(the baseline) or through the one-event function that takes the columns as plain
values, alternating insert by insert; it prints the median milliseconds of each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import threading
import time
import uuid
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from bench.postgres import postgres_urls
from ledger.config import persistence_env
from ledger.postgres import LedgerPostgresRecorder
from ledger.request_index import RequestKey

STATE_BYTES = 1200
"""State size of one event: a compressed, encrypted trade with its signed envelope."""
WAYS = {False: "statement by statement (eventsourcing)", True: "one statement"}


def open_recorder(url: str, create: bool = False) -> LedgerPostgresRecorder:
    """Returns the ledger's recorder on ``url`` (its tables made when ``create``)."""
    env = Environment("bench", {**persistence_env(url), "CREATE_TABLE": str(create).lower()})
    recorder = InfrastructureFactory.construct(env).application_recorder()
    assert isinstance(recorder, LedgerPostgresRecorder)
    if create:
        recorder.create_table()
    return recorder


def busy_work(stop: threading.Event) -> None:
    """Keeps one thread computing in Python until ``stop`` is set."""
    while not stop.is_set():
        sum(i * i for i in range(2_000))


def writer(url: str, one_statement: bool, transactions: int, events: int, busy: int,
           start: Any, results: Any) -> None:
    """One writer process: appends ``transactions`` transactions once ``start`` releases
    every writer, and reports (began, finished)."""
    recorder = open_recorder(url)
    recorder.appends_in_one_statement = one_statement
    batches = []
    for _ in range(transactions):
        ids = [uuid.uuid4() for _ in range(events)]
        batches.append((
            [StoredEvent(i, 1, "bench:Trade.Recorded", os.urandom(STATE_BYTES)) for i in ids],
            [RequestKey("exchange:bench", uuid.uuid4().hex, i) for i in ids]))
    # A connection in the pool before the start.
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "bench:Warm", b"")])
    stop = threading.Event()
    threads = [threading.Thread(target=busy_work, args=(stop,), daemon=True)
               for _ in range(busy)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.time()
    for stored, keys in batches:
        recorder.insert_events(stored, request_keys=keys)
    finished = time.time()
    stop.set()
    results.put((began, finished))


def append_rate(url: str, one_statement: bool, writers: int, transactions: int,
                events: int, busy: int) -> float:
    """Returns the events/s all writers append together, first start to last finish."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(writers), context.Queue()
    processes = [context.Process(target=writer, args=(
        url, one_statement, transactions, events, busy, start, results))
        for _ in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode:
            raise RuntimeError(f"a writer failed (exit code {process.exitcode})")
    done = [results.get() for _ in processes]
    return writers * transactions * events / (max(f for _, f in done) - min(b for b, _ in done))


def one_event_times(url: str, size: int, count: int) -> dict[bool, list[float]]:
    """Returns the seconds of ``count`` one-event appends of ``size`` random bytes each,
    by whether they went as plain values (else as arrays), alternating one by one."""
    recorder = open_recorder(url)
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "bench:Warm", b"")])
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(count):
        for as_values in (False, True):
            event = StoredEvent(uuid.uuid4(), 1, "bench:ProofBatch.Verified",
                                os.urandom(size))
            recorder.appends_one_as_values = as_values
            started = time.perf_counter()
            recorder.insert_events([event])
            times[as_values].append(time.perf_counter() - started)
    assert recorder.appends_one_as_values, "the store lacks the one-event function"
    return times


def one_event_main(url: str, size: int, count: int) -> None:
    """Measures and prints one-event appends both ways."""
    before = os.getloadavg()[0]
    times = one_event_times(url, size, count)
    arrays, values = (statistics.median(times[w]) * 1000 for w in (False, True))
    print(f"Command: `.venv/bin/python -m bench.append_bench --one-event-bytes {size} "
          f"--transactions {count}`")
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; 1-min load {before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after.\n")
    print("| state bytes | appends each way | as arrays ms (median) | as plain values ms "
          "(median) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {size:,} | {count} | {arrays:.1f} | {values:.1f} | {values / arrays:.2f} |")


def main() -> None:
    """Measures and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1],
                        help="threads of Python work in each writer process")
    parser.add_argument("--events", type=int, default=500, help="events a transaction")
    parser.add_argument("--transactions", type=int, default=20, help="transactions a writer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one-event-bytes", type=int, default=0,
                        help="measure one-event appends of this many bytes instead")
    args = parser.parse_args()
    if args.one_event_bytes:
        with postgres_urls() as fresh:
            url = fresh()
            open_recorder(url, create=True)
            one_event_main(url, args.one_event_bytes, args.transactions)
        return
    before = os.getloadavg()[0]
    rows = []
    with postgres_urls() as fresh:
        url = fresh()
        open_recorder(url, create=True)
        for writers in args.writers:
            for busy in args.busy:
                rates: dict[bool, list[float]] = {False: [], True: []}
                for _ in range(args.repeats):
                    for one_statement in (False, True):
                        rates[one_statement].append(append_rate(
                            url, one_statement, writers, args.transactions, args.events,
                            busy))
                old, new = (statistics.median(rates[w]) for w in (False, True))
                rows.append(f"| {writers} | {busy} | {old:,.0f} | {new:,.0f} | "
                            f"{new / old:.2f} |")
    print(f"Command: `.venv/bin/python -m bench.append_bench --writers "
          f"{' '.join(map(str, args.writers))} --busy {' '.join(map(str, args.busy))} "
          f"--events {args.events} --transactions {args.transactions} "
          f"--repeats {args.repeats}`")
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; 1-min load {before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after.\n")
    print(f"| writers | busy threads each | {WAYS[False]} events/s | {WAYS[True]} "
          "events/s | ratio |")
    print("|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
