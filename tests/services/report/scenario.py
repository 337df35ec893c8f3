"""A scenario store for the report: two mining licences over two months, a market with
recorded, blocked, foreign and self-hosted trades, structuring, alerts (one resolved), and
a signed checkpoint followed by one more record that the report must leave out."""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.audit.log import AuditLog
from ledger.domain.trade import TradeRequest, WalletKind
from ledger.trading import TradeBlocked
from tests.ledger.conftest import FULL_TRAVEL_RULE
from tlog.note import NoteSigner
from verifier.simulator import (
    SimulatedPeriod,
    hashrate_for_shares,
    honest_miner,
    mine_period,
    over_capacity_miner,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MARCH = datetime(2026, 3, 2, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)
FEBRUARY = datetime(2026, 2, 2, tzinfo=UTC)
T = 3600
D = Decimal(2) ** -24
NETWORK_D = D * 16
SUBSIDY, FEES = Decimal("3.125"), Decimal("0.1")
REWARD = SUBSIDY + FEES
J_PER_TH = Decimal(25)
CAPACITY_HS = hashrate_for_shares(300, T, D)
LICENSED_MW = (CAPACITY_HS / 10**12 * J_PER_TH / 10**6).quantize(Decimal("1e-18"))
ORIGIN = "report.valedger.test/ledger"
HOME = "KZ"
"""The home country recorded when the store is initialised (as `valedger db init` does)."""

MINERS = {
    "steppe": honest_miner(CAPACITY_HS * Decimal("0.8"), b"/steppe/"),
    "tengri": over_capacity_miner(CAPACITY_HS, Decimal(2), b"/tengri/"),
}
ESCALATION = ("analyst Dana", "head of supervision")
"""Who Tengri's open mining case is assigned to, and whom it is escalated to."""
SUSPENSION = (datetime(2026, 3, 22, tzinfo=UTC), datetime(2026, 3, 24, tzinfo=UTC))
"""When Tengri's licence is suspended, and until when."""
WATCH_LIST = {"source": "PEP-TEST", "version": "2026-01-01",
              "entries": [{"id": "PEP.7", "name": "Marat Zhaksylykov", "categories": ["PEP"]}]}
"""A screening list with one politically exposed person (a name-only, possible match)."""
POOL_NAME = "Altai Pool"
NAMES = {"steppe": "Steppe Hash LLP", "tengri": "Tengri Compute JSC"}


@functools.cache
def mined(kind: str, start: datetime, seed: int) -> SimulatedPeriod:
    """Returns a genuinely mined hour (cached: both stores get the same shares)."""
    return mine_period(MINERS[kind], start_time=int(start.timestamp()), seconds=T,
                       network_difficulty=NETWORK_D, seed=seed)


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def _kwh(hashrate: Decimal) -> Decimal:
    return (hashrate / 10**12 * T * J_PER_TH / 3_600_000).quantize(Decimal("1e-18"))


@dataclass
class Scenario:
    """The ledger and the ids the tests look up."""

    ledger: Any
    participants: dict[str, UUID] = field(default_factory=dict)
    licences: dict[str, UUID] = field(default_factory=dict)
    exchange_licence: UUID = field(default_factory=lambda: UUID(int=0))
    vasps: dict[str, UUID] = field(default_factory=dict)
    signer: NoteSigner = field(default_factory=lambda: NoteSigner.generate(ORIGIN))
    checkpoint_size: int = 0

    def participant(self, key: str, legal_name: str, at: datetime = START) -> UUID:
        pid = self.ledger.register_participant(f"reg-{key}", "ENTERPRISE", legal_name,
                                               f"TAX-{key}", HOME, at=at).aggregate_id
        self.ledger.approve_participant(f"approve-{key}", pid, at=at)
        self.participants[key] = pid
        return pid

    def trade(self, request_id: str, usd: str, at: datetime, **fields: Any) -> TradeRequest:
        values: dict[str, Any] = {
            "request_id": request_id, "exchange_licence_id": self.exchange_licence,
            "exchange_trade_id": f"x-{request_id}", "asset": "BTC",
            "quantity": Decimal(1), "price": Decimal(usd), "quote_currency": "USD",
            "buyer_id": self.participants["buyer"], "seller_id": self.participants["seller"],
            "counterparty_vasp_id": None, "counterparty_country": HOME,
            "wallet_kind": WalletKind.HOSTED, "at": at}
        values.update(fields)
        return TradeRequest(**values)

    def record(self, request: TradeRequest) -> bool:
        """Records a trade; returns False when a rule blocked it."""
        try:
            self.ledger.record_trade(request)
        except TradeBlocked:
            return False
        return True


def build_scenario(ledger: Ledger) -> Scenario:
    """Returns the scenario written into ``ledger`` (an on-time ledger), checkpoint
    signed, one trade recorded after it."""
    s = Scenario(ledger)
    ledger.set_policy("home-country", "home_country", HOME, at=START)
    for key in ("steppe", "tengri"):
        s.participant(key, NAMES[key])
        s.licences[key] = ledger.grant_mining_licence(
            f"grant-{key}", s.participants[key], "North", "Z1", f"M-{key}", LICENSED_MW,
            J_PER_TH, [MINERS[key].coinbase_tag.hex()], START, END, at=START).aggregate_id
    # A licence mining in an accredited pool, granted from June: not active in March, so
    # it is in the snapshot (named by its pool) without a March row.
    pool = ledger.register_pool("pool-altai", POOL_NAME, HOME, "FPPS", "0.02",
                                at=START).aggregate_id
    s.participant("altai", "Altai Pool Miners LLP")
    s.licences["altai"] = ledger.grant_mining_licence(
        "grant-altai", s.participants["altai"], "East", "Z2", "M-altai", LICENSED_MW,
        J_PER_TH, ["2f616c7461692f"], JUNE, END, at=START, mode="POOL",
        pool_id=pool).aggregate_id
    s.participant("exchange", "Astana Digital Exchange JSC")
    s.participant("buyer", "Aru Traders LLP")
    s.participant("seller", "Bota Holdings LLP")
    s.exchange_licence = ledger.grant_exchange_licence(
        "grant-exchange", s.participants["exchange"], ["spot"], START, END,
        at=START).aggregate_id
    s.vasps["bosphorus"] = ledger.register_vasp(
        "vasp-bosphorus", "Bosphorus VASP", "TR", foreign_registration="TR-MASAK-0001",
        at=START).aggregate_id
    s.vasps["home"] = ledger.register_vasp(
        "vasp-home", "Astana Digital Exchange", HOME, licence_id=s.exchange_licence,
        at=START).aggregate_id
    ledger.import_screening_list("watch-list", json.dumps(WATCH_LIST).encode(), at=START)
    network = _decimal(mined("steppe", MARCH, 1).network_difficulty)
    for parameter, value in (("network_difficulty", network), ("block_subsidy", SUBSIDY),
                             ("mean_fees", FEES)):
        ledger.set_policy(f"policy-{parameter}", parameter, str(value), effective_from=START,
                          at=START)
    # The scenario's miners sell nothing through the exchange: no sale share is required
    # of them, so the verdicts shown are those of their mining alone.
    ledger.set_policy("policy-sale-share", "mandatory_sale_share", "0", effective_from=START,
                      at=START)
    ledger.set_policy("policy-cap", "outflow_cap_usd", "20000",
                      effective_from=START + HOUR, at=START + HOUR)
    for start, plan in ((FEBRUARY, {"steppe": 3}), (MARCH, {"steppe": 1, "tengri": 2})):
        for key, seed in plan.items():
            period = mined(key, start, seed)
            tag = f"{key}-{start:%m}"
            ledger.submit_proof_batch(f"proofs-{tag}", s.licences[key], period.batch,
                                      at=start + HOUR + timedelta(minutes=5))
            output = period.reported_output(REWARD)
            ledger.report_output(f"report-{tag}", s.licences[key], start, start + HOUR,
                                 "BTC", output, [f"bc1q{key}"], output, at=start + HOUR)
            ledger.record_meter_reading(f"meter-{tag}", f"M-{key}", start, start + HOUR,
                                        _kwh(period.miner.hashrate), at=start + HOUR)
            ledger.close_reconciliation(f"close-{tag}", s.licences[key], start,
                                        start + HOUR, at=start + 2 * HOUR)
    day = datetime(2026, 3, 10, 9, tzinfo=UTC)
    s.record(s.trade("feb-1", "500", FEBRUARY + timedelta(days=5)))
    s.record(s.trade("mar-1", "100", day))
    s.record(s.trade("mar-2", "2500", day + HOUR, travel_rule=FULL_TRAVEL_RULE))
    s.record(s.trade("mar-3", "1500", day + 2 * HOUR, asset="ETH"))  # travel rule missing
    s.record(s.trade("mar-4", "12000", day + 3 * HOUR, travel_rule=FULL_TRAVEL_RULE,
                     counterparty_vasp_id=s.vasps["bosphorus"], counterparty_country=""))
    s.record(s.trade("mar-5", "6000", day + 4 * HOUR, travel_rule=FULL_TRAVEL_RULE,
                     wallet_kind=WalletKind.SELF_HOSTED))
    s.record(s.trade("mar-6", "9000", day + 5 * HOUR, travel_rule=FULL_TRAVEL_RULE,
                     counterparty_vasp_id=s.vasps["bosphorus"],
                     counterparty_country=""))  # cap
    watched = copy.deepcopy(FULL_TRAVEL_RULE)
    watched["beneficiary"]["persons"][0]["names"] = [
        {"primary": "Zhaksylykov", "secondary": "Marat"}]
    s.record(s.trade("mar-7", "2000", day + 5 * HOUR + timedelta(minutes=30),
                     travel_rule=watched))  # a screening hit, recorded
    for i in range(3):  # structuring: three just under the threshold within 24 h
        s.record(s.trade(f"mar-s{i}", "999", day + timedelta(hours=6 + i)))
    first = ledger.list_alerts()[0]
    ledger.resolve_alert("resolve-1", first.id, "supervisor", "explained",
                         at=datetime(2026, 3, 20, tzinfo=UTC))
    # A case worked on: Tengri's open mining alert assigned and escalated; the licence
    # suspended for two days while it is examined.
    over = next(a for a in ledger.list_alerts()
                if a.is_open and a.participant_id == s.participants["tengri"])
    ledger.assign_alert("assign-1", over.id, "supervisor", ESCALATION[0],
                        at=datetime(2026, 3, 21, tzinfo=UTC))
    ledger.escalate_alert("escalate-1", over.id, "supervisor", ESCALATION[1],
                          "capacity twice the licence", at=datetime(2026, 3, 21, 1, tzinfo=UTC))
    ledger.suspend_licence("suspend-tengri", s.licences["tengri"], "capacity under review",
                           until=SUSPENSION[1], at=SUSPENSION[0])
    log = AuditLog(ledger.recorder, signer=s.signer)
    try:
        s.checkpoint_size = log.follower.checkpoint_now().size
    finally:
        log.follower.stop()
    s.record(s.trade("after-checkpoint", "777", datetime(2026, 3, 25, tzinfo=UTC)))
    return s
