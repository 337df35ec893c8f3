"""Proof batches and reconciliations in the ledger, on SQLite and PostgreSQL.

Every batch is genuine: ``verifier.simulator`` mines real shares at difficulty 2⁻²⁴ (about
256 hashes a share) for licences of about 7·10⁻¹⁶ MW, which is what a miner of a few
dozen H/s is licensed for at 25 J/TH.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.application import Ledger
from ledger.config import StoreConfig
from ledger.domain.envelope import Envelope, signed_bytes
from ledger.domain.licence import Capacity
from ledger.domain.output_report import OutputReport
from ledger.domain.proof_batch import JSON_BATCH_PAYLOAD_TYPE, ProofBatch
from ledger.domain.reconciliation import Reconciliation
from ledger.errors import InvalidRequest, NotFound, RequestIdReused, RuleViolation
from ledger.proof_figures import capacity_over, prorated
from ledger.proofs import ProofSubmission
from tests.ledger.conftest import END, START, events_of, kinds_since, notifications
from tests.ontime import on_time_ledger
from verifier.batch import parse_batch
from verifier.simulator import (
    SimulatedPeriod,
    hashrate_for_shares,
    honest_miner,
    mine_period,
    over_capacity_miner,
    withholding_miner,
)
from verifier.target import share_target, work_of_target

VERIFIED = cast(Any, ProofBatch).Verified
CLOSED = cast(Any, Reconciliation).Closed
HOUR = timedelta(hours=1)
P0 = datetime(2026, 3, 2, tzinfo=UTC)
"""Start of the mined periods."""
T = 3600
D = Decimal(2) ** -24
NETWORK_D = D * 16  # one share in 16 is also a block
SUBSIDY, FEES = Decimal("3.125"), Decimal("0.1")
REWARD = SUBSIDY + FEES
J_PER_TH = Decimal(25)
TAG = b"/lic-7/"
CAPACITY_HS = hashrate_for_shares(400, T, D)  # the licence allows ~400 shares an hour
LICENSED_MW = (CAPACITY_HS / 10**12 * J_PER_TH / 10**6).quantize(Decimal("1e-18"))
SHARE_WORK = work_of_target(share_target(D))

MINERS = {
    "small": honest_miner(CAPACITY_HS * Decimal("0.1"), TAG),
    "honest": honest_miner(CAPACITY_HS * Decimal("0.8"), TAG),
    "over": over_capacity_miner(CAPACITY_HS, Decimal(2), TAG),
    "withholding": withholding_miner(CAPACITY_HS * 2, 0.4, TAG),
    "hiding": honest_miner(CAPACITY_HS * Decimal("0.9"), TAG,
                           output_report_fraction=Decimal("0.3")),
    "untagged": honest_miner(CAPACITY_HS * Decimal("0.1"), b"/someone-else/"),
    "two-tags": honest_miner(CAPACITY_HS * Decimal("0.1"), TAG + b"/lic-8/"),
    "second": honest_miner(CAPACITY_HS * Decimal("0.1"), b"/lic-8/"),
}


@functools.cache
def mined(kind: str, seed: int, start: datetime = P0, seconds: int = T) -> SimulatedPeriod:
    """Returns a genuinely mined period (cached: both stores submit the same shares)."""
    return mine_period(MINERS[kind], start_time=int(start.timestamp()), seconds=seconds,
                       network_difficulty=NETWORK_D, seed=seed)


def decimal_of(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def metered_kwh(hashrate: Decimal, seconds: int = T) -> Decimal:
    """Returns the energy a fleet of ``hashrate`` H/s at 25 J/TH draws in ``seconds``."""
    return (hashrate / 10**12 * seconds * J_PER_TH / 3_600_000).quantize(Decimal("1e-18"))


@dataclass
class Mine:
    """A licensed miner with a registered signing key."""

    ledger: Ledger
    participant: UUID
    licence: UUID
    key: Ed25519PrivateKey
    key_id: str = "miner-key-1"

    def seal(self, payload: bytes, payload_type: str = JSON_BATCH_PAYLOAD_TYPE,
             key: Ed25519PrivateKey | None = None) -> Envelope:
        """Returns ``payload`` signed with the miner's (or another) key."""
        signature = (key or self.key).sign(signed_bytes(payload_type, payload))
        return Envelope(payload, payload_type, signature, self.key_id)

    def batch_events(self) -> list[Any]:
        return [e for e in events_of(self.ledger) if isinstance(e, VERIFIED)]


def build_mine(ledger: Ledger, name: str = "miner", meter: str = "M-1",
               tag: bytes = TAG) -> Mine:
    """Registers an approved miner with a key, a licence and the network policy."""
    participant = ledger.register_participant(f"reg-{name}", "ENTERPRISE", f"{name} Ltd",
                                              f"TAX-{name}", "MT", at=START).aggregate_id
    ledger.approve_participant(f"approve-{name}", participant, at=START)
    key = Ed25519PrivateKey.generate()
    ledger.register_key(f"key-{name}", participant, "miner-key-1",
                        key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
                        at=START)
    licence = ledger.grant_mining_licence(
        f"grant-{name}", participant, "North", "Z1", meter, LICENSED_MW, J_PER_TH,
        [tag.hex()], START, END, at=START).aggregate_id
    network = decimal_of(mined("small", 1).network_difficulty)
    # The sale share is judged on trades (tests of it record them); off here.
    for parameter, value in (("network_difficulty", network), ("block_subsidy", SUBSIDY),
                             ("mean_fees", FEES), ("mandatory_sale_share", 0)):
        ledger.set_policy(f"policy-{parameter}", parameter, str(value), effective_from=START,
                          at=START)
    return Mine(ledger, participant, licence, key)


