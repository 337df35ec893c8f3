"""A real valedger server on loopback for the service tests, with a CA and a populated world.

The server runs in a background thread with its own asyncio loop; tests talk to it with
the synchronous client over real mTLS.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from ledger.application import Ledger
from ledger.audit.follower import CheckpointPolicy
from ledger.audit.log import AuditLog
from ledger.clock import ManualClock
from ledger.config import StoreConfig
from ledger.domain.licence import ExchangeLicence, MiningLicence
from ledger.domain.participant import Participant
from ledger.requests import REGULATOR
from services.ca import CertificateAuthority, Role
from services.client import LedgerClient
from services.envelope import Signer
from services.generated.valedger.v1 import (
    common_pb2,
    compliance_pb2,
    licensing_pb2,
    trading_pb2,
)
from services.ledger_pool import LedgerPool
from services.server import LedgerServer, ServerOptions
from services.tls import TlsFiles
from tlog.note import NoteSigner

AUDIT_SIGNER = NoteSigner.generate("valedger.test/ledger")
VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2030, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
"""The server's clock when a world starts (tests move ``World.clock`` from there)."""
HOME = "KZ"
"""The home country the world's ledger is given (as `valedger db init` would)."""
SET_UP = NOW - timedelta(days=29)
"""When the world's participants were approved and their keys registered: inside the
regulator's 30-day window of ``NOW``."""
TRADE_AT = datetime(2026, 6, 1, tzinfo=UTC)
"""The default time of a trade: twelve hours before the server's ``NOW``."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """A LedgerServer running on its own loop in a daemon thread."""

    def __init__(self, store: StoreConfig, tls: TlsFiles, port: int,
                 clock: ManualClock | None = None, **options: Any) -> None:
        self.store, self.tls, self.port = store, tls, port
        self.options = ServerOptions(listen=f"127.0.0.1:{port}", tls=tls,
                                     grace_seconds=2.0, **options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        ledger = Ledger(store, clock=clock or ManualClock(NOW))
        audit = AuditLog(ledger.recorder, signer=AUDIT_SIGNER,
                         policy=CheckpointPolicy(every_records=10, every_seconds=0),
                         witnesses=self.options.audit_witnesses)
        self.backend = LedgerPool.open(ledger, workers=4,
                                    trade_batch_size=self.options.trade_batch_size,
                                    poll_seconds=0.02, audit=audit,
                                    signature_workers=self.options.signature_workers)
        self.server = self._call(self._make())
        self._call(self.server.start())

    async def _make(self) -> LedgerServer:
        return LedgerServer(self.backend, self.options)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def stop(self) -> None:
        self._call(self.server.stop(1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class World:
    """CA, certificates, signing keys and the ids of a small populated ledger."""

    root: Path
    store: StoreConfig
    ca: CertificateAuthority
    port: int = 0
    server: ServerThread | None = None
    signers: dict[str, Signer] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    certs: dict[str, TlsFiles] = field(default_factory=dict)
    clock: ManualClock = field(default_factory=lambda: ManualClock(NOW))
    """The server's clock (tests set it: the world starts at ``NOW``)."""

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, **options: Any) -> None:
        self.port = self.port or free_port()
        server_tls = TlsFiles.issued(self.ca.issue("server", "localhost"))
        self.server = ServerThread(self.store, server_tls, self.port, self.clock, **options)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def cert(self, who: str) -> TlsFiles:
        """Returns the TLS files of ``who`` (regulator, auditor, grid, miner_a, miner_b,
        exchange_x, exchange_y)."""
        if who not in self.certs:
            role = who.split("_", 1)[0]
            participant = self.ids.get(who, who)
            self.certs[who] = TlsFiles.issued(self.ca.issue(role, who, participant))
        return self.certs[who]

    def client(self, who: str, signer: Signer | None = None) -> LedgerClient:
        return LedgerClient.connect(self.target, self.cert(who),
                                    signer or self.signers.get(who), timeout=20)


def participant_id(request_id: str) -> str:
    return str(Participant.create_id(REGULATOR, request_id))


