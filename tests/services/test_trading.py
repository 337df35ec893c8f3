"""Trades over mTLS: signed envelopes (forged, replayed, wrong-key, revoked), rules,
idempotent retries and batched streams."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import grpc
import pytest
from google.rpc import error_details_pb2

from ledger import Envelope, TradeRequest, WalletKind
from ledger.application import Ledger
from ledger.config import StoreConfig
from services import wire
from services.auth import Caller, Grant, Scope, _grant
from services.ca import Role
from services.envelope import Signer
from services.generated.valedger.v1 import (
    common_pb2,
    history_pb2,
    licensing_pb2,
    mining_pb2,
    trading_pb2,
)
from services.ledger_pool import LedgerPool
from services.metrics import ServerMetrics
from services.status import ServiceError
from services.trading import InOrder, TradeEnvelopes, trade_request, travel_rule_record
from tests.services.harness import (
    SET_UP,
    TRADE_AT,
    World,
    build_world,
    details,
    full_travel_rule,
    reason,
    trade,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Returns a running server whose streamed signatures are checked on a worker process,
    as `valedger serve` does by default on a machine of two or more cores."""
    root = tmp_path_factory.mktemp("world")
    built = build_world(root, f"sqlite:///{root / 'ledger.db'}", signature_workers=1)
    try:
        yield built
    finally:
        built.stop()


def count_events(world: World) -> int:
    with world.client("regulator") as reg:
        return sum(1 for _ in reg.list_events(page_size=1000))


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_recorded_trade_and_idempotent_retry(world: World) -> None:
    with world.client("exchange_x") as ex:
        sealed = ex.seal(trade(world, "retry-1"))
        first = ex.trading.RecordTrade(trading_pb2.RecordTradeRequest(envelope=sealed),
                                       timeout=10).result
        before = count_events(world)
        again = ex.trading.RecordTrade(trading_pb2.RecordTradeRequest(envelope=sealed),
                                       timeout=10).result
    assert first.status == trading_pb2.TRADE_STATUS_RECORDED and not first.receipt.replayed
    assert again.receipt.aggregate_id == first.receipt.aggregate_id
    assert again.receipt.replayed
    assert count_events(world) == before  # the replay recorded nothing


def test_blocked_trade_is_failed_precondition_with_rule_and_figures(world: World) -> None:
    # 1 BTC at 50,000 USD needs travel-rule data: blocked and kept on the record.
    payload = trade(world, "blocked-1", quantity="1", price="50000")
    with world.client("exchange_x") as ex:
        error = rpc_error(ex.record_trade, payload)
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    info = next(d for d in details(error) if isinstance(d, error_details_pb2.ErrorInfo))
    result = next(d for d in details(error) if isinstance(d, trading_pb2.TradeResult))
    assert info.reason == result.rule and info.reason
    assert info.metadata["trade_id"] == result.receipt.aggregate_id
    assert result.status == trading_pb2.TRADE_STATUS_BLOCKED
    assert any(d for d in details(error) if isinstance(d, error_details_pb2.PreconditionFailure))
    with world.client("regulator") as reg:
        blocked = list(reg.list_events(event_types=[common_pb2.EVENT_TYPE_TRADE_BLOCKED]))
    assert [e.aggregate_id for e in blocked] == [result.receipt.aggregate_id]


def test_forged_signature_is_refused(world: World) -> None:
    with world.client("exchange_x") as ex:
        sealed = ex.seal(trade(world, "forged-1"))
        sealed.payload = trade(world, "forged-1", quantity="999").SerializeToString()
        error = rpc_error(ex.trading.RecordTrade,
                          trading_pb2.RecordTradeRequest(envelope=sealed), timeout=10)
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reason(error) == "SIGNATURE_INVALID"


def test_signature_by_another_key_under_a_registered_key_id_is_refused(world: World) -> None:
    registered = world.signers["exchange_x"]
    impostor = Signer(Signer.generate().private_key, registered.key_id)
    with world.client("exchange_x", impostor) as ex:
        error = rpc_error(ex.record_trade, trade(world, "wrong-key-1"))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reason(error) == "SIGNATURE_INVALID"


def test_unregistered_key_is_refused(world: World) -> None:
    with world.client("exchange_x", Signer.generate()) as ex:
        error = rpc_error(ex.record_trade, trade(world, "unknown-key-1"))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reason(error) == "KEY_UNKNOWN"