@pytest.fixture
def mine(ledger: Ledger) -> Mine:
    return build_mine(ledger)


# --------------------------------------------------------------------------- submission


def test_genuine_batch_is_verified_and_recorded(mine: Mine) -> None:
    period = mined("small", 1)
    n = period.shares_submitted
    assert n > 10
    receipt = mine.ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)

    assert receipt.counts["ACCEPTED"] == receipt.accepted_shares == receipt.shares == n
    assert sum(receipt.counts.values()) == n
    assert receipt.accepted_work == n * SHARE_WORK
    assert (receipt.sequence, receipt.replayed, receipt.backend) == (0, False, "cpu")
    assert receipt.batch_id == ProofBatch.create_id(0)
    stored = mine.ledger.get_proof_batch(receipt.batch_id)
    parsed = parse_batch(period.batch)
    assert stored.batch_digest == receipt.batch_digest == \
        hashlib.sha256(parsed.canonical_json()).hexdigest()
    assert json.loads(stored.submitted_json()) == json.loads(parsed.canonical_json())
    assert stored.verdicts == "0" * n
    assert stored.accepted_work_squared == n * SHARE_WORK**2
    hashes = stored.accepted_hash_list()
    assert len(set(hashes)) == n
    assert all(int.from_bytes(h, "little") <= share_target(D) for h in hashes)
    ntimes = [s["ntime"] for s in period.batch["shares"]]
    assert (stored.ntime_min, stored.ntime_max) == (min(ntimes), max(ntimes))
    assert len(stored.block_candidates) == receipt.block_candidates
    assert stored.participant_id == mine.participant and stored.envelope is None
    assert len(mine.batch_events()) == 1


def test_duplicates_within_a_batch_and_across_batches(mine: Mine) -> None:
    period = mined("small", 1)
    n = period.shares_submitted
    first = mine.ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)
    assert first.counts["ACCEPTED"] == n

    again = mine.ledger.submit_proof_batch("b2", mine.licence, period.batch, at=P0 + HOUR)
    assert again.counts["DUPLICATE"] == n and again.accepted_work == 0
    assert again.sequence == 1 and not again.replayed

    fresh = mined("small", 2)
    mixed = dict(fresh.batch, jobs=fresh.batch["jobs"] + period.batch["jobs"],
                 shares=fresh.batch["shares"] + period.batch["shares"][:3]
                 + fresh.batch["shares"][:1])
    third = mine.ledger.submit_proof_batch("b3", mine.licence, mixed, at=P0 + HOUR)
    assert third.counts["ACCEPTED"] == fresh.shares_submitted
    assert third.counts["DUPLICATE"] == 4  # three accepted before, one repeated inside
    assert mine.ledger.get_proof_batch(third.batch_id).verdicts.endswith("2222")


def test_duplicate_index_survives_a_restart(mine: Mine, store_url: str) -> None:
    period = mined("small", 1)
    mine.ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)
    other = on_time_ledger(StoreConfig(url=store_url))
    try:
        receipt = other.submit_proof_batch("b2", mine.licence, period.batch, at=P0 + HOUR)
        replay = other.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)
    finally:
        other.close()
    assert receipt.counts["DUPLICATE"] == period.shares_submitted
    assert receipt.sequence == 1
    assert replay.replayed and replay.sequence == 0


def test_the_index_takes_its_own_batch_and_reads_the_others_from_the_log(
        mine: Mine, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    other = on_time_ledger(StoreConfig(url=store_url))
    selected: list[int] = []
    recorder = mine.ledger.recorder
    select = recorder.select_notifications

    def counting(*args: Any, **kwargs: Any) -> Any:
        found = select(*args, **kwargs)
        selected.extend(n.id for n in found if n.topic.endswith("ProofBatch.Verified"))
        return found

    monkeypatch.setattr(recorder, "select_notifications", counting)
    try:
        theirs = other.submit_proof_batch("b1", mine.licence, mined("small", 1).batch,
                                          at=P0 + HOUR)
        mine_ = mine.ledger.submit_proof_batch("b2", mine.licence, mined("small", 2).batch,
                                               at=P0 + HOUR)
        again = mine.ledger.submit_proof_batch("b3", mine.licence, mined("small", 1).batch,
                                               at=P0 + HOUR)
        ours = [n.id for n in select(start=None, limit=1_000_000)
                if n.originator_id == mine_.batch_id]
        # The other server's batch was read from the log, this server's own never was.
        assert len(selected) == 1 and selected[0] not in ours
        assert (theirs.sequence, mine_.sequence) == (0, 1)
        assert again.counts["DUPLICATE"] == again.shares  # the other server's hashes
        national = mine.ledger.proof_index.national()
        assert national.next_sequence == 3
        # Exactly what a server that reads everything from the log holds.
        rebuilt = other.proof_index.national()
        assert sorted(national.accepted) == sorted(rebuilt.accepted)
        assert len(national.accepted) == theirs.accepted_shares + mine_.accepted_shares
        assert {national.accepted[h] for h in national.accepted} == {mine.licence}
        assert [b.batch_id for b in mine.ledger.proof_index.licence(mine.licence).batches] \
            == [b.batch_id for b in other.proof_index.licence(mine.licence).batches]
    finally:
        other.close()


def test_shares_without_the_licence_coinbase_tag_are_untagged(mine: Mine) -> None:
    period = mined("untagged", 3)
    receipt = mine.ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)
    assert receipt.counts["UNTAGGED_COINBASE"] == period.shares_submitted
    assert receipt.accepted_work == 0 and receipt.block_candidates == 0
    # The batch claims its own tag; the licence's tag is what counts.
    assert period.batch["coinbase_tag"] == b"/someone-else/".hex()
    assert mine.ledger.get_proof_batch(receipt.batch_id).ntime_min is None


