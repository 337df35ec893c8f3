"""Nothing a client claims is trusted: each attack of the trust review, tried through gRPC
over mTLS as a client would, on SQLite and on PostgreSQL.

Request ids belong to their caller; times are checked against the server's clock (the
world's ManualClock); numbers and text are bounded at the edge of the ledger; concurrent
writers on one buyer never see INTERNAL, lose or duplicate a trade.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services import wire
from services.client import LedgerClient, proof_batch_payload
from services.envelope import Signer
from services.generated.valedger.v1 import (
    common_pb2,
    compliance_pb2,
    history_pb2,
    licensing_pb2,
    mining_pb2,
    trading_pb2,
)
from tests.services.harness import (
    NOW,
    SET_UP,
    TRADE_AT,
    VALID_FROM,
    VALID_UNTIL,
    ServerThread,
    World,
    build_world,
    details,
    free_port,
    full_travel_rule,
    reason,
    trade,
)

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "proof-batch.json"


@pytest.fixture(params=["sqlite", "postgres"], scope="module")
def trust_world(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("trust")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'ledger.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.url(server.create_database())
    world = build_world(root, url)
    try:
        yield world
    finally:
        world.stop()


@pytest.fixture(autouse=True)
def clock_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("trust_world", "shared_world"):
        if name in request.fixturenames:
            request.getfixturevalue(name).clock.set(NOW)


def failure(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def message(error: grpc.RpcError) -> str:
    """Returns the status message of a failed call."""
    return error.details() or ""


def events_of(world: World, aggregate_id: str) -> list[Any]:
    with world.client("regulator") as reg:
        return [e for e in reg.list_events(page_size=1000) if e.aggregate_id == aggregate_id]


def new_exchange(world: World, name: str) -> str:
    """Registers, approves and licenses an exchange of its own; returns its licence id."""
    with world.client("regulator") as reg:
        registered = reg.licensing.RegisterParticipant(
            licensing_pb2.RegisterParticipantRequest(
                request_id=f"register-{name}", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
                legal_name=name, tax_id=f"tax-{name}", country="KZ",
                at=wire.timestamp(SET_UP)), timeout=20)
        world.ids[name] = registered.receipt.aggregate_id
        reg.licensing.ApproveParticipant(licensing_pb2.ApproveParticipantRequest(
            request_id=f"approve-{name}", participant_id=world.ids[name],
            at=wire.timestamp(SET_UP)), timeout=20)
        granted = reg.licensing.GrantExchangeLicence(licensing_pb2.GrantExchangeLicenceRequest(
            request_id=f"grant-{name}", participant_id=world.ids[name], services=["spot"],
            valid_from=wire.timestamp(VALID_FROM), valid_until=wire.timestamp(VALID_UNTIL)),
            timeout=20)
    world.ids[f"licence_{name}"] = granted.receipt.aggregate_id
    world.signers[name] = Signer.generate()
    with world.client(name) as own:
        own.register_signing_key(world.ids[name], f"key-{name}", at=SET_UP)
    return granted.receipt.aggregate_id


# ------------------------------------------------------------------------- request ids


def test_another_exchanges_request_id_is_a_request_of_its_own(trust_world: World) -> None:
    world = trust_world
    with world.client("exchange_x") as ex:
        first = ex.record_trade(trade(world, "same-id", quantity="0.01"))
    with world.client("exchange_y") as ey:
        second = ey.record_trade(trade(world, "same-id", exchange="exchange_y",
                                       quantity="0.02"))
    # exchange_y's trade is recorded, not answered with exchange_x's result.
    assert not second.receipt.replayed
    assert second.receipt.aggregate_id != first.receipt.aggregate_id
    assert len(events_of(world, second.receipt.aggregate_id)) == 1
    assert len(events_of(world, first.receipt.aggregate_id)) == 1


def test_another_miners_report_id_is_a_report_of_its_own(trust_world: World) -> None:
    world = trust_world
    period = common_pb2.Period(start_time=wire.timestamp(TRADE_AT - timedelta(days=30)),
                               end_time=wire.timestamp(TRADE_AT))

    def report(miner: str, amount: str) -> mining_pb2.OutputReportPayload:
        return mining_pb2.OutputReportPayload(
            request_id="monthly-report", licence_id=world.ids[f"licence_{miner}"],
            period=period, asset="BTC", amount=amount, sold_through_exchange_amount=amount,
            at=wire.timestamp(TRADE_AT))

    with world.client("miner_a") as a:
        first = a.report_output(report("miner_a", "7")).receipt
    with world.client("miner_b") as b:
        second = b.report_output(report("miner_b", "3")).receipt
        # A refused report quotes this miner's figures only.
        short = report("miner_b", "11")
        short.request_id, short.sold_through_exchange_amount = "short-report", "12"
        refused = failure(b.report_output, short)
    assert not second.replayed and second.aggregate_id != first.aggregate_id
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "11" in message(refused) and "7" not in message(refused)


def test_a_reused_request_id_with_another_payload_is_refused(trust_world: World) -> None:
    world = trust_world
    with world.client("exchange_x") as ex:
        first = ex.record_trade(trade(world, "reused", quantity="0.01"))
        again = ex.record_trade(trade(world, "reused", quantity="0.01"))
        error = failure(ex.record_trade, trade(world, "reused", quantity="0.05"))
    assert again.receipt.replayed and again.receipt.aggregate_id == first.receipt.aggregate_id
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error) == "REQUEST_ID_REUSED"
    assert len(events_of(world, first.receipt.aggregate_id)) == 1


def reused_alerts(world: World, request_id: str) -> list[Any]:
    """Returns the REQUEST_ID_REUSED alerts that keep refusals of ``request_id``."""
    with world.client("regulator") as reg:
        alerts = reg.compliance.ListAlerts(compliance_pb2.ListAlertsRequest(
            kind="REQUEST_ID_REUSED"), timeout=20).alerts
    return [a for a in alerts if a.figures.get("sent.request_id") == request_id]


def test_a_reused_request_id_stays_on_the_record(trust_world: World) -> None:
    """Attempts stay on the record: each refused payload once, whoever sent it and how."""
    world = trust_world
    with world.client("exchange_x") as ex:
        first = ex.record_trade(trade(world, "kept-reuse", quantity="0.01"))
        failure(ex.record_trade, trade(world, "kept-reuse", quantity="0.02"))
        failure(ex.record_trade, trade(world, "kept-reuse", quantity="0.02"))  # a retry
        failure(ex.record_trades, [trade(world, "kept-reuse", quantity="0.03")])
        failure(ex.record_trades, [trade(world, "kept-reuse-2", quantity="0.01"),
                                   trade(world, "kept-reuse-2", quantity="0.04")])
    kept = reused_alerts(world, "kept-reuse")
    assert len(kept) == 2  # 0.02 (retried: kept once) and 0.03
    assert {a.subject for a in kept} == {first.receipt.aggregate_id}
    assert all(a.figures["requester"].endswith(world.ids["exchange_x"]) for a in kept)
    assert len({a.figures["sent.digest"] for a in kept}) == 2
    assert len(reused_alerts(world, "kept-reuse-2")) == 1  # reused inside one stream
    period = common_pb2.Period(start_time=wire.timestamp(TRADE_AT - timedelta(days=60)),
                               end_time=wire.timestamp(TRADE_AT - timedelta(days=31)))

    def report(amount: str) -> mining_pb2.OutputReportPayload:
        return mining_pb2.OutputReportPayload(
            request_id="kept-report", licence_id=world.ids["licence_miner_a"], period=period,
            asset="BTC", amount=amount, sold_through_exchange_amount=amount,
            at=wire.timestamp(TRADE_AT))

    with world.client("miner_a") as miner:
        miner.report_output(report("5"))
        refused = failure(miner.report_output, report("6"))
    assert reason(refused) == "REQUEST_ID_REUSED"
    assert len(reused_alerts(world, "kept-report")) == 1


def test_a_request_id_reused_later_for_another_exchange_trade_is_refused(
        trust_world: World) -> None:
    world = trust_world
    with world.client("exchange_x") as ex:
        first = ex.record_trade(trade(world, "later", exchange_trade_id="LT-1"))
        unary = failure(ex.record_trade, trade(world, "later", exchange_trade_id="LT-2"))
        streamed = failure(ex.record_trades,
                           [trade(world, "later-fresh", exchange_trade_id="LT-3"),
                            trade(world, "later", exchange_trade_id="LT-4")])
        retry = ex.record_trade(trade(world, "later", exchange_trade_id="LT-1"))
    assert reason(unary) == reason(streamed) == "REQUEST_ID_REUSED"
    assert unary.code() is streamed.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert retry.receipt.replayed and retry.receipt.aggregate_id == first.receipt.aggregate_id
    with world.client("regulator") as reg:
        trades = [e for e in reg.list_events(page_size=1000)
                  if e.topic.startswith("ledger.domain.trade:")
                  and str(e.data["exchange_trade_id"]).startswith("LT-")]
    # Only the first trade is stored: the refused stream recorded nothing of its batch.
    assert [e.aggregate_id for e in trades] == [first.receipt.aggregate_id]


def test_a_blocked_attempts_request_id_is_replayed_or_refused_later(
        trust_world: World) -> None:
    world = trust_world
    ahead = wire.timestamp(NOW + timedelta(days=30))
    with world.client("exchange_x") as ex:
        blocked = failure(ex.record_trade, trade(world, "blocked-later", at=ahead))
        again = failure(ex.record_trade, trade(world, "blocked-later", at=ahead))
        other = failure(ex.record_trade, trade(world, "blocked-later"))
    first = next(d for d in details(blocked) if isinstance(d, trading_pb2.TradeResult))
    second = next(d for d in details(again) if isinstance(d, trading_pb2.TradeResult))
    assert reason(blocked) == reason(again) == "TIME_OUTSIDE_WINDOW"
    assert second.receipt.replayed and second.receipt.aggregate_id == first.receipt.aggregate_id
    assert reason(other) == "REQUEST_ID_REUSED"


def test_an_exchange_trade_id_is_recorded_once_per_licence(trust_world: World) -> None:
    world = trust_world
    with world.client("exchange_x") as ex:
        first = ex.record_trade(trade(world, "etid-1", exchange_trade_id="SR-1"))
        error = failure(ex.record_trade, trade(world, "etid-2", exchange_trade_id="SR-1"))
    with world.client("exchange_y") as ey:  # another licence: its own numbering
        other = ey.record_trade(trade(world, "etid-1", exchange="exchange_y",
                                      exchange_trade_id="SR-1"))
    assert first.status == other.status == trading_pb2.TRADE_STATUS_RECORDED
    assert reason(error) == "EXCHANGE_TRADE_ID_REUSED"
    blocked = [d for d in details(error) if isinstance(d, trading_pb2.TradeResult)]
    assert blocked and blocked[0].status == trading_pb2.TRADE_STATUS_BLOCKED  # on record


# -------------------------------------------------------------------------------- time


def test_a_revoked_licence_never_trades_again_whatever_date_it_claims(
        trust_world: World) -> None:
    world = trust_world
    licence = new_exchange(world, "exchange_revoked")
    revoked_at = TRADE_AT + timedelta(hours=2)
    with world.client("regulator") as reg:
        reg.licensing.RevokeLicence(licensing_pb2.RevokeLicenceRequest(
            request_id="revoke-exchange", licence_id=licence, reason="fraud",
            at=wire.timestamp(revoked_at)), timeout=20)
    with world.client("exchange_revoked") as ex:
        error = failure(ex.record_trade, trade(
            world, "back-dated", exchange="exchange_revoked",
            at=wire.timestamp(revoked_at - timedelta(seconds=1))))
    assert reason(error) == "LICENCE_NOT_ACTIVE"
    assert "(recorded)" in message(error)


def test_outflows_dated_into_other_months_do_not_escape_the_cap(trust_world: World) -> None:
    world = trust_world
    with world.client("exchange_x") as ex:
        response = ex.record_trades([trade(
            world, f"month-{k}", quantity="10", price="500", counterparty_country="DE",
            wallet_kind=trading_pb2.WALLET_KIND_SELF_HOSTED,
            at=wire.timestamp(TRADE_AT + timedelta(days=31 * k)),
            travel_rule=full_travel_rule()) for k in range(12)])
    rules = [r.rule for r in response.results]
    # 5,000 USD each, far below the monthly cap: but only the first is recorded; the
    # others are not in a month the client may choose, they are outside the trade window
    # of the server's clock.
    assert rules == [""] + ["TIME_OUTSIDE_WINDOW"] * 11


def test_a_trade_dated_a_month_ahead_is_blocked(trust_world: World) -> None:
    world = trust_world
    with world.client("exchange_x") as ex:
        error = failure(ex.record_trade, trade(
            world, "future", at=wire.timestamp(NOW + timedelta(days=30))))
        skew = ex.record_trade(trade(world, "slightly-ahead",
                                     at=wire.timestamp(NOW + timedelta(minutes=4))))
    assert reason(error) == "TIME_OUTSIDE_WINDOW"
    assert skew.status == trading_pb2.TRADE_STATUS_RECORDED  # within the clock skew


def test_policy_is_never_set_retroactively(trust_world: World) -> None:
    world = trust_world
    with world.client("regulator") as reg:
        error = failure(reg.compliance.SetPolicy, compliance_pb2.SetPolicyRequest(
            request_id="retro-cap", parameter="outflow_cap_usd", value="10",
            effective_from=wire.timestamp(NOW - timedelta(days=1))), timeout=20)
        future = reg.compliance.SetPolicy(compliance_pb2.SetPolicyRequest(
            request_id="future-cap", parameter="outflow_cap_usd", value="60000",
            effective_from=wire.timestamp(NOW + timedelta(days=400))), timeout=20)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert message(error).startswith("effective_from:")
    assert not future.receipt.replayed


def test_events_carry_the_servers_time_not_the_clients(trust_world: World) -> None:
    world = trust_world
    world.clock.set(NOW + timedelta(minutes=7))
    with world.client("exchange_x") as ex:
        result = ex.record_trade(trade(world, "stamped"))
    [event] = events_of(world, result.receipt.aggregate_id)
    data = json_format.MessageToDict(event.data)
    assert data["recorded_at"].startswith((NOW + timedelta(minutes=7)).isoformat()[:19])
    assert data["at"].startswith(TRADE_AT.isoformat()[:19])
    assert data["requester"] == f"participant:{world.ids['exchange_x']}"


# ----------------------------------------------------------------------- numbers, text


def test_absurd_quantity_is_invalid_argument_naming_the_field(trust_world: World) -> None:
    world = trust_world
    with world.client("exchange_x") as ex:
        for quantity in ("1e999999", "-1", "NaN", "1" * 70, "0.0000000000000000001"):
            error = failure(ex.record_trade, trade(world, f"q-{len(quantity)}-{quantity[:3]}",
                                                   quantity=quantity))
            assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, quantity
            assert message(error).startswith("quantity:"), message(error)


def test_an_absurd_meter_reading_is_refused_and_reconciliation_still_closes(
        trust_world: World) -> None:
    world = trust_world
    period = common_pb2.Period(start_time=wire.timestamp(TRADE_AT - timedelta(days=2)),
                               end_time=wire.timestamp(TRADE_AT - timedelta(days=1)))
    with world.client("grid") as grid:
        error = failure(grid.mining.RecordMeterReading, mining_pb2.RecordMeterReadingRequest(
            request_id="absurd-kwh", meter_id="m-miner_a", period=period, kwh="1e999999",
            at=wire.timestamp(TRADE_AT)), timeout=20)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert message(error).startswith("kwh:")
    with world.client("regulator") as reg:
        closed = reg.mining.CloseReconciliation(mining_pb2.CloseReconciliationRequest(
            request_id="close-after-absurd", licence_id=world.ids["licence_miner_a"],
            period=period), timeout=30)
    assert closed.receipt.aggregate_id


def test_an_absurd_share_difficulty_is_refused_and_the_server_keeps_serving(
        trust_world: World) -> None:
    world = trust_world
    batch = json.loads(SAMPLE.read_text())
    batch["jobs"][0]["share_difficulty"] = "1e999999"
    huge = dict(batch, jobs=[dict(batch["jobs"][0], share_difficulty="9" * 5000)])
    with world.client("miner_a") as miner:
        for request_id, body in (("absurd-d", batch), ("long-d", huge)):
            payload = proof_batch_payload(body, request_id, world.ids["licence_miner_a"],
                                          TRADE_AT, packed=False)
            error = failure(miner.mining.SubmitProofBatch,
                            mining_pb2.SubmitProofBatchRequest(envelope=miner.seal(payload)),
                            timeout=20)
            assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "share_difficulty" in message(error)
        health = health_pb2_grpc.HealthStub(miner.channel)
        answer = health.Check(health_pb2.HealthCheckRequest(), timeout=2)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_control_characters_are_refused_in_names_and_ids(trust_world: World) -> None:
    world = trust_world
    with world.client("regulator") as reg:
        for field, request in (
            ("legal_name", licensing_pb2.RegisterParticipantRequest(
                request_id="ctl-1", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
                legal_name="Acme\x00Ltd", tax_id="T", country="KZ")),
            ("request_id", licensing_pb2.RegisterParticipantRequest(
                request_id="ctl\n2", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
                legal_name="Acme", tax_id="T", country="KZ")),
        ):
            error = failure(reg.licensing.RegisterParticipant, request, timeout=20)
            assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert message(error).startswith(f"{field}:")


def test_an_unassigned_country_code_is_refused_naming_the_field(trust_world: World) -> None:
    # UK is the common mistake for GB; XX is user-assigned: neither is a country.
    world = trust_world
    with world.client("regulator") as reg:
        for code in ("UK", "XX"):
            error = failure(reg.licensing.RegisterParticipant,
                            licensing_pb2.RegisterParticipantRequest(
                                request_id=f"country-{code}",
                                kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
                                legal_name="Acme", tax_id="T", country=code), timeout=20)
            assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert message(error).startswith("country: must be an assigned ISO 3166"), code
    with world.client("exchange_x") as ex:
        error = failure(ex.record_trade, trade(world, "country-uk", counterparty_country="UK"))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert message(error).startswith("counterparty_country:"), message(error)


ABSURD_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["1e999999", "-1e999999", "Infinity", "NaN", "1E+15", "9" * 65,
                     "0." + "0" * 30 + "1", "1e-19", "\x00", "1\n2", " "]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(quantity=ABSURD_TEXT, price=ABSURD_TEXT, asset=st.text(max_size=30))
def test_absurd_trades_are_never_internal_and_store_nothing_invalid(
        trust_world: World, quantity: str, price: str, asset: str) -> None:
    world = trust_world
    request_id = f"prop-{abs(hash((quantity, price, asset)))}"
    with world.client("exchange_x") as ex:
        try:
            result = ex.record_trade(trade(world, request_id, quantity=quantity, price=price,
                                           asset=asset))
        except grpc.RpcError as error:
            assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT,
                                    grpc.StatusCode.FAILED_PRECONDITION), message(error)
            if error.code() is grpc.StatusCode.INVALID_ARGUMENT:
                # Nothing half-done: the request left no trade behind.
                again = failure(ex.record_trade, trade(world, request_id, quantity=quantity,
                                                       price=price, asset=asset))
                assert again.code() is grpc.StatusCode.INVALID_ARGUMENT
            return
    # Accepted only when every number was a bounded positive decimal.
    assert Decimal(quantity) > 0 and Decimal(price) > 0
    assert result.status in (trading_pb2.TRADE_STATUS_RECORDED,
                             trading_pb2.TRADE_STATUS_BLOCKED)


# ------------------------------------------------------------------------- concurrency


@pytest.fixture(scope="module")
def shared_world(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[World]:
    """A world on PostgreSQL: the store several servers share."""
    root: Path = tmp_path_factory.mktemp("shared")
    world = build_world(root, postgres_server.url(postgres_server.create_database()))
    try:
        yield world
    finally:
        world.stop()


def test_two_servers_eight_writers_one_buyer_nothing_internal_lost_or_duplicated(
        shared_world: World) -> None:
    world = shared_world
    assert world.server is not None
    port = free_port()
    second = ServerThread(world.store, world.server.tls, port, world.clock)
    try:
        targets = [world.target, f"127.0.0.1:{port}"]
        per_writer, writers = 10, 8
        codes: list[grpc.StatusCode] = []
        recorded: dict[str, str] = {}
        lock = threading.Lock()

        def write(w: int) -> None:
            client = LedgerClient.connect(targets[w % 2], world.cert("exchange_x"),
                                          world.signers["exchange_x"], timeout=60)
            with client:
                for i in range(per_writer):
                    request_id = f"race-{w}-{i}"
                    payload = trade(world, request_id, quantity="0.01",
                                    wallet_kind=trading_pb2.WALLET_KIND_SELF_HOSTED,
                                    travel_rule=full_travel_rule())
                    while True:  # a client retries ABORTED with the same request id
                        try:
                            result = client.record_trade(payload)
                        except grpc.RpcError as error:
                            with lock:
                                codes.append(error.code())
                            if error.code() is grpc.StatusCode.ABORTED:
                                continue
                            raise
                        with lock:
                            recorded[request_id] = result.receipt.aggregate_id
                        break

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert all(code is grpc.StatusCode.ABORTED for code in codes), codes
        assert len(recorded) == writers * per_writer  # nothing lost
        assert len(set(recorded.values())) == writers * per_writer  # nothing duplicated
        with world.client("regulator") as reg:
            stored = [e for e in reg.list_events(
                participant_id=world.ids["buyer"],
                event_types=[common_pb2.EVENT_TYPE_TRADE_RECORDED], page_size=1000)
                if str(e.data["request_id"]).startswith("race-")]
        assert sorted(str(e.data["request_id"]) for e in stored) == sorted(recorded)
    finally:
        second.stop()


def test_an_aggregate_read_on_one_server_shows_another_servers_write(
        shared_world: World) -> None:
    world = shared_world
    assert world.server is not None
    port = free_port()
    second = ServerThread(world.store, world.server.tls, port, world.clock)
    try:
        request = history_pb2.GetAggregateRequest(aggregate_id=world.ids["miner_b"])
        with world.client("regulator") as reg:
            before = reg.history.GetAggregate(request, timeout=20).aggregate.version
        other = LedgerClient.connect(f"127.0.0.1:{port}", world.cert("regulator"), timeout=20)
        with other:
            other.licensing.SuspendParticipant(licensing_pb2.SuspendParticipantRequest(
                request_id="suspend-elsewhere", participant_id=world.ids["miner_b"],
                reason="inquiry"), timeout=20)
        with world.client("regulator") as reg:
            after = reg.history.GetAggregate(request, timeout=20).aggregate.version
        assert after == before + 1  # not the copy the first server had cached
    finally:
        second.stop()