def build_world(root: Path, store_url: str, **options: Any) -> World:
    """Returns a started world (``options``: ServerOptions fields): regulator set-up done
    through the gRPC API itself."""
    world = World(root, StoreConfig(url=store_url),
                  CertificateAuthority.init(root / "ca"))
    for name in ("miner_a", "miner_b", "exchange_x", "exchange_y", "buyer", "seller"):
        world.ids[name] = participant_id(f"register-{name}")
    for name in ("miner_a", "miner_b", "exchange_x", "exchange_y"):
        world.signers[name] = Signer.generate()
    world.start(**options)
    with world.client("regulator") as reg:
        reg.compliance.SetPolicy(compliance_pb2.SetPolicyRequest(
            request_id="home-country", parameter="home_country", value=HOME,
            at=_ts(SET_UP)), timeout=20)
        for name in ("miner_a", "miner_b", "exchange_x", "exchange_y", "buyer", "seller"):
            reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
                request_id=f"register-{name}", kind=common_pb2.PARTICIPANT_KIND_ENTERPRISE,
                legal_name=name.title(), tax_id=f"tax-{name}", country="KZ",
                beneficial_owners=["Owner"], at=_ts(SET_UP)), timeout=20)
            reg.licensing.ApproveParticipant(licensing_pb2.ApproveParticipantRequest(
                request_id=f"approve-{name}", participant_id=world.ids[name],
                at=_ts(SET_UP)), timeout=20)
        for name in ("miner_a", "miner_b"):
            request_id = f"grant-{name}"
            reg.licensing.GrantMiningLicence(licensing_pb2.GrantMiningLicenceRequest(
                request_id=request_id, participant_id=world.ids[name],
                site=licensing_pb2.Site(region="north", grid_zone="z1", meter_id=f"m-{name}"),
                licensed_power_mw="10", declared_efficiency_j_per_th="20",
                coinbase_tags=[name.encode()], valid_from=_ts(VALID_FROM),
                valid_until=_ts(VALID_UNTIL)), timeout=20)
            world.ids[f"licence_{name}"] = str(MiningLicence.create_id(REGULATOR, request_id))
        for name in ("exchange_x", "exchange_y"):
            request_id = f"grant-{name}"
            reg.licensing.GrantExchangeLicence(licensing_pb2.GrantExchangeLicenceRequest(
                request_id=request_id, participant_id=world.ids[name], services=["spot"],
                valid_from=_ts(VALID_FROM), valid_until=_ts(VALID_UNTIL)), timeout=20)
            world.ids[f"licence_{name}"] = str(ExchangeLicence.create_id(REGULATOR,
                                                                         request_id))
    for name in ("miner_a", "miner_b", "exchange_x", "exchange_y"):
        with world.client(name) as own:
            own.register_signing_key(world.ids[name], f"key-{name}", at=SET_UP)
    return world


def _ts(value: datetime) -> Any:
    from services import wire

    return wire.timestamp(value)


def full_travel_rule(originator: str = "Sadykova") -> trading_pb2.TravelRule:
    """Returns IVMS101 travel-rule data complete at or above the threshold."""
    def person(surname: str, given: str, **fields: Any) -> trading_pb2.Person:
        return trading_pb2.Person(names=[trading_pb2.PersonName(
            primary_identifier=surname, secondary_identifier=given)], **fields)

    def vasp(name: str) -> trading_pb2.Person:
        return trading_pb2.Person(legal_person=True, names=[trading_pb2.PersonName(
            primary_identifier=name)])

    return trading_pb2.TravelRule(
        originator=trading_pb2.TravelRuleParty(
            persons=[person(originator, "Aigerim", customer_identification="C-1")],
            account_numbers=["KZ01-0001"]),
        beneficiary=trading_pb2.TravelRuleParty(persons=[person("Omarov", "Daniyar")],
                                                account_numbers=["bc1q-daniyar"]),
        originating_vasp=vasp("Exchange X JSC"), beneficiary_vasp=vasp("Abroad GmbH"))


def trade(world: World, request_id: str, exchange: str = "exchange_x",
          quantity: str = "0.01", price: str = "500", **overrides: Any
          ) -> trading_pb2.TradePayload:
    """Returns a small domestic trade payload of ``exchange``."""
    fields: dict[str, Any] = dict(
        request_id=request_id, exchange_licence_id=world.ids[f"licence_{exchange}"],
        exchange_trade_id=f"t-{request_id}", asset="BTC", quantity=quantity, price=price,
        quote_currency="USD", buyer_participant_id=world.ids["buyer"],
        seller_participant_id=world.ids["seller"], counterparty_country="KZ",
        wallet_kind=trading_pb2.WALLET_KIND_HOSTED,
        at=_ts(TRADE_AT))
    fields.update(overrides)
    return trading_pb2.TradePayload(**fields)


def details(error: grpc.RpcError) -> list[Any]:
    """Returns the google.rpc details of a failed call, unpacked."""
    status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return []
    found: list[Any] = []
    for packed in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest,
                    error_details_pb2.PreconditionFailure, error_details_pb2.ResourceInfo,
                    trading_pb2.TradeResult):
            if packed.Is(cls.DESCRIPTOR):
                message = cls()
                packed.Unpack(message)
                found.append(message)
    return found


def reason(error: grpc.RpcError) -> str:
    """Returns the ErrorInfo reason of a failed call ('' if none)."""
    for detail in details(error):
        if isinstance(detail, error_details_pb2.ErrorInfo):
            return str(detail.reason)
    return ""


ROLES = tuple(Role)