def test_another_licences_shares_are_never_credited_to_a_second_licence(mine: Mine) -> None:
    ledger = mine.ledger
    period = mined("small", 1)
    n = period.shares_submitted
    first = ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)
    assert first.counts["ACCEPTED"] == n
    double = build_mine(ledger, "double", "M-2", b"/lic-8/")
    # The same shares (they carry the first licence's tag) claimed by another licence.
    stolen = ledger.submit_proof_batch("b1", double.licence, period.batch, at=P0 + HOUR)
    assert stolen.counts["FOREIGN_COINBASE_TAG"] == n
    assert stolen.accepted_work == 0 and stolen.block_candidates == 0
    # Its own shares are credited as usual.
    own = ledger.submit_proof_batch("b2", double.licence, mined("second", 2).batch,
                                    at=P0 + HOUR)
    assert own.counts["ACCEPTED"] == mined("second", 2).shares_submitted


def test_a_coinbase_with_two_licences_tags_is_credited_to_neither(mine: Mine) -> None:
    ledger = mine.ledger
    other = build_mine(ledger, "other", "M-2", b"/lic-8/")
    period = mined("two-tags", 4)
    for miner in (mine, other):
        receipt = ledger.submit_proof_batch("b1", miner.licence, period.batch, at=P0 + HOUR)
        assert receipt.counts["FOREIGN_COINBASE_TAG"] == period.shares_submitted
        assert receipt.accepted_work == 0


def test_accepted_hashes_are_one_national_index(mine: Mine) -> None:
    ledger = mine.ledger
    period = mined("small", 1)
    ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR)
    other = build_mine(ledger, "other", "M-2", b"/lic-8/")
    national = ledger.proof_index.national()
    assert national.next_sequence == 1
    stored = ledger.get_proof_batch(ProofBatch.create_id(0))
    assert {national.accepted[h] for h in stored.accepted_hash_list()} == {mine.licence}
    assert national.foreign_tags(other.licence, [b"/lic-8/"]) == [TAG]
    # A hash accepted for one licence is a DUPLICATE for any other, whatever its tags.
    from ledger.proof_figures import decide
    from verifier.verification import verify_batch
    outcome = decide(verify_batch(parse_batch(period.batch), coinbase_tags=[TAG]),
                     national.accepted.keys())
    assert outcome.counts["DUPLICATE"] == period.shares_submitted


def test_shares_mined_inside_a_suspension_are_not_credited_and_alerted(mine: Mine) -> None:
    ledger = mine.ledger
    ledger.suspend_licence("suspend", mine.licence, "inspection", until=P0 + 2 * HOUR,
                           at=P0 + HOUR)
    # Three hours of shares, submitted after the suspension ended: the middle hour is out.
    period = mined("small", 5, seconds=3 * T)
    ntimes = [s["ntime"] for s in period.batch["shares"]]
    low, high = int((P0 + HOUR).timestamp()), int((P0 + 2 * HOUR).timestamp())
    inside = sum(low <= t < high for t in ntimes)
    assert 0 < inside < len(ntimes)
    receipt = ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + 3 * HOUR)
    assert receipt.counts["LICENCE_NOT_ACTIVE"] == inside
    assert receipt.counts["ACCEPTED"] == len(ntimes) - inside
    stored = ledger.get_proof_batch(receipt.batch_id)
    codes = stored.verdict_codes()
    assert all((code == 9) == (low <= t < high) for code, t in zip(codes, ntimes, strict=True))
    alerts = [a for a in ledger.list_alerts() if a.kind == "MINED_WHILE_NOT_ACTIVE"]
    assert [(a.subject_id, a.figures["shares_not_active"]) for a in alerts] == \
        [(mine.licence, str(inside))]
    assert alerts[0].evidence == [f"{receipt.batch_id}:1"]


def test_licence_suspended_at_the_submission_time_is_refused_and_alerted(mine: Mine) -> None:
    ledger = mine.ledger
    ledger.suspend_licence("suspend", mine.licence, "inspection", until=P0 + 3 * HOUR,
                           at=P0 + 2 * HOUR)
    period = mined("small", 1)
    before = notifications(ledger)
    with pytest.raises(RuleViolation) as refused:
        ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + 2.5 * HOUR)
    assert refused.value.rule == "LICENCE_NOT_ACTIVE"
    assert mine.batch_events() == []
    alerts = ledger.list_alerts()
    assert [(a.kind, a.subject_id) for a in alerts] == [("LICENCE_NOT_ACTIVE", mine.licence)]
    assert alerts[0].figures["shares"] == str(period.shares_submitted)
    assert notifications(ledger) > before
    after_alert = notifications(ledger)
    with pytest.raises(RuleViolation):  # the retry is refused again, recording nothing
        ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + 2.5 * HOUR)
    assert notifications(ledger) == after_alert
    # Validity is checked at the event's own time: before the suspension it is fine.
    ok = ledger.submit_proof_batch("b2", mine.licence, period.batch, at=P0 + 1.5 * HOUR)
    assert ok.counts["ACCEPTED"] == period.shares_submitted


def test_suspended_holder_is_refused(mine: Mine) -> None:
    mine.ledger.suspend_participant("sp", mine.participant, "audit", at=P0)
    with pytest.raises(RuleViolation) as refused:
        mine.ledger.submit_proof_batch("b1", mine.licence, mined("small", 1).batch,
                                       at=P0 + HOUR)
    assert refused.value.rule == "PARTICIPANT_NOT_ACTIVE"
    assert mine.batch_events() == []