def test_signature_for_another_payload_type_is_refused(world: World) -> None:
    signer = world.signers["exchange_x"]
    sealed = signer.seal(trade(world, "type-1"))
    sealed.payload_type = mining_pb2.OutputReportPayload.DESCRIPTOR.full_name
    with world.client("exchange_x") as ex:
        error = rpc_error(ex.trading.RecordTrade,
                          trading_pb2.RecordTradeRequest(envelope=sealed), timeout=10)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_revoked_key_is_refused_from_its_revocation_on(world: World) -> None:
    signer = Signer.generate()
    revoked_at = TRADE_AT + timedelta(hours=1)
    with world.client("exchange_y", signer) as ex:
        ex.register_signing_key(world.ids["exchange_y"], "revocable-key", at=SET_UP)
        before = ex.record_trade(trade(world, "pre-revocation", exchange="exchange_y"))
        ex.licensing.RevokeKey(licensing_pb2.RevokeKeyRequest(
            request_id="revoke-it", participant_id=world.ids["exchange_y"],
            key_id=signer.key_id, at=wire.timestamp(revoked_at)), timeout=10)
        error = rpc_error(ex.record_trade, trade(
            world, "post-revocation", exchange="exchange_y",
            at=wire.timestamp(revoked_at + timedelta(minutes=1))))
        # Dated before the revocation, but recorded after it: the key never signs again.
        back_dated = rpc_error(ex.record_trade, trade(
            world, "back-dated", exchange="exchange_y",
            at=wire.timestamp(revoked_at - timedelta(seconds=1))))
    assert before.status == trading_pb2.TRADE_STATUS_RECORDED
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reason(error) == "KEY_REVOKED"
    assert back_dated.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reason(back_dated) == "KEY_REVOKED"


def test_exchange_cannot_record_on_another_exchanges_licence(world: World) -> None:
    # exchange_x signs with its own key but names exchange_y's licence.
    with world.client("exchange_x") as ex:
        error = rpc_error(ex.record_trade, trade(world, "foreign-1", exchange="exchange_y"))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reason(error) == "NOT_OWNER"


def test_miner_cannot_report_for_another_miners_licence(world: World) -> None:
    period = common_pb2.Period(start_time=wire.timestamp(datetime(2026, 5, 1, tzinfo=UTC)),
                               end_time=wire.timestamp(datetime(2026, 6, 1, tzinfo=UTC)))
    payload = mining_pb2.OutputReportPayload(
        request_id="foreign-report", licence_id=world.ids["licence_miner_b"], period=period,
        asset="BTC", amount="1", sold_through_exchange_amount="1")
    with world.client("miner_a") as miner:
        error = rpc_error(miner.report_output, payload)
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reason(error) == "NOT_OWNER"
    # Signed with miner_b's own key but sent on miner_a's connection: still refused.
    with world.client("miner_a", world.signers["miner_b"]) as miner:
        error = rpc_error(miner.report_output, payload)
    assert reason(error) == "NOT_OWNER"


def test_own_output_report_is_recorded(world: World) -> None:
    period = common_pb2.Period(start_time=wire.timestamp(datetime(2026, 5, 1, tzinfo=UTC)),
                               end_time=wire.timestamp(datetime(2026, 6, 1, tzinfo=UTC)))
    payload = mining_pb2.OutputReportPayload(
        request_id="own-report", licence_id=world.ids["licence_miner_a"], period=period,
        asset="BTC", amount="2", sold_through_exchange_amount="2", wallets=["bc1q"],
        at=wire.timestamp(TRADE_AT))
    with world.client("miner_a") as miner:
        first = miner.report_output(payload).receipt
        again = miner.report_output(payload).receipt
    assert not first.replayed and again.replayed
    assert again.aggregate_id == first.aggregate_id


def test_record_trades_stream_commits_in_batches(world: World) -> None:
    # The world's server commits every 500; 1,203 trades make three batches.
    payloads = [trade(world, f"stream-{i}") for i in range(1203)]
    payloads.append(trade(world, "stream-5"))  # a retry inside the stream
    with world.client("exchange_x") as ex:
        response = ex.record_trades(payloads, timeout=120)
    assert len(response.results) == 1204
    assert response.recorded_count == 1204 and response.blocked_count == 0
    assert [r.request_id for r in response.results[:3]] == ["stream-0", "stream-1", "stream-2"]
    assert response.results[-1].receipt.aggregate_id == response.results[5].receipt.aggregate_id
    assert response.results[-1].receipt.replayed
    with world.client("regulator") as reg:
        page = reg.history.ListEvents(history_pb2.ListEventsRequest(
            licence_id=world.ids["licence_exchange_x"],
            event_types=[common_pb2.EVENT_TYPE_TRADE_RECORDED], page_size=1000), timeout=10)
    ids = {e.aggregate_id for e in page.events}
    assert response.results[0].receipt.aggregate_id in ids


