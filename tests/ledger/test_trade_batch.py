"""TradeBatch: what a batch of trades reads (shared rule inputs, fetched together once)
and what it changes (private copies, which its later reads see)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID, uuid4

from ledger.trade_batch import TradeBatch


class Store:
    """Aggregates by id, counting the queries a batch makes."""

    def __init__(self, held: dict[UUID, Any]) -> None:
        self.held = held
        self.finds: list[UUID] = []
        self.reads: list[list[UUID]] = []

    def find(self, aggregate_id: UUID) -> Any | None:
        self.finds.append(aggregate_id)
        return self.held.get(aggregate_id)

    def read_many(self, ids: Collection[UUID]) -> dict[UUID, Any]:
        self.reads.append(list(ids))
        return {i: self.held.get(i) for i in ids}


class Thing:
    def __init__(self, aggregate_id: UUID, label: str) -> None:
        self.id, self.label = aggregate_id, label

    def collect_events(self) -> list[Any]:
        return []


def label(found: Any) -> str:
    assert isinstance(found, Thing)
    return found.label


def test_reads_are_fetched_once_and_absent_ones_answer_none() -> None:
    a, b, missing = uuid4(), uuid4(), uuid4()
    store = Store({a: Thing(a, "a"), b: Thing(b, "b")})
    batch = TradeBatch(store.find, store.read_many)
    batch.prefetch([a, b, a])
    assert store.reads == [[a, b]]
    assert label(batch.read(a)) == "a" and label(batch.read(b)) == "b"
    assert batch.read(missing) is None and batch.read(missing) is None
    assert store.reads == [[a, b], [missing]]


def test_a_private_copy_is_what_later_reads_see() -> None:
    a = uuid4()
    store = Store({a: Thing(a, "stored")})
    batch = TradeBatch(store.find, store.read_many)
    assert label(batch.read(a)) == "stored"
    changed = batch.get(a)
    assert isinstance(changed, Thing) and store.finds == [a]
    changed.label = "changed"
    assert label(batch.read(a)) == "changed"
    created = Thing(uuid4(), "new")
    batch.add(created)
    assert batch.read(created.id) is created and batch.changed[created.id] is created
    # A private copy taken first is not replaced by a later fetch of the shared one.
    other = uuid4()
    store.held[other] = Thing(other, "stored")
    assert batch.get(other) is not None
    batch.prefetch([other])
    assert batch.read(other) is batch.loaded[other]