def _broken(change: str) -> Any:
    batch = json.loads(json.dumps(mined("small", 1).batch))
    if change == "hex":
        batch["jobs"][0]["prevhash"] = "zz" * 32
    elif change == "short":
        batch["jobs"][0]["prevhash"] = "00" * 31
    elif change == "missing":
        del batch["shares"][2]["nonce"]
    elif change == "difficulty":
        batch["jobs"][0]["share_difficulty"] = 0
    elif change == "empty":
        batch["shares"] = []
    elif change == "text":
        return "{not json"
    return batch


@pytest.mark.parametrize(("change", "field"), [
    ("hex", "jobs[0].prevhash"),
    ("short", "jobs[0].prevhash"),
    ("missing", "shares[2].nonce"),
    ("difficulty", "jobs[0].share_difficulty"),
    ("empty", "shares"),
    ("text", "batch"),
])
def test_malformed_batch_names_the_field_and_records_nothing(mine: Mine, change: str,
                                                             field: str) -> None:
    before = notifications(mine.ledger)
    with pytest.raises(InvalidRequest) as error:
        mine.ledger.submit_proof_batch("bad", mine.licence, _broken(change), at=P0 + HOUR)
    assert error.value.field == field
    assert notifications(mine.ledger) == before


def test_bad_arguments_are_typed_errors(mine: Mine) -> None:
    batch = mined("small", 1).batch
    with pytest.raises(NotFound):
        mine.ledger.submit_proof_batch("b1", UUID(int=7), batch, at=P0 + HOUR)
    with pytest.raises(InvalidRequest) as error:
        mine.ledger.submit_proof_batch("", mine.licence, batch, at=P0 + HOUR)
    assert error.value.field == "request_id"
    with pytest.raises(InvalidRequest) as error:
        mine.ledger.submit_proof_batch("b1", mine.licence, batch, at=P0 + HOUR,
                                       backend="quantum")
    assert error.value.field == "backend"
    with pytest.raises(InvalidRequest) as error:
        mine.ledger.submit_proof_batch("b1", mine.licence, 42, at=P0 + HOUR)  # type: ignore[arg-type]
    assert error.value.field == "batch"
    assert mine.batch_events() == []


def test_retry_returns_the_first_receipt_and_records_nothing(mine: Mine) -> None:
    ledger = mine.ledger
    first = ledger.submit_proof_batch("b1", mine.licence, mined("small", 1).batch,
                                      at=P0 + HOUR)
    before = notifications(ledger)
    retry = ledger.submit_proof_batch("b1", mine.licence, mined("small", 1).batch,
                                      at=P0 + HOUR)
    assert retry.replayed and not first.replayed
    assert (retry.batch_id, retry.counts, retry.accepted_work, retry.batch_digest) == \
        (first.batch_id, first.counts, first.accepted_work, first.batch_digest)
    assert notifications(ledger) == before
    # The same request id with another batch is refused, never replayed; the refusal is
    # kept.
    with pytest.raises(RequestIdReused):
        ledger.submit_proof_batch("b1", mine.licence, mined("small", 2).batch, at=P0 + HOUR)
    assert kinds_since(ledger, before) == ["Raised:REQUEST_ID_REUSED"]
    # Another miner's "b1" is its own request: recorded, not the first miner's receipt.
    second = build_mine(ledger, "second", "M-2", b"/lic-8/")
    other = ledger.submit_proof_batch("b1", second.licence, mined("small", 1).batch,
                                      at=P0 + HOUR)
    assert not other.replayed and other.batch_id != first.batch_id


def ledger_with(store_url: str, desk: type[ProofSubmission]) -> Ledger:
    """Returns a ledger on the store whose proof submissions go through ``desk``."""

    class DeskLedger(Ledger):
        name = Ledger.name  # eventsourcing names a subclass's tables after it otherwise

        def construct_proof_submission(self) -> ProofSubmission:
            return desk(self, self.clock, self.proof_index, self.envelopes)

    return on_time_ledger(StoreConfig(url=store_url), cls=DeskLedger)


class RacingDesk(ProofSubmission):
    """Waits at a barrier after deciding its first batch, so two writers both decide
    batch number 0 before either saves it."""

    barrier: threading.Barrier

    def before_save(self, sequence: int) -> None:
        self.decided = getattr(self, "decided", 0) + 1
        if self.decided == 1:
            self.barrier.wait()


def race(store_url: str, work: list[tuple[Any, Any]]) -> tuple[list[Ledger], dict[int, Any]]:
    """Submits each (licence, mined period) of ``work`` from its own racing ledger on the
    same store, every decider passing its first decision before any saves; returns the
    (closed) ledgers and each submission's receipt or exception."""
    barrier = threading.Barrier(len(work), timeout=60)
    ledgers = [ledger_with(store_url, RacingDesk) for _ in work]
    results: dict[int, Any] = {}

    def submit(i: int) -> None:
        desk = ledgers[i].proofs
        assert isinstance(desk, RacingDesk)
        desk.barrier = barrier
        licence, period = work[i]
        try:
            results[i] = ledgers[i].submit_proof_batch(f"race-{i}", licence, period.batch,
                                                       at=P0 + HOUR)
        except Exception as e:  # reported by the callers' assertions
            results[i] = e

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(work))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for ledger in ledgers:
            ledger.close()
    return ledgers, results


def test_two_racing_submitters_of_the_same_shares_accept_them_once(
        mine: Mine, store_url: str) -> None:
    period = mined("small", 1)
    ledgers, results = race(store_url, [(mine.licence, period), (mine.licence, period)])
    receipts = sorted(results.values(), key=lambda r: r.sequence)
    assert [r.sequence for r in receipts] == [0, 1], results
    n = period.shares_submitted
    assert receipts[0].counts["ACCEPTED"] == n and receipts[1].counts["DUPLICATE"] == n
    # Both deciders saw no earlier shares: the loser's first save conflicted and it
    # re-decided against the winner's batch.
    assert all(cast_desk(lg).decided >= 1 for lg in ledgers)
    assert sum(cast_desk(lg).decided for lg in ledgers) == 3
    assert len(mine.batch_events()) == 2