def test_each_commit_of_trades_is_timed_in_the_metrics_by_path(world: World) -> None:
    # An operator reads the recorder's share of a core from these (ops/README.md): the
    # wall time of each commit and the CPU time of the thread that made it.
    assert world.server is not None
    metrics = ServerMetrics()
    metrics.attach(world.server.backend)
    payloads = [trade(world, f"timed-{i}") for i in range(1001)]  # batches of 500: three
    with world.client("exchange_x") as ex:
        response = ex.record_trades(payloads, timeout=120)
        ex.record_trade(trade(world, "timed-unary"))
    assert response.recorded_count == 1001

    def sample(name: str, path: str) -> float:
        value = metrics.registry.get_sample_value(name, {"path": path})
        assert value is not None, (name, path)
        return value

    assert sample("valedger_trade_recording_seconds_count", "stream") == 3
    assert sample("valedger_trade_recording_seconds_count", "unary") == 1
    for path in ("stream", "unary"):
        wall = sample("valedger_trade_recording_seconds_sum", path)
        cpu = sample("valedger_trade_recording_cpu_seconds_total", path)
        assert 0 < cpu <= wall + 0.01  # one thread is on at most one core (clock ticks)


def test_bad_envelope_in_stream_names_its_index_and_keeps_earlier_batches(
        world: World) -> None:
    signer = world.signers["exchange_x"]
    envelopes = [signer.seal(trade(world, f"partial-{i}")) for i in range(520)]
    envelopes[510].signature = bytes(64)
    with world.client("exchange_x") as ex:
        # One trade a message, the single-envelope form.
        error = rpc_error(ex.record_sealed_trades, envelopes, per_message=1)
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "requests[510]: " in str(error.details())
        # The first batch (0-499) was committed: re-sending it is a pure replay.
        replay = ex.record_sealed_trades(envelopes[:500])
    assert all(r.receipt.replayed for r in replay.results)


def stream_stops_at_the_third_batch(world: World, envelopes: list[common_pb2.SignedEnvelope],
                                    code: grpc.StatusCode, says: str,
                                    rest: list[common_pb2.SignedEnvelope]) -> None:
    """Streams ``envelopes`` 30 a message and asserts the stream fails with ``code`` and
    ``says`` in its details in the third of its 500-trade batches, the first two recorded
    (sent again, they are replays) and the rest not (``rest``, sent again, all new)."""
    with world.client("exchange_x") as ex:
        error = rpc_error(ex.record_sealed_trades, envelopes, per_message=30)
        assert error.code() is code
        assert says in str(error.details())
        replay = ex.record_sealed_trades(envelopes[:1000])
        assert all(r.receipt.replayed for r in replay.results)
        later = ex.record_sealed_trades(rest)
    assert not any(r.receipt.replayed for r in later.results)
    assert later.recorded_count == len(rest)


def test_stream_failure_keeps_every_batch_before_it_and_none_after(world: World) -> None:
    # Batches are opened while the one before commits; a bad envelope in the third batch
    # must leave the first two committed and the third and fourth not, in that order.
    signer = world.signers["exchange_x"]
    envelopes = [signer.seal(trade(world, f"piped-{i}")) for i in range(1600)]
    envelopes[1100].signature = bytes(64)
    stream_stops_at_the_third_batch(world, envelopes, grpc.StatusCode.PERMISSION_DENIED,
                                    "requests[36].envelopes[20]: ",  # 36 * 30 + 20
                                    envelopes[1000:1100] + envelopes[1500:])


