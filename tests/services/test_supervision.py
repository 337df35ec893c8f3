"""Supervision over gRPC: licence renewal and the meter's one active licence, refused
reports and readings kept on the record, what participant decisions do to licences, and
the supervisory calendar inside two servers on one PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import generate_latest

from services import wire
from services.envelope import Signer
from services.generated.valedger.v1 import (
    common_pb2,
    compliance_pb2,
    licensing_pb2,
    mining_pb2,
)
from services.metrics import ServerMetrics
from services.server import ServerOptions, start_calendar
from tests.services.harness import (
    NOW,
    SET_UP,
    ServerThread,
    World,
    build_world,
    free_port,
    participant_id,
    reason,
)

DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)


def failure(call: Any, *args: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args)
    return caught.value


def ts(value: datetime) -> Any:
    return wire.timestamp(value)


def new_miner(world: World, name: str) -> str:
    """Registers and approves a miner with a signing key; returns its participant id."""
    world.ids[name] = participant_id(f"register-{name}")
    world.signers[name] = Signer.generate()
    with world.client("regulator") as reg:
        reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
            request_id=f"register-{name}", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
            legal_name=name, tax_id=f"tax-{name}", country="KZ", at=ts(SET_UP)))
        reg.licensing.ApproveParticipant(licensing_pb2.ApproveParticipantRequest(
            request_id=f"approve-{name}", participant_id=world.ids[name], at=ts(SET_UP)))
    with world.client(name) as own:
        own.register_signing_key(world.ids[name], f"key-{name}", at=SET_UP)
    return world.ids[name]


def grant(world: World, request_id: str, holder: str, meter: str, valid_from: datetime,
          valid_until: datetime) -> str:
    """Grants a mining licence through the API; returns its id."""
    with world.client("regulator") as reg:
        return str(reg.licensing.GrantMiningLicence(licensing_pb2.GrantMiningLicenceRequest(
            request_id=request_id, participant_id=holder,
            site=licensing_pb2.Site(region="north", grid_zone="z1", meter_id=meter),
            licensed_power_mw="5", declared_efficiency_j_per_th="20",
            valid_from=ts(valid_from), valid_until=ts(valid_until))).receipt.aggregate_id)


def get_licence(world: World, licence_id: str) -> licensing_pb2.Licence:
    with world.client("regulator") as reg:
        return reg.licensing.GetLicence(
            licensing_pb2.GetLicenceRequest(licence_id=licence_id)).licence


def alerts(world: World, **filters: Any) -> list[compliance_pb2.Alert]:
    with world.client("regulator") as reg:
        return list(reg.compliance.ListAlerts(
            compliance_pb2.ListAlertsRequest(page_size=1000, **filters)).alerts)


def report(licence_id: str, request_id: str, at: datetime,
           amount: str = "2") -> mining_pb2.OutputReportPayload:
    return mining_pb2.OutputReportPayload(
        request_id=request_id, licence_id=licence_id,
        period=common_pb2.Period(start_time=ts(at - 7 * DAY), end_time=ts(at)),
        asset="BTC", amount=amount, sold_through_exchange_amount=amount, wallets=["bc1q"],
        at=ts(at))


def reading(request_id: str, meter: str, end: datetime,
            kwh: str = "1000") -> mining_pb2.RecordMeterReadingRequest:
    return mining_pb2.RecordMeterReadingRequest(
        request_id=request_id, meter_id=meter,
        period=common_pb2.Period(start_time=ts(end - DAY), end_time=ts(end)), kwh=kwh,
        at=ts(end))


# -------------------------------------------------------------------- renewal and meters

def test_renewal_is_a_linked_successor_on_the_same_meter(world: World) -> None:
    holder = new_miner(world, "miner_renew")
    end = NOW + 30 * DAY
    old = grant(world, "renew-grant", holder, "m-renew", NOW - DAY, end)
    with world.client("regulator") as reg:
        # On main this meter belonged to its first licence for ever.
        renewed = reg.licensing.RenewLicence(licensing_pb2.RenewLicenceRequest(
            request_id="renew-1", licence_id=old, valid_until=ts(end + 365 * DAY)))
        again = reg.licensing.RenewLicence(licensing_pb2.RenewLicenceRequest(
            request_id="renew-1", licence_id=old, valid_until=ts(end + 365 * DAY)))
        twice = failure(reg.licensing.RenewLicence, licensing_pb2.RenewLicenceRequest(
            request_id="renew-2", licence_id=old, valid_until=ts(end + 400 * DAY)))
        overlapping = failure(reg.licensing.GrantMiningLicence,
                              licensing_pb2.GrantMiningLicenceRequest(
                                  request_id="renew-rival", participant_id=holder,
                                  site=licensing_pb2.Site(region="n", grid_zone="z",
                                                          meter_id="m-renew"),
                                  licensed_power_mw="1", declared_efficiency_j_per_th="20",
                                  valid_from=ts(end + 100 * DAY),
                                  valid_until=ts(end + 500 * DAY)))
    successor = renewed.receipt.aggregate_id
    assert again.receipt.replayed and again.receipt.aggregate_id == successor
    assert reason(twice) == "LICENCE_ALREADY_RENEWED"
    assert reason(overlapping) == "METER_IN_USE"  # two active licences never share one
    new = get_licence(world, successor)
    assert new.renewal_of == old and get_licence(world, old).renewed_by == successor
    assert new.valid_from == ts(end) and new.valid_until == ts(end + 365 * DAY)
    assert new.status == licensing_pb2.LICENCE_STATUS_PENDING
    assert new.mining.site.meter_id == "m-renew" and new.mining.licensed_power_mw == "5"
    # After the old term, the successor is active and the meter's readings are its own.
    world.clock.set(end + DAY)
    assert get_licence(world, successor).status == licensing_pb2.LICENCE_STATUS_ACTIVE
    assert get_licence(world, old).status == licensing_pb2.LICENCE_STATUS_EXPIRED
    with world.client("grid") as grid:
        grid.mining.RecordMeterReading(reading("renew-read", "m-renew", end + DAY))
    assert [a for a in alerts(world, subject=successor)] == []


def test_a_term_that_ended_is_not_renewed_but_the_site_may_be_licensed_again(
        world: World) -> None:
    holder = new_miner(world, "miner_late")
    end = NOW + DAY
    old = grant(world, "late-grant", holder, "m-late", NOW - DAY, end)
    world.clock.set(end)
    with world.client("regulator") as reg:
        late = failure(reg.licensing.RenewLicence, licensing_pb2.RenewLicenceRequest(
            request_id="late-renew", licence_id=old, valid_until=ts(end + 365 * DAY)))
    assert late.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert reason(late) == "LICENCE_EXPIRED"
    assert grant(world, "late-regrant", holder, "m-late", end, end + 365 * DAY)


def test_a_site_is_licensed_again_from_the_instant_of_revocation(world: World) -> None:
    holder = new_miner(world, "miner_revoked")
    old = grant(world, "rv-grant", holder, "m-rv", NOW - DAY, NOW + 300 * DAY)
    revoked_at = NOW - 12 * timedelta(hours=1)
    with world.client("regulator") as reg:
        reg.licensing.RevokeLicence(licensing_pb2.RevokeLicenceRequest(
            request_id="rv-revoke", licence_id=old, reason="fraud", at=ts(revoked_at)))
        early = failure(reg.licensing.GrantMiningLicence,
                        licensing_pb2.GrantMiningLicenceRequest(
                            request_id="rv-early", participant_id=holder,
                            site=licensing_pb2.Site(region="n", grid_zone="z",
                                                    meter_id="m-rv"),
                            licensed_power_mw="1", declared_efficiency_j_per_th="20",
                            valid_from=ts(revoked_at - TICK), valid_until=ts(NOW + 9 * DAY)))
    assert reason(early) == "METER_IN_USE"
    assert grant(world, "rv-again", holder, "m-rv", revoked_at, NOW + 300 * DAY)


# ----------------------------------------------------------------- attempts on the record

def test_refused_reports_leave_a_trace_with_what_was_sent(world: World) -> None:
    holder = new_miner(world, "miner_refused")
    licence = grant(world, "refused-grant", holder, "m-refused", NOW - 20 * DAY,
                    NOW + 300 * DAY)
    stranger = Signer.generate("key-not-registered")
    with world.client("miner_refused", stranger) as miner:
        unknown = failure(miner.report_output, report(licence, "unknown-key", NOW, "3.5"))
    with world.client("regulator") as reg:
        reg.licensing.SuspendLicence(licensing_pb2.SuspendLicenceRequest(
            request_id="refused-suspend", licence_id=licence, reason="audit",
            at=ts(NOW - DAY)))
    with world.client("miner_refused") as miner:
        suspended = failure(miner.report_output, report(licence, "while-suspended", NOW))
        bad = report(licence, "bad-figures", NOW, "1")
        bad.sold_through_exchange_amount = "2"
        invalid = failure(miner.report_output, bad)
    assert reason(unknown) == "KEY_UNKNOWN"
    assert reason(suspended) == "LICENCE_NOT_ACTIVE"
    assert invalid.code() is grpc.StatusCode.INVALID_ARGUMENT
    kept = {a.figures["sent.request_id"]: a for a in alerts(world, subject=licence)}
    assert {k: a.kind for k, a in kept.items()} == {
        "unknown-key": "KEY_UNKNOWN", "while-suspended": "LICENCE_NOT_ACTIVE",
        "bad-figures": "INVALID_ARGUMENT"}
    assert kept["unknown-key"].figures["sent.amount"] == "3.5"
    assert kept["unknown-key"].figures["envelope.key_id"] == "key-not-registered"
    assert kept["unknown-key"].figures["envelope.payload"]  # the signed bytes as sent
    assert kept["bad-figures"].figures["sent.sold_through_exchange_amount"] == "2"
    assert all(a.participant_id == holder for a in kept.values())


def test_readings_after_revocation_are_recorded_and_alerted(world: World) -> None:
    holder = new_miner(world, "miner_meter")
    licence = grant(world, "meter-grant", holder, "m-meter", NOW - 20 * DAY,
                    NOW + 300 * DAY)
    revoked_at = NOW - 2 * DAY
    with world.client("regulator") as reg:
        reg.licensing.RevokeLicence(licensing_pb2.RevokeLicenceRequest(
            request_id="meter-revoke", licence_id=licence, reason="fraud",
            at=ts(revoked_at)))
    with world.client("grid") as grid:
        before = grid.mining.RecordMeterReading(reading("before", "m-meter", revoked_at))
        after = grid.mining.RecordMeterReading(reading("after", "m-meter",
                                                       revoked_at + TICK, "777"))
        negative = failure(grid.mining.RecordMeterReading,
                           reading("negative", "m-meter", NOW, "-5"))
    assert before.receipt.aggregate_id and after.receipt.aggregate_id
    assert negative.code() is grpc.StatusCode.INVALID_ARGUMENT
    [alert] = alerts(world, subject=licence)
    assert alert.kind == "LICENCE_NOT_ACTIVE" and alert.figures["kwh"] == "777"
    assert alert.evidence == [f"{after.receipt.aggregate_id}:1"]
    [kept] = [a for a in alerts(world, kind="INVALID_ARGUMENT")
              if a.figures.get("sent.request_id") == "negative"]
    assert kept.figures["sent.kwh"] == "-5" and kept.figures["sent.meter_id"] == "m-meter"


# --------------------------------------------------------------- participant decisions

def test_deregistering_revokes_licences_and_suspending_stops_reports(world: World) -> None:
    holder = new_miner(world, "miner_gone")
    licence = grant(world, "gone-grant", holder, "m-gone", NOW - 20 * DAY, NOW + 300 * DAY)
    with world.client("regulator") as reg:
        reg.licensing.SuspendParticipant(licensing_pb2.SuspendParticipantRequest(
            request_id="gone-suspend", participant_id=holder, reason="inquiry",
            at=ts(NOW - DAY)))
    with world.client("miner_gone") as miner:
        refused = failure(miner.report_output, report(licence, "gone-1", NOW))
    assert reason(refused) == "PARTICIPANT_NOT_ACTIVE"
    with world.client("regulator") as reg:
        reg.licensing.ReinstateParticipant(licensing_pb2.ReinstateParticipantRequest(
            request_id="gone-reinstate", participant_id=holder))
    with world.client("miner_gone") as miner:
        assert miner.report_output(report(licence, "gone-2", NOW)).receipt.aggregate_id
    assert get_licence(world, licence).status == licensing_pb2.LICENCE_STATUS_ACTIVE
    with world.client("regulator") as reg:
        reg.licensing.DeregisterParticipant(licensing_pb2.DeregisterParticipantRequest(
            request_id="gone-deregister", participant_id=holder, reason="closed"))
    gone = get_licence(world, licence)
    assert gone.status == licensing_pb2.LICENCE_STATUS_REVOKED
    assert gone.status_reason == "holder deregistered: closed"
    # The meter is free for the next operator of the site.
    other = new_miner(world, "miner_next")
    assert grant(world, "next-grant", other, "m-gone", NOW, NOW + 300 * DAY)


# ----------------------------------------------------------------- the calendar, served

@pytest.fixture
def two_servers(tmp_path: Path, postgres_url: str) -> Iterator[tuple[World, ServerThread]]:
    """Returns a world on PostgreSQL and a second server on the same store and clock."""
    world = build_world(tmp_path, postgres_url)
    from services.tls import TlsFiles

    tls = TlsFiles.issued(world.ca.issue("server", "localhost"))
    second = ServerThread(world.store, tls, free_port(), world.clock)
    try:
        yield world, second
    finally:
        second.stop()
        world.stop()


def test_the_calendar_runs_once_in_two_servers_on_one_postgres(
        two_servers: tuple[World, ServerThread]) -> None:
    world, second = two_servers
    assert world.server is not None
    servers = [world.server, second]
    metrics = []
    for server in servers:
        attached = ServerMetrics()
        attached.attach(server.backend)
        server.backend.ledger.calendar.settle = timedelta(0)
        metrics.append(attached)
    ledger = world.server.backend.ledger
    utc = NOW.tzinfo
    june, july = datetime(2026, 6, 1, tzinfo=utc), datetime(2026, 7, 1, tzinfo=utc)
    # The world's licences were granted at NOW (1 June, valid since January): May is the
    # first month whose deadline (21 June) follows the grant; June's is 21 July.
    deadline = datetime(2026, 7, 21, tzinfo=utc)
    world.clock.set(july)
    with world.client("miner_a") as miner:
        payload = report(world.ids["licence_miner_a"], "june", july)
        payload.period.start_time.CopyFrom(ts(june))
        miner.report_output(payload)
    start_calendar(second.backend, ServerOptions(calendar_interval_seconds=0))
    assert second.backend.ledger.calendar._thread is None  # 0: not run by this server
    for server in servers:
        start_calendar(server.backend, ServerOptions(calendar_interval_seconds=0.05))

    def settle(reconciliations: int) -> None:
        wait_until = time.monotonic() + 30
        while time.monotonic() < wait_until and \
                len(ledger.list_reconciliations()) < reconciliations:
            time.sleep(0.05)
        time.sleep(0.5)  # more runs of both servers: nothing happens twice

    settle(2)
    may = alerts(world, kind="REPORT_MISSING")
    assert sorted(a.subject for a in may) == sorted(
        [world.ids["licence_miner_a"], world.ids["licence_miner_b"]])
    world.clock.set(deadline - TICK)
    time.sleep(0.3)
    assert len(alerts(world, kind="REPORT_MISSING")) == 2
    world.clock.set(deadline)
    settle(4)
    for server in servers:
        server.backend.ledger.calendar.stop()
    # miner_b reported nothing for June: one alert, raised at the deadline; miner_a
    # reported the whole of June, so none.
    [june_missing] = [a for a in alerts(world, kind="REPORT_MISSING") if a not in may]
    assert june_missing.subject == world.ids["licence_miner_b"]
    assert june_missing.raised_at == ts(deadline)
    assert len(ledger.list_reconciliations()) == 4
    texts = [generate_latest(m.registry).decode() for m in metrics]
    done = sum(_sample(t, 'valedger_calendar_items_total{kind="report_missing"}')
               for t in texts)
    closes = sum(_sample(t, 'valedger_calendar_items_total{kind="period_close"}')
                 for t in texts)
    assert (done, closes) == (3, 4)
    assert sum(_sample(t, 'valedger_calendar_runs_total{leading="true"}') for t in texts) >= 2
    assert all(_sample(t, "valedger_calendar_run_timestamp_seconds") == deadline.timestamp()
               for t in texts)


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