def test_two_licences_racing_are_numbered_nationally_and_both_recorded(
        mine: Mine, store_url: str) -> None:
    other = build_mine(mine.ledger, "other", "M-2", b"/lic-8/")
    work = [(mine.licence, mined("small", 1)), (other.licence, mined("second", 2))]
    ledgers, results = race(store_url, work)
    for i, (_, period) in enumerate(work):
        assert results[i].counts["ACCEPTED"] == period.shares_submitted, results
        assert results[i].sequence == 0  # each licence's first batch
    national = sorted(e.national_sequence for e in mine.batch_events())
    assert national == [0, 1]
    assert sum(cast_desk(lg).decided for lg in ledgers) == 3  # the loser decided again


class LateTwinDesk(ProofSubmission):
    """Makes a request's second call look for an earlier batch of the request before the
    first call saves, and decide only after the first call is done."""

    first_past: threading.Event
    second_looked: threading.Event
    let_go: threading.Event

    def _active_licence(self, *args: Any, **kwargs: Any) -> Any:
        if self.first_past.is_set():  # the second call, past its first look
            self.second_looked.set()
            assert self.let_go.wait(60)
        self.first_past.set()
        return super()._active_licence(*args, **kwargs)

    def before_save(self, sequence: int) -> None:
        assert self.second_looked.wait(60)  # the first call saves after that look


def test_a_request_sent_again_while_its_first_call_saves_records_one_batch(
        mine: Mine, store_url: str) -> None:
    """A client's retry racing its own first call: the second call looked for the
    request's batch before the first saved it, and decides after; it answers the first
    call's receipt, replayed, and records nothing."""
    ledger = ledger_with(store_url, LateTwinDesk)
    desk = ledger.proofs
    assert isinstance(desk, LateTwinDesk)
    desk.first_past, desk.second_looked, desk.let_go = (
        threading.Event(), threading.Event(), threading.Event())
    batch = mined("small", 1).batch
    results: list[Any] = []

    def submit() -> None:
        try:
            results.append(ledger.submit_proof_batch("twice", mine.licence, batch,
                                                     at=P0 + HOUR))
        except Exception as e:  # reported by the assertions below
            results.append(e)

    try:
        first = threading.Thread(target=submit)
        first.start()
        assert desk.first_past.wait(60)
        second = threading.Thread(target=submit)
        second.start()
        first.join(60)
        assert len(results) == 1  # saved, while the second call waits
        desk.let_go.set()
        second.join(60)
    finally:
        desk.let_go.set()
        desk.second_looked.set()
        ledger.close()
    assert [type(r).__name__ for r in results] == ["ProofReceipt", "ProofReceipt"], results
    assert [r.replayed for r in results] == [False, True]
    assert results[0].batch_id == results[1].batch_id
    assert len(mine.batch_events()) == 1


class GrantWhileHashingDesk(ProofSubmission):
    """Grants another mining licence (through ``grant``) while its first batch is hashed."""

    grant: Any
    hashings = 0

    def backend(self, name: str | None) -> Any:
        self.hashings += 1
        if self.hashings == 1:
            self.grant()
        return super().backend(name)


def test_a_licence_granted_while_a_batch_is_hashed_makes_it_hash_again(
        mine: Mine, store_url: str) -> None:
    """The batch is decided against every licence granted before it is saved (the
    other licence's tags): the hashing done before the grant is not used."""
    ledger = ledger_with(store_url, GrantWhileHashingDesk)
    desk = ledger.proofs
    assert isinstance(desk, GrantWhileHashingDesk)
    desk.grant = lambda: build_mine(mine.ledger, "late", "M-9", b"/late-tag/")
    try:
        receipt = ledger.submit_proof_batch("b1", mine.licence, mined("small", 1).batch,
                                            at=P0 + HOUR)
    finally:
        ledger.close()
    assert desk.hashings == 2
    events = mine.batch_events()
    assert len(events) == 1 and events[0].licences_seen == 2
    assert receipt.counts["ACCEPTED"] == mined("small", 1).shares_submitted


def cast_desk(ledger: Ledger) -> RacingDesk:
    desk = ledger.proofs
    assert isinstance(desk, RacingDesk)
    return desk


# ---------------------------------------------------------------------------- envelopes


def test_batch_in_a_signed_envelope_is_checked_and_stored(mine: Mine) -> None:
    payload = json.dumps(mined("small", 1).batch).encode()
    sealed = mine.seal(payload)
    receipt = mine.ledger.submit_proof_batch("b1", mine.licence, sealed, at=P0 + HOUR)
    stored = mine.ledger.get_proof_batch(receipt.batch_id)
    assert stored.envelope == sealed
    assert stored.batch_json == ""  # the envelope's payload is the batch
    assert stored.submitted_json() == payload
    assert receipt.counts["ACCEPTED"] == mined("small", 1).shares_submitted


def test_services_form_stores_the_protobuf_envelope_beside_the_json(mine: Mine) -> None:
    period = mined("small", 1)
    sealed = mine.seal(b"\x0a\x02b1", "valedger.v1.ProofBatchPayload")  # request_id only
    receipt = mine.ledger.submit_proof_batch("b1", mine.licence, period.batch, at=P0 + HOUR,
                                             envelope=sealed)
    stored = mine.ledger.get_proof_batch(receipt.batch_id)
    assert stored.envelope == sealed
    assert json.loads(stored.batch_json) == json.loads(parse_batch(period.batch)
                                                       .canonical_json())
    with pytest.raises(InvalidRequest) as error:  # it carries no batch: jobs, shares apart
        mine.ledger.submit_proof_batch("b2", mine.licence, sealed, at=P0 + HOUR)
    assert error.value.field == "envelope.payload_type"