def test_a_batch_the_ledger_refuses_ends_the_stream_before_the_batches_after_it(
        world: World) -> None:
    # Every envelope opens; the ledger refuses the third batch as a whole (a request id
    # reused inside it for another trade). Batches are handed to the ledger while the
    # one before records: the first two stay recorded, the fourth is not recorded.
    signer = world.signers["exchange_x"]
    envelopes = [signer.seal(trade(world, f"refused-{i}")) for i in range(1600)]
    envelopes[1100] = signer.seal(trade(world, "refused-1050", exchange_trade_id="t-other"))
    stream_stops_at_the_third_batch(world, envelopes, grpc.StatusCode.FAILED_PRECONDITION,
                                    "request id 'refused-1050' was already used",
                                    envelopes[1000:1100] + envelopes[1101:])


def test_stream_messages_may_carry_one_trade_or_several_in_order(world: World) -> None:
    signer = world.signers["exchange_x"]
    envelopes = [signer.seal(trade(world, f"mixed-{i}")) for i in range(9)]
    messages = [trading_pb2.RecordTradesRequest(envelope=envelopes[0]),
                trading_pb2.RecordTradesRequest(envelopes=envelopes[1:5]),
                trading_pb2.RecordTradesRequest(envelope=envelopes[5]),
                trading_pb2.RecordTradesRequest(envelopes=envelopes[6:])]
    with world.client("exchange_x") as ex:
        response = ex.trading.RecordTrades(iter(messages), timeout=30)
    assert [r.request_id for r in response.results] == [f"mixed-{i}" for i in range(9)]
    assert response.recorded_count == 9


def test_a_stream_message_with_both_forms_is_invalid_and_records_nothing(
        world: World) -> None:
    signer = world.signers["exchange_x"]
    one, two, three = (signer.seal(trade(world, f"both-{i}")) for i in range(3))
    messages = [trading_pb2.RecordTradesRequest(envelope=one, envelopes=[two, three])]
    with world.client("exchange_x") as ex:
        error = rpc_error(ex.trading.RecordTrades, iter(messages), timeout=30)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "requests[0]" in str(error.details())
        assert "not both" in str(error.details())
        # Nothing was recorded: the same trades go through afterwards as new ones.
        fresh = ex.record_sealed_trades([one, two, three])
    assert not any(r.receipt.replayed for r in fresh.results)


def test_the_signed_envelope_is_what_the_trade_event_stores(world: World) -> None:
    from uuid import UUID

    from ledger.domain.trade import Trade

    with world.client("exchange_x") as ex:
        sealed = ex.seal(trade(world, "stored-envelope-1"))
        result = ex.trading.RecordTrade(trading_pb2.RecordTradeRequest(envelope=sealed),
                                        timeout=10).result
    assert world.server is not None
    stored: Trade = world.server.backend.ledger.repository.get(
        UUID(result.receipt.aggregate_id))
    kept = stored.envelope
    assert kept is not None
    assert (kept.payload, kept.payload_type, kept.signature, kept.key_id) == \
        (sealed.payload, sealed.payload_type, sealed.signature, sealed.key_id)


def test_concurrent_unary_trades_each_get_their_own_outcome(world: World) -> None:
    # Concurrent calls are opened and committed in rounds (GroupCommit): two exchanges'
    # trades, a forged one, another's licence and rule failures share rounds, and each
    # call must still get its own answer.
    from concurrent.futures import ThreadPoolExecutor

    calls: list[tuple[str, trading_pb2.TradePayload, bool]] = [
        ("exchange_x" if n % 3 else "exchange_y",
         trade(world, f"group-{n}", exchange="exchange_x" if n % 3 else "exchange_y"), False)
        for n in range(36)]
    calls[7] = ("exchange_x", trade(world, "group-no-rate", quote_currency="JPY"), False)
    calls[13] = ("exchange_x", trade(world, "group-big", quantity="1", price="50000"), False)
    calls[17] = ("exchange_x", trade(world, "group-forged"), True)
    calls[22] = ("exchange_y", trade(world, "group-foreign", exchange="exchange_x"), False)

    def send(call: tuple[str, trading_pb2.TradePayload, bool]) -> tuple[str, str]:
        who, payload, forge = call
        with world.client(who) as ex:
            sealed = ex.seal(payload)
            if forge:
                sealed.signature = bytes(64)
            try:
                response = ex.trading.RecordTrade(
                    trading_pb2.RecordTradeRequest(envelope=sealed), timeout=30)
                return "OK", response.result.receipt.aggregate_id
            except grpc.RpcError as error:
                return error.code().name, reason(error)

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(send, calls))
    assert outcomes[7][0] == "INVALID_ARGUMENT"
    assert outcomes[13] == ("FAILED_PRECONDITION", "TRAVEL_RULE_DATA_MISSING")
    assert outcomes[17] == ("PERMISSION_DENIED", "SIGNATURE_INVALID")
    assert outcomes[22] == ("PERMISSION_DENIED", "NOT_OWNER")
    ok = [o for i, o in enumerate(outcomes) if i not in (7, 13, 17, 22)]
    assert all(code == "OK" for code, _ in ok)
    assert len({trade_id for _, trade_id in ok}) == len(ok)


