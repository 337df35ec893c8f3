"""The national index of accepted share hashes (``ledger.proof_hashes``) against a dict."""

from __future__ import annotations

import os
from uuid import UUID, uuid4

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.proof_hashes import CHUNK, MIN_BITS, AcceptedHashes

OWNERS = [uuid4() for _ in range(3)]


def _hash(first_word: int, rest: int) -> bytes:
    """Returns a 32-byte hash with a chosen first word (the table's key) and tail."""
    return first_word.to_bytes(8, "little") + rest.to_bytes(24, "little")


# Few first words, so hashes share keys and home slots and probe past each other; a tail
# drawn from few values too, so the same hash comes back.
hashes = st.builds(_hash, st.integers(0, 40), st.integers(0, 3))
batches = st.lists(st.tuples(st.lists(hashes, max_size=60), st.sampled_from(OWNERS)),
                   max_size=40)


@settings(max_examples=150, deadline=None)
@given(batches, st.lists(hashes, max_size=80))
def test_the_index_answers_as_a_dict_whose_first_licence_stays(
        added: list[tuple[list[bytes], UUID]], asked: list[bytes]) -> None:
    index = AcceptedHashes()
    model: dict[bytes, UUID] = {}
    for batch, owner in added:
        index.add(b"".join(batch), owner)
        for h in batch:
            model.setdefault(h, owner)
        assert len(index) == len(model)
    assert index.contains(b"".join(asked)).tolist() == [h in model for h in asked]
    assert {h: index[h] for h in index} == model
    assert sorted(index) == sorted(model)
    for h in asked:
        assert (h in index) == (h in model)
        if h not in model:
            with pytest.raises(KeyError):
                index[h]


def test_many_random_hashes_grow_the_table_and_are_all_found() -> None:
    index = AcceptedHashes()
    rng = np.random.default_rng(7)
    added = [rng.integers(0, 256, size=(n, 32), dtype=np.uint8) for n in (1, 999, 30_000,
                                                                            CHUNK + 5, 7)]
    for i, rows in enumerate(added):
        index.add(rows, OWNERS[i % 3])
    everything = np.concatenate(added)
    assert len(index) == everything.shape[0]
    assert index.contains(everything).all()
    fresh = rng.integers(0, 256, size=(5_000, 32), dtype=np.uint8)
    assert not index.contains(fresh).any()
    # Hashes that differ only after the first word are told apart.
    twisted = everything.copy()
    twisted[:, 31] ^= 1
    assert not index.contains(twisted).any()
    assert index[bytes(everything[-1])] == OWNERS[4 % 3]
    assert index[bytes(everything[CHUNK])] == OWNERS[3 % 3]  # in the second chunk
    assert index._slots.shape[0] > 1 << MIN_BITS


def test_hashes_are_whole_32_byte_strings() -> None:
    index = AcceptedHashes()
    with pytest.raises(ValueError, match="32 bytes"):
        index.add(os.urandom(33), OWNERS[0])
    with pytest.raises(ValueError, match="uint8"):
        index.contains(np.zeros((2, 16), dtype=np.uint8))
    assert b"short" not in index
    index.add(b"", OWNERS[0])
    assert len(index) == 0 and index.contains(b"").shape == (0,)


def test_hashes_crowding_the_last_slot_wrap_round_and_survive_growth() -> None:
    # First words whose home is the table's last slot at every size: after the 2**MIN_BITS
    # table fills past a third, they are put back from the end and wrap round to the front.
    inverse = pow(0x9E3779B97F4A7C15, -1, 2**64)
    words = [((2**64 - 1 - i) * inverse) % 2**64 for i in range(600)]
    crowd = [_hash(w, 1) for w in words]
    index = AcceptedHashes()
    index.add(b"".join(crowd[:300]), OWNERS[0])
    index.add(b"".join(crowd[300:]), OWNERS[1])
    assert index._slots.shape[0] > 1 << MIN_BITS
    assert index._slots[0] != 0  # wrapped round
    assert index.contains(b"".join(crowd)).all()
    assert not index.contains(b"".join(_hash(w, 2) for w in words)).any()
    assert [index[h] for h in (crowd[0], crowd[599])] == [OWNERS[0], OWNERS[1]]


def test_hashes_added_again_keep_their_licence_through_growth() -> None:
    rng = np.random.default_rng(11)
    first = rng.integers(0, 256, size=(300, 32), dtype=np.uint8)
    again = np.concatenate([first[:150], rng.integers(0, 256, size=(20, 32), dtype=np.uint8),
                            first[150:160]])
    index = AcceptedHashes()
    index.add(first, OWNERS[0])
    index.add(again, OWNERS[1])  # 160 already there: held, not added
    assert len(index) == 320
    more = rng.integers(0, 256, size=(5_000, 32), dtype=np.uint8)
    index.add(more, OWNERS[2])  # the table grows past the rows added twice
    assert index._slots.shape[0] > 1 << MIN_BITS
    assert len(index) == 5_320
    assert index.contains(np.concatenate([first, again, more])).all()
    assert [index[bytes(h)] for h in (first[0], first[155], again[160], more[-1])] == \
        [OWNERS[0], OWNERS[0], OWNERS[1], OWNERS[2]]
    assert list(index)[:300] == [bytes(h) for h in first]  # arrival order, each once
    assert len(list(index)) == 5_320