def test_packed_batch_in_its_envelope_is_verified_stored_as_signed_and_read_again(
        mine: Mine) -> None:
    from ledger.proof_figures import stored_batch
    from ledger.proof_payloads import PACKED_BATCH_PAYLOAD_TYPE, pack_proof_batch

    period = mined("small", 1)
    packed = pack_proof_batch(period.batch)
    with pytest.raises(InvalidRequest) as unsigned:  # nowhere to keep it but its envelope
        mine.ledger.submit_proof_batch("bare", mine.licence, packed, at=P0 + HOUR)
    assert unsigned.value.field == "batch"
    tampered = bytearray(packed)
    tampered[-1] ^= 1
    forged = Envelope(bytes(tampered), PACKED_BATCH_PAYLOAD_TYPE,
                      mine.seal(packed, PACKED_BATCH_PAYLOAD_TYPE).signature, mine.key_id)
    with pytest.raises(RuleViolation) as refused:
        mine.ledger.submit_proof_batch("forged", mine.licence, forged, at=P0 + HOUR)
    assert refused.value.rule == "SIGNATURE_INVALID"
    sealed = mine.seal(packed, PACKED_BATCH_PAYLOAD_TYPE)
    receipt = mine.ledger.submit_proof_batch("b1", mine.licence, sealed, at=P0 + HOUR)
    assert receipt.counts["ACCEPTED"] == period.shares_submitted
    assert receipt.batch_digest == hashlib.sha256(packed).hexdigest()
    stored = mine.ledger.get_proof_batch(receipt.batch_id)
    assert stored.envelope == sealed and stored.batch_json == ""
    assert stored_batch(stored).canonical_json() == parse_batch(period.batch).canonical_json()
    as_json = mine.ledger.submit_proof_batch("b2", mine.licence, period.batch, at=P0 + HOUR)
    assert as_json.counts["DUPLICATE"] == period.shares_submitted  # the same shares