def test_a_desk_refused_another_exchanges_licence_still_opens_its_own(world: World) -> None:
    # One desk serves one caller for a whole round: a first envelope naming another
    # exchange's licence is refused, and must not leave that exchange's participant (or
    # keys) behind for the caller's own envelopes after it.
    assert world.server is not None
    backend = world.server.backend
    caller = Caller(Role.EXCHANGE, "exchange_y", world.ids["exchange_y"])
    desk = TradeEnvelopes(backend, caller)
    signer = world.signers["exchange_y"]
    foreign = signer.seal(trade(world, "desk-foreign", exchange="exchange_x"))
    own = signer.seal(trade(world, "desk-own", exchange="exchange_y"))
    # Cached, so the desk reads the licence's holder in the same query as the licence.
    backend.ledger.read_many([UUID(world.ids["licence_exchange_x"])])
    context = contextvars.copy_context()
    context.run(_grant.set, Grant(caller, Scope.OWN, "/valedger.v1.TradingService/RecordTrade"))
    with pytest.raises(ServiceError) as refused:
        context.run(desk.prepare, foreign, "envelope")
    assert refused.value.code is grpc.StatusCode.PERMISSION_DENIED
    request, signed = context.run(desk.prepare, own, "envelope")
    assert request.request_id == "desk-own"
    assert desk.participant_id == UUID(world.ids["exchange_y"])
    assert backend.ledger.envelopes.refusals([signed]) == [None]


def test_a_batch_handed_to_a_stopped_streams_recorder_is_cancelled_at_once(
        tmp_path: Path) -> None:
    # Once a stream stopped (it failed or was cancelled), a batch its last commit still
    # hands in is cancelled on the spot: it takes no thread of the ledger pool, which the
    # server may have closed meanwhile.
    ledger = Ledger(StoreConfig(url=f"sqlite:///{tmp_path / 'ledger.db'}",
                                create_tables=True))
    pool = LedgerPool.open(ledger, workers=1, follower=None)
    try:
        recorder = InOrder(pool)
        recorder.stop()
        pool.executor.shutdown()

        async def hand_in() -> None:
            with pytest.raises(asyncio.CancelledError):
                await recorder.record([])

        asyncio.run(hand_in())
        assert not recorder.draining and not recorder.waiting
    finally:
        pool.close()


@pytest.mark.parametrize("with_travel_rule", [False, True])
def test_a_payload_decodes_to_the_request_its_fields_construct(with_travel_rule: bool) -> None:
    # trade_request fills the request's fields directly (no dataclass __init__): it must
    # make exactly the request the constructor makes, defaults included.
    licence, buyer, seller = uuid4(), uuid4(), uuid4()
    payload = trading_pb2.TradePayload(
        request_id="r-1", exchange_licence_id=str(licence), exchange_trade_id="x-1",
        asset="BTC", quantity="0.5", price="60000", quote_currency="USD",
        buyer_participant_id=str(buyer), seller_participant_id=str(seller),
        counterparty_country="KZ", wallet_kind=trading_pb2.WALLET_KIND_SELF_HOSTED)
    if with_travel_rule:
        payload.travel_rule.CopyFrom(full_travel_rule())
    sealed = Envelope(payload.SerializeToString(), "valedger.v1.TradePayload", bytes(64), "k")
    made = trade_request(payload, licence, TRADE_AT, sealed)
    travel = ({"travel_rule": travel_rule_record(payload.travel_rule)} if with_travel_rule
              else {})
    expected = TradeRequest(
        request_id="r-1", exchange_licence_id=licence, exchange_trade_id="x-1", asset="BTC",
        quantity="0.5", price="60000", quote_currency="USD", buyer_id=buyer, seller_id=seller,
        counterparty_vasp_id=None, counterparty_country="KZ",
        wallet_kind=WalletKind.SELF_HOSTED, at=TRADE_AT, envelope=sealed, **travel)
    assert vars(made) == vars(expected)
    assert made == expected
