"""Proofs served from the stored tree: by leaf index, by event, consistency, bundles."""

from __future__ import annotations

import contextlib
import math
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.audit.log import AuditLog, parse_event_ref
from ledger.audit.proof_bundle import ProofBundleError, verify_bundle
from ledger.errors import InvalidRequest, NotFound
from tests.ledger.audit.conftest import AuditedLedger
from tlog.consistency import verify_consistency
from tlog.inclusion import verify_inclusion


def test_inclusion_proofs_by_index_verify_against_root(audited: AuditedLedger) -> None:
    state = audited.log.state()
    root = state.compact.root()
    for i in range(state.size):
        proof = audited.log.inclusion_proof(i)
        assert len(proof.hashes) <= math.ceil(math.log2(state.size))
        verify_inclusion(i, state.size, proof.leaf_hash, proof.hashes, root)
    old = audited.log.checkpoints()[1]
    proof = audited.log.inclusion_proof(3, old.size)
    verify_inclusion(3, old.size, proof.leaf_hash, proof.hashes, old.root_hash)


def test_proofs_read_log_n_nodes(audited: AuditedLedger) -> None:
    reads: list[int] = []
    store = audited.log.store
    original_read = store.read

    @contextlib.contextmanager
    def counting_read(snapshot: bool = True):
        with original_read(snapshot) as tx:
            get_nodes = tx.get_nodes

            def counting(ids):
                found = get_nodes(ids)
                reads.append(len(found))
                return found

            tx.get_nodes = counting  # type: ignore[method-assign]
            yield tx

    store.read = counting_read  # type: ignore[method-assign]
    try:
        audited.log.inclusion_proof(7)
    finally:
        store.read = original_read  # type: ignore[method-assign]
    size = audited.log.state().size
    assert len(reads) == 1 and reads[0] <= 2 * math.ceil(math.log2(size)) + 1


def test_consistency_between_checkpoints(audited: AuditedLedger) -> None:
    cps = audited.log.checkpoints()
    for old in cps:
        proof = audited.log.consistency_proof(old.size)
        state = audited.log.state()
        verify_consistency(old.size, state.size, old.root_hash, state.compact.root(),
                           proof.hashes)


def test_proof_bundle_by_event(audited: AuditedLedger) -> None:
    receipt = audited.ledger.record_trade(audited.market.trade("proved"))
    bundle = audited.log.prove_event(receipt.trade_id, 1)  # signs a checkpoint on demand
    result = verify_bundle(bundle.to_text(), audited.signer.verifier)
    assert result.record.originator_id == receipt.trade_id
    assert result.record.originator_version == 1
    assert result.index == audited.log.locate(receipt.trade_id, 1).leaf_index
    # Changing the stored record after the fact breaks every new bundle for it.
    rows = audited.raw.events()
    nid, *_, state = rows[-1]
    audited.raw.run(f"UPDATE {audited.raw.table} SET state = ? WHERE {audited.raw.nid} = ?",
                    (state[:-1] + bytes([state[-1] ^ 1]), nid))
    with pytest.raises(ProofBundleError):
        verify_bundle(audited.log.prove_event(receipt.trade_id, 1).to_text(),
                      audited.signer.verifier)


def test_lookup_errors_are_typed(audited: AuditedLedger) -> None:
    with pytest.raises(NotFound):
        audited.log.prove_event(uuid4(), 1)
    with pytest.raises(InvalidRequest):
        audited.log.inclusion_proof(10**6)
    with pytest.raises(InvalidRequest):
        audited.log.inclusion_proof(0, 10**6)
    with pytest.raises(InvalidRequest) as beyond:
        audited.log.consistency_proof(10**6)
    assert beyond.value.field == "first_tree_size"  # the request's field, as the API names it
    with pytest.raises(InvalidRequest) as beyond:
        audited.log.consistency_proof(1, 10**6)
    assert beyond.value.field == "second_tree_size"
    unsigned = AuditLog(audited.ledger.recorder)
    receipt = audited.ledger.record_trade(audited.market.trade("unsigned"))
    unsigned.follower.catch_up()
    with pytest.raises(NotFound, match="checkpoint"):
        unsigned.prove_event(receipt.trade_id, 1)


@pytest.mark.parametrize("text", ["nope", "abc:1", f"{uuid4()}:x", f"{uuid4()}:-1", ":3"])
def test_event_refs_are_validated(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_event_ref(text)


def test_event_inclusion_proof(audited: AuditedLedger) -> None:
    receipt = audited.ledger.record_trade(audited.market.trade("by-event"))
    audited.log.follower.catch_up()
    proof = audited.log.event_inclusion_proof(receipt.trade_id, 1)
    state = audited.log.state()
    assert proof.leaf_index == audited.log.locate(receipt.trade_id, 1).leaf_index
    verify_inclusion(proof.leaf_index, state.size, proof.leaf_hash, proof.hashes,
                     state.compact.root())
    with pytest.raises(NotFound):
        audited.log.event_inclusion_proof(uuid4(), 1)


def test_proofs_read_only_nodes_below_the_hot_floor(audited: AuditedLedger) -> None:
    from ledger.audit.hot_nodes import HotNodes, floor_level

    audited.log.hot = HotNodes(capacity=4)
    state = audited.log.state()
    floor = floor_level(state.size, 4)
    asked: list[set[tuple[int, int]]] = []
    store = audited.log.store
    original_read = store.read

    @contextlib.contextmanager
    def spying_read(snapshot: bool = True):
        with original_read(snapshot) as tx:
            get_nodes = tx.get_nodes

            def spy(ids):
                asked.append(set(ids))
                return get_nodes(ids)

            tx.get_nodes = spy  # type: ignore[method-assign]
            yield tx

    store.read = spying_read  # type: ignore[method-assign]
    try:
        root = state.compact.root()
        for i in range(state.size):
            proof = audited.log.inclusion_proof(i)
            verify_inclusion(i, state.size, proof.leaf_hash, proof.hashes, root)
        old = audited.log.checkpoints()[0]
        proof_c = audited.log.consistency_proof(old.size)
        verify_consistency(old.size, state.size, old.root_hash, root, proof_c.hashes)
    finally:
        store.read = original_read  # type: ignore[method-assign]
    assert floor > 1 and asked
    assert all(level < floor for ids in asked for level, _ in ids)
    assert audited.log.hot.hashes and all(level >= floor for level, _ in audited.log.hot.hashes)


@given(st.integers(min_value=0, max_value=1 << 40), st.integers(min_value=2, max_value=1 << 20))
def test_hot_floor_keeps_at_most_capacity_nodes(size: int, capacity: int) -> None:
    from ledger.audit.hot_nodes import floor_level

    floor = floor_level(size, capacity)
    assert sum(size >> level for level in range(floor, 64)) <= capacity
    assert floor == 1 or sum(size >> level for level in range(floor - 1, 64)) > capacity