def test_a_packed_batchs_payload_is_compressed_while_it_is_hashed_once_its_signature_holds(
        mine: Mine, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.mapping
    import ledger.proofs
    from ledger import compression
    from ledger.domain import base64_text
    from ledger.proof_payloads import PACKED_BATCH_PAYLOAD_TYPE, pack_proof_batch

    # A small batch, treated as a long one.
    monkeypatch.setattr(base64_text, "MIN_SPLICE_CHARS", 1)
    monkeypatch.setattr(compression, "AHEAD_MIN", 1)
    monkeypatch.setattr(compression, "cpu_count", lambda: 2)
    ahead: list[str] = []

    def compress_ahead(text: str) -> None:
        ahead.append(text)
        compression.compress_ahead(text)

    monkeypatch.setattr(ledger.proofs, "compress_ahead", compress_ahead)
    saved: list[object] = []

    def compress_parts(parts: list[Any]) -> bytes:
        saved.extend(parts)
        return compression.compress_parts(parts)

    monkeypatch.setattr(ledger.mapping, "compress_parts", compress_parts)
    period = mined("small", 1)
    packed = pack_proof_batch(period.batch)
    forged = mine.seal(packed, PACKED_BATCH_PAYLOAD_TYPE, key=Ed25519PrivateKey.generate())
    with pytest.raises(RuleViolation):
        mine.ledger.submit_proof_batch("forged", mine.licence, forged, at=P0 + HOUR)
    assert ahead == []  # nothing is compressed for a batch refused before its hashing
    sealed = mine.seal(packed, PACKED_BATCH_PAYLOAD_TYPE)
    receipt = mine.ledger.submit_proof_batch("b1", mine.licence, sealed, at=P0 + HOUR)
    assert [base64_text.base64_bytes(text) for text in ahead] == [packed]
    assert compression._ahead_of(ahead[0]) is not None  # on a compression thread
    assert any(part is ahead[0] for part in saved)  # the event took that very text
    assert mine.ledger.get_proof_batch(receipt.batch_id).envelope == sealed


def test_envelopes_that_do_not_verify_are_refused(mine: Mine) -> None:
    payload = json.dumps(mined("small", 1).batch).encode()
    forged = mine.seal(payload, key=Ed25519PrivateKey.generate())
    altered = Envelope(payload + b" ", JSON_BATCH_PAYLOAD_TYPE, mine.seal(payload).signature,
                       mine.key_id)
    unknown = Envelope(payload, JSON_BATCH_PAYLOAD_TYPE, mine.seal(payload).signature, "nope")
    for i, (envelope, rule) in enumerate([(forged, "SIGNATURE_INVALID"),
                                          (altered, "SIGNATURE_INVALID"),
                                          (unknown, "KEY_UNKNOWN")]):
        with pytest.raises(RuleViolation) as refused:
            mine.ledger.submit_proof_batch(f"b{i}", mine.licence, envelope, at=P0 + HOUR)
        assert refused.value.rule == rule
    mine.ledger.revoke_key("revoke", mine.participant, mine.key_id, at=P0)
    with pytest.raises(RuleViolation) as refused:
        mine.ledger.submit_proof_batch("late", mine.licence, mine.seal(payload), at=P0 + HOUR)
    assert refused.value.rule == "KEY_REVOKED"
    assert mine.batch_events() == []
    # Signed before the revocation, the same envelope is good (event-time validity).
    early = mine.ledger.submit_proof_batch("early", mine.licence, mine.seal(payload),
                                           at=P0 - HOUR)
    assert early.counts["ACCEPTED"] > 0


def test_output_report_envelope_is_checked_and_stored(mine: Mine) -> None:
    payload_type = "valedger.v1.OutputReportPayload"
    good = mine.seal(b"report bytes", payload_type)
    receipt = mine.ledger.report_output("r1", mine.licence, P0, P0 + HOUR, "BTC", Decimal(1),
                                        ["w"], Decimal(1), at=P0 + HOUR, envelope=good)
    stored = mine.ledger.get_typed(receipt.aggregate_id, OutputReport, "output report")
    assert stored.envelope == good
    forged = mine.seal(b"report bytes", payload_type, key=Ed25519PrivateKey.generate())
    with pytest.raises(RuleViolation) as refused:
        mine.ledger.report_output("r2", mine.licence, P0, P0 + HOUR, "BTC", Decimal(1),
                                  ["w"], Decimal(1), at=P0 + HOUR, envelope=forged)
    assert refused.value.rule == "SIGNATURE_INVALID"
    plain = mine.ledger.report_output("r3", mine.licence, P0, P0 + HOUR, "BTC", Decimal(1),
                                      ["w"], Decimal(1), at=P0 + HOUR)
    assert mine.ledger.get_typed(plain.aggregate_id, OutputReport, "report").envelope is None


# ----------------------------------------------------------------------- reconciliation


CASES = {
    # kind, seed, expected verdicts
    "honest": ("honest", 11, []),
    "over-capacity": ("over", 12, ["OVER_CAPACITY", "ENERGY_OVER_QUOTA"]),
    "withholding": ("withholding", 13,
                    ["OUTPUT_OVER_REPORTED", "ENERGY_OVER_QUOTA", "IMPLAUSIBLE_EFFICIENCY"]),
    "under-reporting": ("hiding", 14, ["OUTPUT_UNDER_REPORTED"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_reconciliation_raises_exactly_the_expected_alerts(mine: Mine, case: str) -> None:
    kind, seed, expected = CASES[case]
    ledger = mine.ledger
    period = mined(kind, seed)
    submitted = ledger.submit_proof_batch("proofs", mine.licence, period.batch,
                                          at=P0 + HOUR + timedelta(minutes=5))
    output = period.reported_output(REWARD)
    report = ledger.report_output("report", mine.licence, P0, P0 + HOUR, "BTC", output,
                                  ["bc1qminer"], output, at=P0 + HOUR)
    reading = ledger.record_meter_reading("meter", "M-1", P0, P0 + HOUR,
                                          metered_kwh(period.miner.hashrate), at=P0 + HOUR)
    receipt = ledger.close_reconciliation("close", mine.licence, P0, P0 + HOUR,
                                          at=P0 + 2 * HOUR)

    recon = ledger.get_reconciliation(receipt.aggregate_id)
    assert recon.verdicts == expected
    assert recon.proved_work == submitted.accepted_work == period.shares_submitted * SHARE_WORK
    assert recon.figures["shares"] == str(period.shares_submitted)
    assert recon.licensed_capacity_ths == LICENSED_MW * 10**6 / J_PER_TH
    assert recon.reported_output == output
    assert recon.metered_kwh == metered_kwh(period.miner.hashrate)
    assert [c["verdict"] for c in recon.checks] == [
        "OVER_CAPACITY", "OUTPUT_UNDER_REPORTED", "OUTPUT_OVER_REPORTED",
        "ENERGY_OVER_QUOTA", "IMPLAUSIBLE_EFFICIENCY"]
    refs = [f"{submitted.batch_id}:1", f"{report.aggregate_id}:1", f"{reading.aggregate_id}:1"]
    assert recon.evidence == {"proof_batches": refs[:1], "output_reports": refs[1:2],
                              "meter_readings": refs[2:], "trades": []}

    alerts = ledger.list_alerts()
    assert sorted(a.kind for a in alerts) == sorted(expected)
    assert [a.id for a in alerts] == recon.alert_ids
    for alert in alerts:
        assert alert.subject_id == recon.id and alert.participant_id == mine.participant
        assert alert.evidence == refs
        check = recon.check(alert.kind)
        assert check is not None and check["triggered"]
        assert alert.figures.get("p_value") == check["p_value"]
        if alert.kind == "ENERGY_OVER_QUOTA":  # a measurement, not a test
            assert "p_value" not in alert.figures
            assert Decimal(alert.figures["metered_kwh"]) > Decimal(alert.figures["quota_kwh"])
        else:
            assert Decimal(alert.figures["p_value"]) < Decimal("0.025")
    low, high = recon.hashrate_interval_ths
    assert low < recon.hashrate_ths < high


def test_reconciliation_counts_only_what_falls_in_the_period(mine: Mine) -> None:
    ledger = mine.ledger
    two_hours = mined("small", 5, P0, 2 * T)
    ledger.submit_proof_batch("proofs", mine.licence, two_hours.batch, at=P0 + 2 * HOUR)
    ledger.report_output("report", mine.licence, P0, P0 + 2 * HOUR, "BTC", Decimal("6.4"),
                         ["w"], Decimal("6.4"), at=P0 + 2 * HOUR)
    ledger.report_output("other-asset", mine.licence, P0, P0 + HOUR, "ETH", Decimal(100),
                         ["w"], Decimal(100), at=P0 + 2 * HOUR)
    ledger.record_meter_reading("meter", "M-1", P0, P0 + HOUR, Decimal("1e-13"),
                                at=P0 + HOUR)
    first = ledger.get_reconciliation(ledger.close_reconciliation(
        "c1", mine.licence, P0, P0 + HOUR, at=P0 + 3 * HOUR).aggregate_id)
    second = ledger.get_reconciliation(ledger.close_reconciliation(
        "c2", mine.licence, P0 + HOUR, P0 + 2 * HOUR, at=P0 + 3 * HOUR).aggregate_id)

    split = int((P0 + HOUR).timestamp())
    ntimes = [s["ntime"] for s in two_hours.batch["shares"]]
    in_first = sum(1 for t in ntimes if t < split)
    assert 0 < in_first < len(ntimes)
    assert first.figures["shares"] == str(in_first)
    assert second.figures["shares"] == str(len(ntimes) - in_first)
    assert first.proved_work + second.proved_work == len(ntimes) * SHARE_WORK
    assert first.reported_output == second.reported_output == Decimal("3.2")  # prorated
    assert first.metered_kwh == Decimal("1e-13") and second.metered_kwh is None
    assert [c["verdict"] for c in second.checks] == [
        "OVER_CAPACITY", "OUTPUT_UNDER_REPORTED", "OUTPUT_OVER_REPORTED"]
    assert len(first.evidence["output_reports"]) == 1  # ETH is not counted
    assert ledger.list_reconciliations(mine.licence) == [first, second]
    assert ledger.find_reconciliation(mine.licence, P0 + HOUR, P0 + 2 * HOUR) == second


def test_capacity_amended_inside_the_period_is_time_weighted(mine: Mine) -> None:
    ledger = mine.ledger
    ledger.amend_mining_capacity("amend", mine.licence, LICENSED_MW * 3, Decimal(30),
                                 effective_from=P0 + HOUR / 2, at=P0)
    recon = ledger.get_reconciliation(ledger.close_reconciliation(
        "c1", mine.licence, P0, P0 + HOUR, at=P0 + HOUR).aggregate_id)
    assert Decimal(recon.figures["licensed_mw"]) == LICENSED_MW * 2
    cap_before = LICENSED_MW * 10**6 / J_PER_TH
    cap_after = LICENSED_MW * 3 * 10**6 / 30
    assert recon.licensed_capacity_ths == pytest.approx((cap_before + cap_after) / 2,
                                                        rel=Decimal("1e-20"))
    assert recon.quota_kwh == LICENSED_MW * 2 * 1000


def test_close_is_idempotent_once_per_period_and_after_the_period(mine: Mine) -> None:
    ledger = mine.ledger
    ledger.submit_proof_batch("proofs", mine.licence, mined("small", 1).batch, at=P0 + HOUR)
    first = ledger.close_reconciliation("c1", mine.licence, P0, P0 + HOUR, at=P0 + HOUR)
    before = notifications(ledger)
    again = ledger.close_reconciliation("c1", mine.licence, P0, P0 + HOUR, at=P0 + HOUR)
    assert again.replayed and again.aggregate_id == first.aggregate_id
    assert notifications(ledger) == before
    with pytest.raises(RuleViolation) as closed:
        ledger.close_reconciliation("c2", mine.licence, P0, P0 + HOUR, at=P0 + HOUR)
    assert closed.value.rule == "RECONCILIATION_ALREADY_CLOSED"
    with pytest.raises(RuleViolation) as early:
        ledger.close_reconciliation("c3", mine.licence, P0 + HOUR, P0 + 2 * HOUR,
                                    at=P0 + HOUR)
    assert early.value.rule == "PERIOD_NOT_ENDED"
    with pytest.raises(InvalidRequest) as backwards:
        ledger.close_reconciliation("c4", mine.licence, P0, P0, at=P0 + HOUR)
    assert backwards.value.field == "period.end_time"
    with pytest.raises(NotFound):
        ledger.close_reconciliation("c5", UUID(int=5), P0, P0 + HOUR, at=P0 + HOUR)
    with pytest.raises(NotFound):
        ledger.find_reconciliation(mine.licence, P0, P0 + 2 * HOUR)
    assert notifications(ledger) == before
    assert [r.id for r in ledger.list_reconciliations()] == [first.aggregate_id]
    assert ledger.list_reconciliations(UUID(int=5)) == []
    recorded = [e for e in events_of(ledger) if isinstance(e, CLOSED)]
    # No output report: reconciled as zero reported, below the blocks its own shares found.
    assert len(recorded) == 1
    assert recorded[0].verdicts == ["REPORT_MISSING", "OUTPUT_UNDER_REPORTED"]
    assert int(recorded[0].figures["proved_blocks"]) > 0
    # The missing report's alert is the calendar's, at the report deadline.
    assert [a.kind for a in ledger.list_alerts()] == ["OUTPUT_UNDER_REPORTED"]


# --------------------------------------------------------------------------- pure parts


def test_prorated_parts_add_up_and_inner_spans_count_in_full() -> None:
    day = (P0, P0 + 24 * HOUR)
    value = Decimal("24")
    assert prorated(value, (P0 + HOUR, P0 + 2 * HOUR), day) == value
    assert prorated(value, day, (P0, P0 + HOUR)) == 1
    assert prorated(value, day, (P0 - HOUR, P0)) is None
    parts = [prorated(value, day, (P0 + i * 6 * HOUR, P0 + (i + 1) * 6 * HOUR))
             for i in range(4)]
    assert parts == [6, 6, 6, 6]


def test_capacity_over_a_period_without_amendments_is_the_licence_own() -> None:
    granted = Capacity(START, Decimal("1.5"), Decimal("21"))
    later = Capacity(P0 + 10 * HOUR, Decimal(3), Decimal(20))
    assert capacity_over([granted, later], P0, P0 + HOUR) == (Decimal("1.5"), Decimal(21))
    assert capacity_over([granted, later], P0 + 10 * HOUR, P0 + 11 * HOUR) == \
        (Decimal(3), Decimal(20))
    mw, jth = capacity_over([granted, later], P0 + 9 * HOUR, P0 + 11 * HOUR)
    assert mw == Decimal("2.25")
    assert mw * 10**6 / jth == pytest.approx(
        (Decimal("1.5") * 10**6 / 21 + Decimal(3) * 10**6 / 20) / 2, rel=Decimal("1e-20"))
