"""Replay checks of mining proofs: a clean store passes; a doctored verdict, figure,
evidence list or envelope in the stored events is found at its event."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from ledger.application import Ledger
from ledger.audit.faults import Fault, FaultKind
from ledger.audit.leaf import LeafRecord
from ledger.audit.proof_checks import EnvelopeCheck, ProofReplayCheck
from ledger.audit.replay import Replayer, default_checks
from ledger.config import StoreConfig
from ledger.domain.proof_batch import ProofBatch
from ledger.domain.reconciliation import Reconciliation
from tests.ledger.audit.conftest import RawDB
from tests.ledger.test_proofs import HOUR, P0, REWARD, Mine, build_mine, metered_kwh, mined
from tests.ledger.test_signatures import NEUTRAL_POINT
from tests.ontime import on_time_ledger

VERIFIED = cast(Any, ProofBatch).Verified
CLOSED = cast(Any, Reconciliation).Closed


@pytest.fixture
def proven(store_url: str) -> Iterator[tuple[Mine, RawDB]]:
    """Returns a miner with three batches (one in a signed envelope), an output report,
    a meter reading and a closed reconciliation that raised alerts."""
    ledger = on_time_ledger(StoreConfig(url=store_url))
    mine = build_mine(ledger)
    period = mined("withholding", 13)
    ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)
    ledger.submit_proof_batch("b2", mine.licence, period.batch, at=P0 + HOUR)  # duplicates
    signed = mine.seal(json.dumps(mined("small", 2).batch).encode())
    ledger.submit_proof_batch("b3", mine.licence, signed, at=P0 + HOUR)
    output = period.reported_output(REWARD)
    ledger.report_output("report", mine.licence, P0, P0 + HOUR, "BTC", output, ["w"], output,
                         at=P0 + HOUR, envelope=mine.seal(b"report", "valedger.v1.Report"))
    ledger.record_meter_reading("meter", "M-1", P0, P0 + HOUR,
                                metered_kwh(period.miner.hashrate), at=P0 + HOUR)
    ledger.amend_mining_capacity("amend", mine.licence, Decimal("1e-15"), Decimal(25),
                                 effective_from=P0 + 2 * HOUR, at=P0 + HOUR)
    ledger.suspend_licence("suspend", mine.licence, "inspection", at=P0 + 3 * HOUR)
    ledger.reinstate_licence("reinstate", mine.licence, at=P0 + 4 * HOUR)
    ledger.close_reconciliation("close", mine.licence, P0, P0 + HOUR,
                                at=P0 + HOUR + timedelta(minutes=10))
    ledger.set_policy("later", "block_subsidy", "1", effective_from=P0 + 3 * HOUR,
                      at=P0 + 3 * HOUR)
    raw = RawDB(store_url, cast(Any, ledger.recorder).events_table_name)
    try:
        yield mine, raw
    finally:
        raw.close()
        ledger.close()


def replay(ledger: Ledger, checks: list[Any] | None = None) -> tuple[list[Fault], list[Any]]:
    """Returns the faults of a full replay of the store, and the checks it ran."""
    checks = default_checks() if checks is None else checks
    replayer = Replayer(ledger.mapper, checks)
    faults: list[Fault] = []
    notes = ledger.recorder.select_notifications(start=None, limit=1_000_000)
    for leaf, n in enumerate(notes):
        faults += replayer.observe(leaf, LeafRecord(n.originator_id, n.originator_version,
                                                    n.topic, n.state))
    return faults + replayer.finish(), checks


def doctor(mine: Mine, raw: RawDB, cls: Any, which: int,
           change: Callable[[Any], dict[str, Any]]) -> tuple[int, str]:
    """Rewrites the ``which``-th stored event of ``cls`` with ``change(event)``'s fields,
    encoded as the ledger would (what an insider with the cipher key could do); returns
    its leaf index and event reference."""
    ledger = mine.ledger
    notes = ledger.recorder.select_notifications(start=None, limit=1_000_000)
    found = [(leaf, n) for leaf, n in enumerate(notes)
             if isinstance(ledger.mapper.to_domain_event(n), cls)]
    leaf, note = found[which]
    event = ledger.mapper.to_domain_event(note)
    changed = dataclasses.replace(cast(Any, event), **change(event))
    state = ledger.mapper.to_stored_event(changed).state
    raw.run(f"UPDATE {raw.table} SET state = ? WHERE {raw.nid} = ?", (state, note.id))
    return leaf, f"{event.originator_id}:{event.originator_version}"


def test_clean_store_replays_without_faults(proven: tuple[Mine, RawDB]) -> None:
    mine, _ = proven
    faults, checks = replay(mine.ledger)
    assert faults == []
    proofs = next(c for c in checks if isinstance(c, ProofReplayCheck))
    envelopes = next(c for c in checks if isinstance(c, EnvelopeCheck))
    assert (proofs.batches_checked, proofs.reconciliations_checked) == (3, 1)
    assert envelopes.checked == 2


def test_doctored_share_verdict_is_found(proven: tuple[Mine, RawDB]) -> None:
    mine, raw = proven
    # The second batch's shares were all duplicates; claim the first was accepted.
    leaf, ref = doctor(mine, raw, VERIFIED, 1, lambda e: {"verdicts": "0" + e.verdicts[1:]})
    faults, _ = replay(mine.ledger)
    assert {f.kind for f in faults} == {FaultKind.VERDICT_MISMATCH}
    assert (faults[0].leaf_index, faults[0].event) == (leaf, ref)
    assert "share verdicts differ: 1 shares (first at index 0)" in faults[0].message
    # The reconciliation, recomputed from the doctored batch, no longer matches either.
    recon = mine.ledger.list_reconciliations()[0]
    assert {f.event for f in faults[1:]} == {f"{recon.id}:1"}
    assert any("proof batches it counts differ" in f.message for f in faults[1:])


def test_doctored_accepted_work_is_found(proven: tuple[Mine, RawDB]) -> None:
    mine, raw = proven
    leaf, ref = doctor(mine, raw, VERIFIED, 0,
                       lambda e: {"accepted_work": str(int(e.accepted_work) * 2)})
    faults, _ = replay(mine.ledger)
    assert [(f.kind, f.leaf_index, f.event) for f in faults] == \
        [(FaultKind.VERDICT_MISMATCH, leaf, ref)]
    assert "accepted_work" in faults[0].message


def test_doctored_reconciliation_verdict_is_found(proven: tuple[Mine, RawDB]) -> None:
    mine, raw = proven
    recon = mine.ledger.list_reconciliations()[0]
    assert "OUTPUT_OVER_REPORTED" in recon.verdicts
    leaf, ref = doctor(mine, raw, CLOSED, 0, lambda e: {
        "verdicts": [v for v in e.verdicts if v != "OUTPUT_OVER_REPORTED"]})
    faults, _ = replay(mine.ledger)
    assert [(f.kind, f.leaf_index, f.event) for f in faults] == \
        [(FaultKind.VERDICT_MISMATCH, leaf, ref)]
    assert "verdicts differ" in faults[0].message


@pytest.mark.parametrize("change", ["figure", "evidence", "policy version",
                                    "licence version"])
def test_doctored_reconciliation_inputs_are_found(proven: tuple[Mine, RawDB],
                                                  change: str) -> None:
    mine, raw = proven
    changes: dict[str, Callable[[Any], dict[str, Any]]] = {
        "figure": lambda e: {"figures": dict(e.figures, proved_work="1")},
        "evidence": lambda e: {"evidence": dict(e.evidence, output_reports=[])},
        # The later block subsidy, effective over the period, was set after the close.
        "policy version": lambda e: {"policy_version": e.policy_version + 1},
        "licence version": lambda e: {"licence_version": e.licence_version + 1},
    }
    leaf, ref = doctor(mine, raw, CLOSED, 0, changes[change])
    faults, _ = replay(mine.ledger)
    assert faults, change
    assert {(f.kind, f.leaf_index, f.event) for f in faults} == \
        {(FaultKind.VERDICT_MISMATCH, leaf, ref)}


def test_doctored_envelope_is_found(proven: tuple[Mine, RawDB]) -> None:
    mine, raw = proven

    def flip(e: Any) -> dict[str, Any]:
        record = dict(e.envelope)
        record["key_id"] = "someone-else"
        return {"envelope": record}

    leaf, ref = doctor(mine, raw, VERIFIED, 2, flip)
    faults, _ = replay(mine.ledger)
    assert [(f.kind, f.leaf_index, f.event) for f in faults] == \
        [(FaultKind.ENVELOPE_INVALID, leaf, ref)]
    assert "KEY_UNKNOWN" in faults[0].message


def test_a_key_registered_before_keys_had_to_be_usable_is_reported(
        proven: tuple[Mine, RawDB], monkeypatch: pytest.MonkeyPatch) -> None:
    mine, _ = proven
    with monkeypatch.context() as before_the_rule:
        before_the_rule.setattr("ledger.keys.usable_public_key", lambda key: True)
        receipt = mine.ledger.register_key("weak", mine.participant, "weak-key",
                                           NEUTRAL_POINT, at=P0 + 4 * HOUR)
    notes = mine.ledger.recorder.select_notifications(start=None, limit=1_000_000)
    leaf = next(i for i, n in enumerate(notes) if n.originator_id == mine.participant
                and n.originator_version == receipt.version)
    faults, _ = replay(mine.ledger)
    assert [(f.kind, f.leaf_index, f.event) for f in faults] == \
        [(FaultKind.UNUSABLE_KEY, leaf, f"{mine.participant}:{receipt.version}")]
    assert "'weak-key'" in faults[0].message


def test_batched_parallel_replay_finds_exactly_what_the_sequential_one_finds(
        proven: tuple[Mine, RawDB], monkeypatch: pytest.MonkeyPatch) -> None:
    """Gathering batches, decoding them in worker processes and verifying them in one
    call gives the faults of checking each batch alone, on packed and JSON batches."""
    from ledger.audit import stored_batches
    from ledger.proof_payloads import PACKED_BATCH_PAYLOAD_TYPE, pack_proof_batch

    mine, raw = proven
    monkeypatch.setattr(stored_batches, "PARALLEL_MIN_BYTES", 0)  # always use the pool
    ledger = mine.ledger
    period = mined("withholding", 13)
    packed = mine.seal(pack_proof_batch(period.batch), PACKED_BATCH_PAYLOAD_TYPE)
    ledger.submit_proof_batch("b4", mine.licence, packed, at=P0 + HOUR)  # all duplicates
    fresh = mine.seal(pack_proof_batch(mined("small", 5).batch), PACKED_BATCH_PAYLOAD_TYPE)
    ledger.submit_proof_batch("b5", mine.licence, fresh, at=P0 + HOUR)
    doctor(mine, raw, VERIFIED, 1, lambda e: {"verdicts": "0" + e.verdicts[1:]})
    doctor(mine, raw, VERIFIED, 4, lambda e: {"accepted_work": "1"})
    doctor(mine, raw, VERIFIED, 2, lambda e: {"batch_json": "{", "envelope": {}})

    def faults_of(**options: Any) -> list[tuple[int | None, str, str]]:
        check = ProofReplayCheck(**options)
        faults, _ = replay(ledger, [check])
        assert check.batches_checked == 5
        return sorted((f.leaf_index, f.kind.value, f.message) for f in faults)

    shares: list[int] = []
    alone = faults_of(batch_shares=0)
    together = faults_of(batch_shares=10**9, decode_workers=2, progress=shares.append)
    assert together == alone == faults_of(batch_shares=1, decode_workers=2)
    kinds = [message for _, _, message in alone]
    assert any("share verdicts differ" in m for m in kinds)
    assert any("stored batch unreadable" in m for m in kinds)
    assert any("accepted_work" in m for m in kinds)
    assert sum(shares) == sum(e.shares for e in mine.batch_events()) - len(
        mined("small", 2).batch["shares"])  # the unreadable batch is not re-verified


def test_default_checks_report_re_verified_shares_to_the_progress_hook(
        proven: tuple[Mine, RawDB]) -> None:
    mine, _ = proven
    told: list[int] = []
    replay(mine.ledger, default_checks(told.append))
    assert sum(told) == sum(e.shares for e in mine.batch_events()) > 0


@pytest.fixture
def cheats(store_url: str) -> Iterator[tuple[Mine, RawDB]]:
    """Returns a miner whose shares another licence claimed (FOREIGN_COINBASE_TAG) and who
    mined through a suspension (LICENCE_NOT_ACTIVE), with the period reconciled."""
    ledger = on_time_ledger(StoreConfig(url=store_url))
    mine = build_mine(ledger)
    other = build_mine(ledger, "other", "M-2", b"/lic-8/")
    ledger.suspend_licence("suspend", mine.licence, "inspection", until=P0 + 2 * HOUR,
                           at=P0 + HOUR)
    period = mined("small", 5, seconds=3 * 3600)
    ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + 3 * HOUR)
    ledger.submit_proof_batch("stolen", other.licence, period.batch, at=P0 + 3 * HOUR)
    ledger.close_reconciliation("close", mine.licence, P0, P0 + 3 * HOUR, at=P0 + 4 * HOUR)
    raw = RawDB(store_url, cast(Any, ledger.recorder).events_table_name)
    try:
        yield mine, raw
    finally:
        raw.close()
        ledger.close()


def test_replay_rederives_foreign_tags_and_suspensions(cheats: tuple[Mine, RawDB]) -> None:
    mine, _ = cheats
    faults, _ = replay(mine.ledger)
    assert faults == []
    batches = mine.batch_events()
    assert "9" in batches[0].verdicts and set(batches[1].verdicts) == {"8"}


@pytest.mark.parametrize(("which", "digit"), [(0, "9"), (1, "8")])
def test_doctored_new_share_verdicts_are_found(cheats: tuple[Mine, RawDB], which: int,
                                               digit: str) -> None:
    """Crediting a share mined in a suspension, or a stolen share, is found."""
    mine, raw = cheats
    leaf, ref = doctor(mine, raw, VERIFIED, which,
                       lambda e: {"verdicts": e.verdicts.replace(digit, "0", 1)})
    faults, _ = replay(mine.ledger)
    assert (faults[0].kind, faults[0].leaf_index, faults[0].event) == \
        (FaultKind.VERDICT_MISMATCH, leaf, ref)
    assert "share verdicts differ: 1 shares" in faults[0].message


def test_doctored_not_active_count_is_found(cheats: tuple[Mine, RawDB]) -> None:
    mine, raw = cheats
    leaf, ref = doctor(mine, raw, CLOSED, 0, lambda e: {
        "figures": dict(e.figures, shares_not_active="0"),
        "verdicts": [v for v in e.verdicts if v != "MINED_WHILE_NOT_ACTIVE"]})
    faults, _ = replay(mine.ledger)
    assert [(f.kind, f.leaf_index, f.event) for f in faults] == \
        [(FaultKind.VERDICT_MISMATCH, leaf, ref)] * len(faults) and len(faults) >= 2
    assert any("shares_not_active" in f.message for f in faults)


def test_batched_replay_rederives_foreign_tags_and_suspensions_as_the_sequential_one(
        cheats: tuple[Mine, RawDB]) -> None:
    mine, raw = cheats
    doctor(mine, raw, VERIFIED, 0, lambda e: {"verdicts": e.verdicts.replace("9", "0", 1)})

    def faults_of(**options: Any) -> list[tuple[int | None, str, str]]:
        faults, _ = replay(mine.ledger, [ProofReplayCheck(**options)])
        return sorted((f.leaf_index, f.kind.value, f.message) for f in faults)

    alone = faults_of(batch_shares=0)
    assert alone and alone == faults_of(batch_shares=10**9, decode_workers=1)
