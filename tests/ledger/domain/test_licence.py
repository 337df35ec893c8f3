"""Licence lifecycle of ``ledger.domain.licence``: validity is a function of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from ledger.domain.licence import ExchangeLicence, MiningLicence, hashrate_cap_ths

FROM = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def mining(power: str = "10", efficiency: str = "20") -> MiningLicence:
    """Returns a mining licence valid through 2026."""
    return MiningLicence(request_id="grant", at=FROM, participant_id=uuid4(), region="North",
                         grid_zone="Z1", meter_id="M-1", power_mw=Decimal(power),
                         efficiency_jth=Decimal(efficiency), coinbase_tags=["ab"],
                         valid_from=FROM, valid_until=UNTIL)


def test_hashrate_cap_is_megawatts_times_a_million_over_joules_per_terahash() -> None:
    assert hashrate_cap_ths(Decimal(10), Decimal(20)) == Decimal(500_000)
    assert hashrate_cap_ths(Decimal("1.5"), Decimal(12)) == Decimal(125_000)


def test_validity_window_edges() -> None:
    licence = mining()
    assert licence.standing_at(FROM - timedelta(seconds=1)) is not None
    assert "not yet valid" in (licence.standing_at(FROM - DAY) or "")
    assert licence.status_at(FROM - DAY) == "PENDING"
    assert licence.is_active_at(FROM) and licence.status_at(FROM) == "ACTIVE"
    assert licence.is_active_at(UNTIL - timedelta(seconds=1))
    assert "expired" in (licence.standing_at(UNTIL) or "")
    assert licence.status_at(UNTIL) == "EXPIRED"


def test_suspension_with_an_end_date_lifts_by_itself() -> None:
    licence = mining()
    start, end = FROM + 10 * DAY, FROM + 20 * DAY
    licence.suspend(request_id="s", at=start, reason="audit", until=end)
    assert licence.is_active_at(start - timedelta(seconds=1))
    assert "suspended" in (licence.standing_at(start) or "")
    assert licence.status_at(start + DAY) == "SUSPENDED"
    assert licence.is_active_at(end)
    assert licence.suspension_reasons == ["audit"]


def test_reinstatement_ends_an_open_suspension_and_keeps_the_past() -> None:
    licence = mining()
    start, back = FROM + 10 * DAY, FROM + 15 * DAY
    licence.suspend(request_id="s", at=start, reason="audit", until=None)
    assert not licence.is_active_at(FROM + 200 * DAY)
    licence.reinstate(request_id="r", at=back)
    assert licence.is_active_at(back)
    assert not licence.is_active_at(back - timedelta(seconds=1))  # still suspended then


def test_revocation_is_final_from_its_time_on() -> None:
    licence = ExchangeLicence(request_id="g", at=FROM, participant_id=uuid4(),
                              services=["spot"], valid_from=FROM, valid_until=UNTIL)
    revoked = FROM + 30 * DAY
    licence.revoke(request_id="r", at=revoked, reason="fraud")
    assert licence.is_active_at(revoked - timedelta(seconds=1))
    assert "revoked" in (licence.standing_at(revoked) or "")
    assert licence.status_at(UNTIL + DAY) == "REVOKED"


def test_capacity_amendments_apply_from_their_effective_time() -> None:
    licence = mining("10", "20")
    later = FROM + 60 * DAY
    licence.amend_capacity(request_id="a", at=FROM + DAY, power_mw=Decimal(20),
                           efficiency_jth=Decimal(25), effective_from=later)
    assert licence.capacity_at(later - timedelta(seconds=1)).power_mw == Decimal(10)
    assert licence.capacity_at(later).hashrate_cap_ths == Decimal(800_000)
    assert licence.power_mw == Decimal(20) and licence.efficiency_jth == Decimal(25)
    # An amendment recorded later but effective earlier slots in by effective time.
    licence.amend_capacity(request_id="b", at=FROM + 2 * DAY, power_mw=Decimal(15),
                           efficiency_jth=Decimal(20), effective_from=FROM + 30 * DAY)
    assert licence.capacity_at(FROM + 40 * DAY).power_mw == Decimal(15)
    assert licence.capacity_at(later).power_mw == Decimal(20)
