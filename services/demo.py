"""`valedger demo`: the whole story, end to end, through real gRPC over mTLS.

The demo makes a private CA and certificates, starts a real ``valedger serve`` process on
an embedded SQLite store, and plays every participant as a separate mTLS client: the
regulator licenses, three mining firms submit genuine proof batches mined by the
simulator (one of them also submits another farm's shares as its own, another keeps
mining while its licence is suspended), the grid operator meters them, an exchange trades
(the farms sell part of their output through it), the period is reconciled, and an
auditor exports the store and verifies it offline with the public key alone — and sees a
tampered copy fail. Every expected outcome is checked; any miss makes it exit
non-zero.

Simulated miners really mine (hashlib), so they run at a few hundred hashes per second,
and the licences are sized to match (micro-watt "mining farms"): the figures and the
statistics are the real ones, at a scale a laptop can prove in seconds.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from scipy.stats import poisson

from ledger import REGULATOR, Participant, is_observation
from services import wire
from services.ca import CertificateAuthority, Role
from services.client import LedgerClient, proof_batch_payload
from services.envelope import Signer
from services.generated.valedger.v1 import (
    audit_pb2,
    common_pb2,
    compliance_pb2,
    licensing_pb2,
    mining_pb2,
    trading_pb2,
)
from services.tls import TlsFiles
from verifier.batch import parse_batch
from verifier.simulator import SimulatedMiner, SimulatedPeriod, mine_period
from verifier.verification import verify_batch

MARKER = ".valedger-demo"
"""A file that marks a directory as the demo's own, so a rerun may clear it."""
HOME_COUNTRY = "KZ"
"""The demo country (given to `valedger db init --home-country`)."""
SANCTIONS_LIST = {
    "source": "DEMO-UN-SC", "version": "2026-11-30",
    "entries": [{"id": "DEMO.001", "name": "Дмитрий Волков", "aliases": ["Dmitri Volkov"],
                 "ids": ["N4455667"], "dates_of_birth": ["1968-03-14"],
                 "categories": ["SANCTIONS", "TERRORISM"]}]}
"""A (fictional) sanctions list the regulator imports before registering anyone."""

ORIGIN = "demo.valedger.example/ledger"
WITNESSES = ("witness.finance-ministry.demo", "witness.audit-chamber.demo")
"""Names of the two independent witnesses that cosign every checkpoint."""
PERIOD_SECONDS = 3600


@dataclass(frozen=True)
class Timeline:
    """The demo's times, relative to when it runs: the server checks every time a client
    claims against its own clock, so the story happens in the last few weeks and hours."""

    now: datetime

    @property
    def hour(self) -> datetime:
        """Returns the start of the current hour."""
        return self.now.replace(minute=0, second=0, microsecond=0)

    @property
    def set_up(self) -> datetime:
        """Returns when participants were registered and approved (20 days ago)."""
        return self.hour - timedelta(days=20)

    @property
    def licence_from(self) -> datetime:
        """Returns when the licences start (19 days ago)."""
        return self.set_up + timedelta(days=1)

    @property
    def licence_until(self) -> datetime:
        """Returns when the licences end (a year on)."""
        return self.licence_from + timedelta(days=365)

    @property
    def period_start(self) -> datetime:
        """Returns the start of the reconciled hour (four hours ago)."""
        return self.hour - timedelta(hours=4)

    @property
    def period_end(self) -> datetime:
        """Returns the end of the reconciled hour."""
        return self.period_start + timedelta(seconds=PERIOD_SECONDS)

    def report_options(self) -> list[str]:
        """Returns the `valedger report` options of a period holding the whole story's last
        hours: the reconciled hour's month, or both months when the run (its hour and the
        two after it, for a long run) reaches into the next one: alerts are stamped by
        the server's clock, the reconciled hour lies four hours earlier."""
        first = self.period_start.replace(day=1, hour=0)
        last = (self.hour + timedelta(hours=2)).replace(day=1, hour=0)
        if first == last:
            return ["--period", f"{first:%Y-%m}"]
        after = (last + timedelta(days=32)).replace(day=1)
        return ["--from", f"{first:%Y-%m-%d}", "--to", f"{after:%Y-%m-%d}"]

# Every farm is licensed for 200 H/s at 20 J/TH: cap (TH/s) = MW × 10⁶ ÷ (J/TH).
EFFICIENCY_JTH = Decimal(20)
LICENSED_HS = Decimal(200)
LICENSED_MW = LICENSED_HS / Decimal(10) ** 12 * EFFICIENCY_JTH / Decimal(10) ** 6
# Network difficulty chosen so the period's work finds a few dozen blocks.
NETWORK_DIFFICULTY = Decimal("0.00002")
BLOCK_SUBSIDY = Decimal("3.125")
MEAN_FEES = Decimal("0.025")
REWARD = BLOCK_SUBSIDY + MEAN_FEES


@dataclass(frozen=True)
class Farm:
    """A simulated mining firm: how it really behaves and what it tells the regulator."""

    name: str
    legal_name: str
    true_hashrate: Decimal
    reported_fraction: Decimal
    coinbase_tag: bytes
    seed: int
    expected_verdicts: frozenset[str]
    steals_from: str = ""
    """A farm whose shares this one also submits (and whose output it reports) as its own."""
    suspended_minutes: tuple[int, int] | None = None
    """Minutes of the period during which its licence is suspended (it mines on)."""
    pool: bool = False
    """Mines in the accredited pool (POOL_NAME) rather than solo."""


POOL_NAME, POOL_SCHEME, POOL_FEE = "Alpha Pool", "FPPS", Decimal("0.02")
"""The accredited pool of the demo: full pay per share, 2% fee."""


FARMS = (
    Farm("steppe", "Steppe Hash LLP", LICENSED_HS * Decimal("0.9"), Decimal(1),
         b"/steppe/", 11, frozenset()),
    Farm("tengri", "Tengri Compute JSC", LICENSED_HS * Decimal("1.3"), Decimal(1),
         b"/tengri/", 22, frozenset({"OVER_CAPACITY", "ENERGY_OVER_QUOTA"})),
    Farm("qazyna", "Qazyna Mining LLP", LICENSED_HS * Decimal("0.9"), Decimal("0.2"),
         b"/qazyna/", 33, frozenset({"OUTPUT_UNDER_REPORTED"})),
    Farm("kokshe", "Kokshe Digital LLP", LICENSED_HS * Decimal("0.3"), Decimal(1),
         b"/kokshe/", 44, frozenset({"OUTPUT_OVER_REPORTED"}), steals_from="steppe",
         pool=True),
    Farm("jetisu", "Jetisu Power LLP", LICENSED_HS * Decimal("0.9"), Decimal(1),
         b"/jetisu/", 55, frozenset({"MINED_WHILE_NOT_ACTIVE", "ENERGY_OVER_QUOTA"}),
         suspended_minutes=(30, 45)),
)


TYPICAL_TRIES = 20
"""Seeds the demo tries for a farm's statistically typical hour before it gives up."""


def typical_period(miner: SimulatedMiner, start_time: int, seed: int,
                   inactive: tuple[int, int] | None = None) -> SimulatedPeriod:
    """Returns a genuinely mined hour whose block count lies in the central 90% of what its
    work predicts (Poisson); with ``inactive`` (an ntime span), counting only the shares
    outside it, which are the ones credited.

    The period is mined at the current time, so its hashes, and the blocks among them,
    change from run to run. A 95% interval flags an honest farm in one period out of
    twenty, and the demo's story needs its honest farms honest-looking and its hiding farm
    caught: it takes the first seed (from the farm's own) whose hour is typical, never a
    lucky or unlucky one. Raises RuntimeError when none of TYPICAL_TRIES is.
    """
    for attempt in range(TYPICAL_TRIES):
        period = mine_period(miner, start_time=start_time, seconds=PERIOD_SECONDS,
                             network_difficulty=NETWORK_DIFFICULTY, seed=seed + 1000 * attempt)
        expected = float(period.hashes_tried / (period.network_difficulty * 2**32))
        blocks = period.blocks_found
        if inactive is not None:
            result = verify_batch(parse_batch(period.batch), inactive_ntime=[inactive])
            blocks = int(result.block_candidates.sum())
            expected = float(Fraction(result.tally.work)
                             / (period.network_difficulty * 2**32))
        low, high = poisson.ppf(0.05, expected), poisson.ppf(0.95, expected)
        if low <= blocks <= high:
            return period
    raise RuntimeError(f"no typical hour in {TYPICAL_TRIES} seeds from {seed}")


@dataclass
class Check:
    """One expected outcome of the demo and what actually happened."""

    name: str
    expected: str
    observed: str
    ok: bool


@dataclass
class DemoResult:
    """What the demo made and whether every expected outcome happened."""

    workdir: Path
    checks: list[Check] = field(default_factory=list)
    artefacts: dict[str, Path] = field(default_factory=dict)
    alerts: list[compliance_pb2.Alert] = field(default_factory=list)
    blocked: list[trading_pb2.TradeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Returns True when every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def expect(self, name: str, expected: str, observed: str, ok: bool) -> None:
        """Records one outcome."""
        self.checks.append(Check(name, expected, observed, ok))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request_id(*parts: str) -> str:
    return "demo-" + "-".join(parts)


def participant_id_for(name: str) -> str:
    """Returns the participant id the demo's registration of ``name`` produces."""
    return str(Participant.create_id(REGULATOR, _request_id("register", name)))


class Demo:
    """Runs the scenario in ``workdir`` and reports each step on ``console``."""

    def __init__(self, workdir: Path, console: Console, cli: list[str] | None = None) -> None:
        self.workdir = workdir.resolve()
        self.console = console
        self.cli = cli or [sys.executable, "-m", "services.cli"]
        self.result = DemoResult(self.workdir)
        self.times = Timeline(datetime.now(UTC))
        self.ca_dir = self.workdir / "ca"
        self.keys_dir = self.workdir / "keys"
        self.db_url = f"sqlite:///{self.workdir / 'ledger.db'}"
        self.port = _free_port()
        self.server: subprocess.Popen[bytes] | None = None
        self.clients: dict[str, LedgerClient] = {}
        self.ids: dict[str, str] = {}
        self.licences: dict[str, str] = {}
        self.vasps: dict[str, str] = {}
        """Registered foreign VASPs by country."""
        self.exchange_licence = ""
        self.credited_blocks: dict[str, int] = {}
        self.credited_work: dict[str, int] = {}
        self.reports: dict[str, Decimal] = {}
        self.cipher_key = ""
        self.witnesses: list[subprocess.Popen[bytes]] = []

    # ----------------------------------------------------------------- infrastructure

    def prepare(self) -> None:
        """Creates a fresh workdir (clearing only a previous demo's own directory)."""
        if self.workdir.exists() and any(self.workdir.iterdir()):
            if not (self.workdir / MARKER).exists():
                raise SystemExit(f"{self.workdir} is not empty and not a previous demo's "
                                 "directory; choose another --workdir")
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / MARKER).write_text("made by `valedger demo`; safe to delete\n")
        self.keys_dir.mkdir(mode=0o700)

    def run_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs the `valedger` command line and returns its completed process."""
        env = dict(os.environ, VALEDGER_CIPHER_KEY=self.cipher_key, COLUMNS="120")
        done = subprocess.run([*self.cli, *args], capture_output=True, text=True, env=env,
                              timeout=300)
        if check and done.returncode != 0:
            raise RuntimeError(f"valedger {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}")
        return done

    def make_identities(self) -> None:
        """Creates the CA, the certificates of every role, and the checkpoint key."""
        CertificateAuthority.init(self.ca_dir, common_name="valedger demo CA")
        ca = CertificateAuthority(self.ca_dir)
        ca.issue("server", "localhost")
        ca.issue(Role.REGULATOR, "central-bank")
        ca.issue(Role.GRID, "grid-operator")
        ca.issue(Role.AUDITOR, "state-auditor")
        for farm in FARMS:
            ca.issue(Role.MINER, farm.name, participant=participant_id_for(farm.name))
        ca.issue(Role.EXCHANGE, "silkroad", participant=participant_id_for("silkroad"))
        self.run_cli("audit", "keygen", "--out", str(self.keys_dir), "--origin", ORIGIN)
        self.cipher_key = base64.b64encode(os.urandom(32)).decode()
        cipher_file = self.keys_dir / "cipher.key"
        cipher_file.write_text(self.cipher_key + "\n")
        cipher_file.chmod(0o600)
        self.result.artefacts.update({
            "certificate authority": self.ca_dir,
            "checkpoint signing key": self.keys_dir / "audit.key",
            "checkpoint public key": self.keys_dir / "audit.pub",
            "cipher key": cipher_file,
        })

    def start_witnesses(self) -> Path:
        """Starts two witnesses (finance ministry, audit chamber), each with its own key and
        store; returns the ledger's witness policy file (quorum 2)."""
        log_vkey = (self.keys_dir / "audit.pub").read_text().strip()
        policy = "quorum = 2\ntimeout_seconds = 5\nretry_after_seconds = 2\n"
        for name in WITNESSES:
            directory = self.workdir / "witnesses" / name.split(".")[1]
            self.run_cli("witness", "keygen", "--name", name, "--out", str(directory))
            port = _free_port()
            out = open(directory / "witness.log", "wb")  # noqa: SIM115 (lives with it)
            self.witnesses.append(subprocess.Popen(
                [*self.cli, "witness", "serve", "--key", str(directory / "witness.key"),
                 "--store", str(directory / "witness.db"), "--listen", f"127.0.0.1:{port}",
                 "--log", f"{ORIGIN}={log_vkey}"], stdout=out, stderr=subprocess.STDOUT))
            vkey = (directory / "witness.pub").read_text().strip()
            policy += f'\n[[witness]]\nurl = "http://127.0.0.1:{port}"\nkey = "{vkey}"\n'
            self.result.artefacts[f"witness {name}"] = directory
        path = self.workdir / "witnesses.toml"
        path.write_text(policy)
        return path

    def start_server(self) -> None:
        """Creates the schema and starts `valedger serve` over mTLS; waits until SERVING."""
        self.run_cli("db", "init", "--db", self.db_url, "--home-country", HOME_COUNTRY)
        witnesses = self.start_witnesses()
        log = open(self.workdir / "server.log", "wb")  # noqa: SIM115 (lives with the server)
        env = dict(os.environ,
                   VALEDGER_CIPHER_KEY=self.cipher_key,
                   VALEDGER_AUDIT_SIGNING_KEY_FILE=str(self.keys_dir / "audit.key"),
                   VALEDGER_AUDIT_ORIGIN=ORIGIN,
                   VALEDGER_AUDIT_CHECKPOINT_EVERY_RECORDS="25",
                   VALEDGER_AUDIT_CHECKPOINT_EVERY_SECONDS="1",
                   VALEDGER_AUDIT_WITNESSES_FILE=str(witnesses),
                   VALEDGER_VERIFIER_BACKEND="cpu")
        self.server = subprocess.Popen(
            [*self.cli, "serve", "--db", self.db_url, "--listen", f"127.0.0.1:{self.port}",
             "--ca-dir", str(self.ca_dir), "--server-name", "localhost"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        self.result.artefacts.update({"store": self.workdir / "ledger.db",
                                      "server log": self.workdir / "server.log"})
        regulator = self.client(Role.REGULATOR, "central-bank")
        deadline = time.monotonic() + 60
        while True:
            if self.server.poll() is not None:
                raise RuntimeError("valedger serve exited; see " +
                                   str(self.workdir / "server.log"))
            try:
                if regulator.check_health() == 1:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("valedger serve did not become healthy within 60 s")
            time.sleep(0.2)

    def stop_server(self) -> int | None:
        """Stops the server with SIGTERM (graceful), then the witnesses; returns the
        server's exit status."""
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        for witness in self.witnesses:
            if witness.poll() is None:
                witness.send_signal(signal.SIGTERM)
                witness.wait(timeout=30)
        if self.server is None:
            return None
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        return self.server.returncode

    def client(self, role: str, name: str, signer: Signer | None = None) -> LedgerClient:
        """Returns (once per identity) an mTLS client speaking as ``role``/``name``."""
        key = f"{role}/{name}"
        if key not in self.clients:
            tls = TlsFiles.from_ca_dir(self.ca_dir, role, name)
            self.clients[key] = LedgerClient.connect(f"127.0.0.1:{self.port}", tls, signer,
                                                     timeout=120)
        return self.clients[key]

    # ---------------------------------------------------------------------- the story

    def license_participants(self) -> None:
        """The regulator registers and approves everyone, sets policy, grants licences."""
        reg = self.client(Role.REGULATOR, "central-bank")
        at = self.times.set_up
        people = [(f.name, f.legal_name, "PARTICIPANT_KIND_ENTERPRISE") for f in FARMS] + [
            ("silkroad", "Silk Road Digital Exchange JSC", "PARTICIPANT_KIND_ENTERPRISE"),
            ("aigerim", "Aigerim Sadykova", "PARTICIPANT_KIND_INDIVIDUAL"),
            ("daniyar", "Daniyar Omarov", "PARTICIPANT_KIND_INDIVIDUAL"),
            ("berik", "Berik Tulegenov", "PARTICIPANT_KIND_INDIVIDUAL"),
        ]
        self.screen_sanctioned_name(reg, at)
        for n, (name, legal, kind) in enumerate(people):
            response = reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
                request_id=_request_id("register", name), at=wire.timestamp(at), kind=kind,
                legal_name=legal, tax_id=f"{n + 1:012d}", country=HOME_COUNTRY),
                **reg.call_options())
            self.ids[name] = response.receipt.aggregate_id
            reg.licensing.ApproveParticipant(licensing_pb2.ApproveParticipantRequest(
                request_id=_request_id("approve", name), at=wire.timestamp(at),
                participant_id=self.ids[name]), **reg.call_options())
        policy = {
            "network_difficulty": str(NETWORK_DIFFICULTY),
            "block_subsidy": str(BLOCK_SUBSIDY),
            "mean_fees": str(MEAN_FEES),
            "outflow_cap_usd": "50000",
            "travel_rule_threshold_usd": "1000",
            "mandatory_sale_share": "0.5",
            "fx_usd.KZT": "0.002",
        }
        for parameter, value in policy.items():
            # Rules take effect when set; observations of the world (the network's
            # difficulty, subsidy and fees, exchange rates) are recorded for when they held.
            observed = is_observation(parameter)
            reg.compliance.SetPolicy(compliance_pb2.SetPolicyRequest(
                request_id=_request_id("policy", parameter), parameter=parameter, value=value,
                effective_from=wire.timestamp(at) if observed else None),
                **reg.call_options())
        pool = reg.mining.RegisterPool(mining_pb2.RegisterPoolRequest(
            request_id=_request_id("pool", "alpha"), at=wire.timestamp(at), name=POOL_NAME,
            country="MT", payout_scheme=POOL_SCHEME, fee=str(POOL_FEE)), **reg.call_options())
        for farm in FARMS:
            signer = Signer.generate()
            miner = self.client(Role.MINER, farm.name, signer)
            miner.register_signing_key(self.ids[farm.name], _request_id("key", farm.name), at)
            granted = reg.licensing.GrantMiningLicence(licensing_pb2.GrantMiningLicenceRequest(
                request_id=_request_id("licence", farm.name), at=wire.timestamp(at),
                participant_id=self.ids[farm.name],
                site=licensing_pb2.Site(region="Ekibastuz", grid_zone="north",
                                        meter_id=f"meter-{farm.name}"),
                licensed_power_mw=str(LICENSED_MW),
                declared_efficiency_j_per_th=str(EFFICIENCY_JTH),
                coinbase_tags=[farm.coinbase_tag],
                valid_from=wire.timestamp(self.times.licence_from),
                valid_until=wire.timestamp(self.times.licence_until),
                mode=(licensing_pb2.MINING_MODE_POOL if farm.pool
                      else licensing_pb2.MINING_MODE_SOLO),
                pool_id=pool.receipt.aggregate_id if farm.pool else ""), **reg.call_options())
            self.licences[farm.name] = granted.receipt.aggregate_id
        exchange = self.client(Role.EXCHANGE, "silkroad", Signer.generate())
        exchange.register_signing_key(self.ids["silkroad"], _request_id("key", "silkroad"), at)
        grant = licensing_pb2.GrantExchangeLicenceRequest(
            request_id=_request_id("licence", "silkroad"), at=wire.timestamp(at),
            participant_id=self.ids["silkroad"], services=["spot", "custody"],
            valid_from=wire.timestamp(self.times.licence_from),
            valid_until=wire.timestamp(self.times.licence_until))
        exchange_grant = reg.licensing.GrantExchangeLicence(grant, **reg.call_options())
        self.exchange_licence = exchange_grant.receipt.aggregate_id
        # The VASPs abroad that trades may send value to, registered with their country.
        for country, name in (("DE", "Berlin Coins GmbH"), ("AE", "Gulf Digital Assets")):
            registered = reg.licensing.RegisterVasp(licensing_pb2.RegisterVaspRequest(
                request_id=_request_id("vasp", country), at=wire.timestamp(at), name=name,
                country=country, foreign_registration=f"{country}-register-0001",
                travel_rule_endpoint=f"https://travel-rule.{country.lower()}.example"),
                **reg.call_options())
            self.vasps[country] = registered.receipt.aggregate_id
        self.result.expect("licences granted", f"{len(FARMS)} mining + 1 exchange",
                           f"{len(self.licences)} mining + 1 exchange",
                           len(self.licences) == len(FARMS) and bool(self.exchange_licence))

    def mine(self, advance: Callable[[], None]) -> dict[str, SimulatedPeriod]:
        """Each farm mines genuine shares for the period and submits them in two batches;
        one also submits another farm's shares, one mines on through a suspension."""
        periods = {}
        reg = self.clients[f"{Role.REGULATOR}/central-bank"]
        verdict_names = {v: k.removeprefix("SHARE_VERDICT_")
                         for k, v in mining_pb2.ShareVerdict.items()}
        for farm in FARMS:
            inactive = None
            if farm.suspended_minutes is not None:
                first, last = (self.times.period_start + timedelta(minutes=m)
                               for m in farm.suspended_minutes)
                reg.licensing.SuspendLicence(licensing_pb2.SuspendLicenceRequest(
                    request_id=_request_id("suspend", farm.name), at=wire.timestamp(first),
                    licence_id=self.licences[farm.name], reason="grid emergency curtailment",
                    until=wire.timestamp(last)), **reg.call_options())
                inactive = (int(first.timestamp()), int(last.timestamp()))
            miner = SimulatedMiner(hashrate=farm.true_hashrate, coinbase_tag=farm.coinbase_tag,
                                   output_report_fraction=farm.reported_fraction)
            period = typical_period(miner, int(self.times.period_start.timestamp()), farm.seed,
                                    inactive)
            periods[farm.name] = period
            client = self.clients[f"{Role.MINER}/{farm.name}"]
            shares = period.batch["shares"]
            half = len(shares) // 2
            found: dict[str, int] = {}
            for part, chunk in enumerate((shares[:half], shares[half:])):
                payload = proof_batch_payload(
                    {"jobs": period.batch["jobs"], "shares": chunk},
                    _request_id("proofs", farm.name, str(part)), self.licences[farm.name],
                    self.times.period_end + timedelta(minutes=1 + part))
                response = client.submit_proof_batch(payload)
                self.credited_blocks[farm.name] = \
                    self.credited_blocks.get(farm.name, 0) + response.block_candidates
                self.credited_work[farm.name] = \
                    self.credited_work.get(farm.name, 0) + int(response.accepted_work)
                for count in response.verdict_counts:
                    name = verdict_names[count.verdict]
                    found[name] = found.get(name, 0) + count.count
            if inactive is None:
                self.result.expect(f"{farm.name} proof batches", f"{len(shares)} accepted",
                                   f"{found.get('ACCEPTED', 0)} accepted",
                                   found.get("ACCEPTED", 0) == len(shares))
            else:
                off = found.get("LICENCE_NOT_ACTIVE", 0)
                self.result.expect(f"{farm.name} shares mined while suspended",
                                   "some LICENCE_NOT_ACTIVE, the rest accepted",
                                   f"{off} LICENCE_NOT_ACTIVE, {found.get('ACCEPTED', 0)} "
                                   "accepted",
                                   off > 0 and off + found.get("ACCEPTED", 0) == len(shares))
            if farm.steals_from:
                stolen = periods[farm.steals_from].batch
                response = client.submit_proof_batch(proof_batch_payload(
                    stolen, _request_id("proofs", farm.name, "stolen"),
                    self.licences[farm.name], self.times.period_end + timedelta(minutes=3)))
                foreign = {c.verdict: c.count for c in response.verdict_counts}.get(
                    mining_pb2.SHARE_VERDICT_FOREIGN_COINBASE_TAG, 0)
                self.result.expect(f"{farm.name} claims {farm.steals_from}'s shares",
                                   f"{len(stolen['shares'])} FOREIGN_COINBASE_TAG",
                                   f"{foreign} FOREIGN_COINBASE_TAG",
                                   foreign == len(stolen["shares"]))
            advance()
        # Replaying a batch proves nothing new: every share is a duplicate or replayed.
        farm = FARMS[0]
        replay = proof_batch_payload(
            {"jobs": periods[farm.name].batch["jobs"],
             "shares": periods[farm.name].batch["shares"][:50]},
            _request_id("proofs", farm.name, "replayed"), self.licences[farm.name],
            self.times.period_end + timedelta(minutes=5))
        response = self.clients[f"{Role.MINER}/{farm.name}"].submit_proof_batch(replay)
        duplicates = {c.verdict: c.count for c in response.verdict_counts}.get(
            mining_pb2.SHARE_VERDICT_DUPLICATE, 0)
        self.result.expect("resubmitted shares", "50 DUPLICATE", f"{duplicates} DUPLICATE",
                           duplicates == 50)
        return periods

    def reported(self, farm: Farm, periods: dict[str, SimulatedPeriod]) -> Decimal:
        """Returns the output a farm reports: what it mined (its hiding fraction of it);
        the pool miner what its pool pays for the work it submitted, the stolen farm's
        included; the suspended farm the blocks of its credited shares."""
        if farm.pool:
            work = self.credited_work.get(farm.name, 0) + (
                self.credited_work.get(farm.steals_from, 0) if farm.steals_from else 0)
            return (Decimal(work) / (NETWORK_DIFFICULTY * 2**32) * REWARD
                    * (1 - POOL_FEE)).quantize(Decimal("1e-8"))
        if farm.suspended_minutes is not None:
            return self.credited_blocks.get(farm.name, 0) * REWARD
        amount = periods[farm.name].reported_output(REWARD)
        if farm.steals_from:
            amount += periods[farm.steals_from].reported_output(REWARD)
        return amount

    def report_output(self, periods: dict[str, SimulatedPeriod]) -> None:
        """Each farm reports its output (one hides 80% of it, one claims another's)."""
        for farm in FARMS:
            reported = self.reported(farm, periods)
            self.reports[farm.name] = reported
            client = self.clients[f"{Role.MINER}/{farm.name}"]
            client.report_output(mining_pb2.OutputReportPayload(
                request_id=_request_id("output", farm.name),
                at=wire.timestamp(self.times.period_end + timedelta(minutes=10)),
                licence_id=self.licences[farm.name],
                period=common_pb2.Period(start_time=wire.timestamp(self.times.period_start),
                                         end_time=wire.timestamp(self.times.period_end)),
                asset="BTC", amount=str(reported), wallets=[f"bc1q{farm.name}demo"],
                sold_through_exchange_amount=str(reported * Decimal("0.6"))))

    def meter(self) -> None:
        """The grid operator records what each site drew: power follows true hashrate."""
        grid = self.client(Role.GRID, "grid-operator")
        for farm in FARMS:
            joules = farm.true_hashrate / Decimal(10) ** 12 * EFFICIENCY_JTH * PERIOD_SECONDS
            kwh = joules / Decimal(3_600_000)
            grid.mining.RecordMeterReading(mining_pb2.RecordMeterReadingRequest(
                request_id=_request_id("meter", farm.name),
                at=wire.timestamp(self.times.period_end + timedelta(minutes=15)),
                meter_id=f"meter-{farm.name}",
                period=common_pb2.Period(start_time=wire.timestamp(self.times.period_start),
                                         end_time=wire.timestamp(self.times.period_end)),
                kwh=str(kwh)), **grid.call_options())

    def trade(self) -> None:
        """The exchange streams a day of trades, including ones the rules must stop."""
        exchange = self.clients[f"{Role.EXCHANGE}/silkroad"]
        base = self.times.period_start + timedelta(hours=2)
        ids = self.ids
        def person(surname: str, given: str, **fields: Any) -> trading_pb2.Person:
            return trading_pb2.Person(names=[trading_pb2.PersonName(
                primary_identifier=surname, secondary_identifier=given,
                name_identifier_type="LEGL")], **fields)

        def vasp(name: str) -> trading_pb2.Person:
            return trading_pb2.Person(legal_person=True, names=[trading_pb2.PersonName(
                primary_identifier=name, name_identifier_type="LEGL")])

        # IVMS101: the originator identified beyond the name (national id, address).
        full_travel = trading_pb2.TravelRule(
            originator=trading_pb2.TravelRuleParty(
                persons=[person("Tulegenov", "Berik", national_identification=trading_pb2.
                                NationalIdentification(national_identifier="880101300123",
                                                       national_identifier_type="IDCD",
                                                       country_of_issue=HOME_COUNTRY),
                                addresses=[trading_pb2.Address(town_name="Almaty",
                                                               country=HOME_COUNTRY)])],
                account_numbers=["KZ01-0001"]),
            beneficiary=trading_pb2.TravelRuleParty(
                persons=[person("Tulegenov", "Berik")], account_numbers=["bc1qberikdemo"]),
            originating_vasp=vasp("Silk Road Digital Exchange JSC"),
            beneficiary_vasp=vasp("Foreign VASP"))
        trades: list[trading_pb2.TradePayload] = []

        def add(label: str, minutes: int, qty: str, price: str, buyer: str, seller: str,
                country: str = HOME_COUNTRY, wallet: Any = trading_pb2.WALLET_KIND_HOSTED,
                travel: trading_pb2.TravelRule | None = None, currency: str = "USD") -> None:
            trades.append(trading_pb2.TradePayload(
                request_id=_request_id("trade", label), at=wire.timestamp(
                    base + timedelta(minutes=minutes)),
                exchange_licence_id=self.exchange_licence, exchange_trade_id=f"SR-{label}",
                asset="BTC", quantity=qty, price=price, quote_currency=currency,
                buyer_participant_id=ids[buyer], seller_participant_id=ids[seller],
                counterparty_vasp_id=(self.vasps.get(country, "")
                                      if wallet == trading_pb2.WALLET_KIND_HOSTED else ""),
                counterparty_country=country, wallet_kind=wallet, travel_rule=travel))

        for n, farm in enumerate(FARMS):  # each farm sells 60% of its output in the hour
            add(f"sale-{farm.name}", -70 + n,
                str((self.reports[farm.name] * Decimal("0.6")).quantize(Decimal("1e-8"))),
                "95000", "silkroad", farm.name, travel=full_travel)
        for i in range(20):  # ordinary domestic business, below the travel-rule threshold
            add(f"spot-{i}", i, "0.005", "95000", "aigerim" if i % 2 else "daniyar",
                "steppe" if i % 3 else "qazyna")
        add("tenge", 25, "0.001", "47500000", "daniyar", "steppe", currency="KZT")
        # Outflows abroad by Berik: 30,000 + 15,000 USD fit under the 50,000 cap ...
        add("outflow-1", 30, "0.3", "100000", "berik", "tengri", "DE", travel=full_travel)
        add("outflow-2", 31, "0.15", "100000", "berik", "tengri", "AE",
            trading_pb2.WALLET_KIND_SELF_HOSTED, full_travel)
        # ... the next 9,500 USD to a self-hosted wallet would exceed it: blocked.
        add("outflow-3", 32, "0.095", "100000", "berik", "tengri", HOME_COUNTRY,
            trading_pb2.WALLET_KIND_SELF_HOSTED, full_travel)
        # 2,400 USD with no travel-rule data: blocked.
        add("no-travel-rule", 40, "0.024", "100000", "aigerim", "qazyna")
        # Three transfers of 999 USD, just under the threshold, within an hour and sent
        # newest first: one structuring alert, whatever the order.
        for i in range(3):
            add(f"structuring-{i}", 70 - 10 * i, "0.00999", "100000", "daniyar", "steppe")
        response = exchange.record_trades(trades)
        blocked = [r for r in response.results if r.status == trading_pb2.TRADE_STATUS_BLOCKED]
        self.result.blocked = blocked
        rules = sorted(r.rule for r in blocked)
        expected = ["OUTFLOW_CAP_EXCEEDED", "TRAVEL_RULE_DATA_MISSING"]
        self.result.expect("blocked trades", ", ".join(expected), ", ".join(rules) or "none",
                           rules == expected)
        recorded = len(response.results) - len(blocked)
        self.result.expect("recorded trades", str(len(trades) - 2), str(recorded),
                           recorded == len(trades) - 2)
        # A retry of the whole stream records nothing new and returns the first results.
        again = exchange.record_trades(trades)
        self.result.expect("retried stream", "all replayed, same outcomes",
                           f"{sum(r.receipt.replayed for r in again.results)} replayed",
                           all(r.receipt.replayed for r in again.results)
                           and [r.status for r in again.results]
                           == [r.status for r in response.results])

    def reconcile(self) -> None:
        """The regulator closes the period for every licence; alerts follow the verdicts."""
        reg = self.clients[f"{Role.REGULATOR}/central-bank"]
        period = common_pb2.Period(start_time=wire.timestamp(self.times.period_start),
                                   end_time=wire.timestamp(self.times.period_end))
        names = {v: k for k, v in mining_pb2.ReconciliationVerdict.items()}
        for farm in FARMS:
            response = reg.mining.CloseReconciliation(mining_pb2.CloseReconciliationRequest(
                request_id=_request_id("close", farm.name),
                at=wire.timestamp(self.times.period_end + timedelta(hours=1)),
                licence_id=self.licences[farm.name], period=period), **reg.call_options())
            verdicts = {names[f.verdict].removeprefix("RECONCILIATION_VERDICT_")
                        for f in response.reconciliation.findings} - {"OK"}
            self.result.expect(f"{farm.name} reconciliation",
                               ", ".join(sorted(farm.expected_verdicts)) or "no findings",
                               ", ".join(sorted(verdicts)) or "no findings",
                               verdicts == farm.expected_verdicts)
        alerts = list(_pages(lambda token: reg.compliance.ListAlerts(
            compliance_pb2.ListAlertsRequest(page_size=100, page_token=token),
            **reg.call_options()), "alerts"))
        self.result.alerts = alerts
        kinds = sorted({a.kind for a in alerts})
        # LICENCE_NOT_ACTIVE: the suspended farm's meter reading, recorded and alerted;
        # SCREENING_HIT: the sanctioned name refused at registration.
        wanted = {"OVER_CAPACITY", "ENERGY_OVER_QUOTA", "OUTPUT_UNDER_REPORTED",
                  "OUTPUT_OVER_REPORTED", "MINED_WHILE_NOT_ACTIVE", "STRUCTURING",
                  "LICENCE_NOT_ACTIVE", "SCREENING_HIT"}
        self.result.expect("alerts raised", ", ".join(sorted(wanted)), ", ".join(kinds),
                           wanted <= set(kinds))

    def screen_sanctioned_name(self, reg: LedgerClient, at: datetime) -> None:
        """The regulator imports a sanctions list; a listed person (in Latin script and
        another word order, with the listed passport number) is refused registration,
        and the attempt stays on the record as a SCREENING_HIT alert."""
        listing = self.workdir / "sanctions-list.json"
        listing.write_text(json.dumps(SANCTIONS_LIST, ensure_ascii=False, indent=2))
        self.result.artefacts["sanctions list"] = listing
        reg.compliance.ImportScreeningList(compliance_pb2.ImportScreeningListRequest(
            request_id=_request_id("screening", "list"), at=wire.timestamp(at),
            content=listing.read_bytes()), **reg.call_options())
        try:
            reg.licensing.RegisterParticipant(licensing_pb2.RegisterParticipantRequest(
                request_id=_request_id("register", "volkov"), at=wire.timestamp(at),
                kind=common_pb2.PARTICIPANT_KIND_INDIVIDUAL, legal_name="VOLKOV Dmitriy",
                tax_id="N 4455667", country=HOME_COUNTRY), **reg.call_options())
            observed = "registered"
        except grpc.RpcError as error:
            observed = f"{error.code().name}: {error.details()}"
        self.result.expect("sanctioned name screened at registration",
                           "refused: SCREENING_CONFIRMED_MATCH", observed,
                           "listed on DEMO-UN-SC" in observed
                           and "FAILED_PRECONDITION" in observed)

    def query_history(self) -> int:
        """The regulator pages through one mining firm's history; returns the event count."""
        reg = self.clients[f"{Role.REGULATOR}/central-bank"]
        events = list(reg.list_events(page_size=20, participant_id=self.ids["tengri"]))
        self.result.expect("history of Tengri Compute", "registration to reconciliation",
                           f"{len(events)} events", len(events) >= 5)
        return len(events)

    def audit(self) -> None:
        """The auditor exports the log, verifies it offline, and sees a tampered copy fail."""
        auditor = self.client(Role.AUDITOR, "state-auditor")
        size = self._wait_for_checkpoint(auditor)
        export = self.workdir / "ledger-export.vlx"
        with open(export, "wb") as out:
            for chunk in auditor.audit.ExportLog(audit_pb2.ExportLogRequest(),
                                                 **auditor.call_options(timeout=300)):
                out.write(chunk.chunk)
        self.result.artefacts["audit export"] = export
        public_key = str(self.keys_dir / "audit.pub")
        witness_keys = [arg for name in WITNESSES for arg in (
            "--witness-key", str(self.workdir / "witnesses" / name.split(".")[1] /
                                 "witness.pub"))]
        verified = self.run_cli("audit", "verify", "--from", str(export), "--public-key",
                                public_key, *witness_keys, "--quorum", "2", check=False)
        (self.workdir / "audit-verify.txt").write_text(verified.stdout + verified.stderr)
        self.result.expect("audit verify of the export",
                           "exit 0 (all holds, cosigned by 2 of 2 witnesses)",
                           f"exit {verified.returncode}, {size} records checkpointed",
                           verified.returncode == 0)
        tampered = self.workdir / "ledger-export-tampered.vlx"
        data = bytearray(export.read_bytes())
        position = _tamper_position(data)
        data[position] ^= 0x01
        tampered.write_bytes(bytes(data))
        self.result.artefacts["tampered copy"] = tampered
        failed = self.run_cli("audit", "verify", "--from", str(tampered), "--public-key",
                              public_key, check=False)
        (self.workdir / "audit-verify-tampered.txt").write_text(failed.stdout + failed.stderr)
        self.result.expect("audit verify of a copy with one flipped bit", "non-zero exit",
                           f"exit {failed.returncode}", failed.returncode != 0)

    def _wait_for_checkpoint(self, auditor: LedgerClient) -> int:
        """Waits until a signed checkpoint covers the whole log and both witnesses cosigned
        it; returns its size."""
        deadline = time.monotonic() + 60
        last = -1
        while time.monotonic() < deadline:
            response = auditor.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(),
                                                   **auditor.call_options())
            size = int(response.checkpoint.tree_size)
            cosigned = response.checkpoint.signed_note.count("\n\u2014 ") - 1
            if size == last and size > 0 and cosigned >= len(WITNESSES):
                return size
            last = size
            time.sleep(1.5)
        raise RuntimeError("no checkpoint covering the log was signed within 60 s")

    def report(self) -> Path:
        """Writes the supervisor's report of the reconciled hour's month (see
        `Timeline.report_options`) with `valedger report` (HTML, PDF, JSON with units,
        charts, the checkpoint it was made from)."""
        out = self.workdir / "report"
        self.run_cli("report", "--db", self.db_url, *self.times.report_options(),
                     "--out", str(out))
        html = out / "report.html"
        self.result.artefacts["report"] = html
        self.result.artefacts["report (PDF)"] = out / "report.pdf"
        charts = sorted(p.name for p in out.glob("*.png"))
        made = [name for name in ("report.html", "report.pdf", "report.json",
                                  "checkpoint.note") if (out / name).exists()]
        note = (out / "checkpoint.note").read_text() if "checkpoint.note" in made else ""
        cosigned = sum(f"\u2014 {w} " in note for w in WITNESSES)
        self.result.expect(
            "report", f"HTML, PDF, JSON, 6 charts, made from a checkpoint cosigned by "
            f"{len(WITNESSES)} witnesses",
            f"{', '.join(made)}; {len(charts)} charts; {cosigned} cosignatures",
            len(made) == 4 and len(charts) == 6 and cosigned == len(WITNESSES))
        return html


def _pages(call: Callable[[str], Any], attribute: str) -> Iterator[Any]:
    token = ""
    while True:
        page = call(token)
        yield from getattr(page, attribute)
        token = page.next_page_token
        if not token:
            return


def _tamper_position(data: bytearray) -> int:
    """Returns a byte inside the export's record section (past the header, before the end)."""
    return len(data) // 2


@contextmanager
def _step(progress: Progress, description: str) -> Iterator[Callable[[], None]]:
    task = progress.add_task(description, total=None)
    yield lambda: progress.advance(task)
    progress.update(task, total=1, completed=1, description=f"[green]✓[/green] {description}")


def run_demo(workdir: Path, console: Console) -> DemoResult:
    """Runs the whole scenario; returns every check and artefact (the server is stopped)."""
    demo = Demo(workdir, console)
    demo.prepare()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TimeElapsedColumn(), console=console)
    started = time.monotonic()
    with progress:
        try:
            with _step(progress, f"CA, certificates for {len(FARMS) + 4} identities, "
                                 "checkpoint key"):
                demo.make_identities()
            with _step(progress, "db init; valedger serve over mTLS on SQLite"):
                demo.start_server()
            with _step(progress, "regulator: register, approve, set policy, grant licences"):
                demo.license_participants()
            with _step(progress, f"{len(FARMS)} mining firms mine genuine shares, submit "
                                 "proofs") as tick:
                periods = demo.mine(tick)
            with _step(progress, "mining firms report output; grid records meters"):
                demo.report_output(periods)
                demo.meter()
            with _step(progress, "exchange streams trades (signed envelopes)"):
                demo.trade()
            with _step(progress, "regulator closes the period: reconciliation and alerts"):
                demo.reconcile()
                demo.query_history()
            with _step(progress, "auditor: export, verify offline, tampered copy"):
                demo.audit()
        finally:
            status = demo.stop_server()
        demo.result.expect("server shutdown on SIGTERM", "exit 0", f"exit {status}",
                           status == 0)
        with _step(progress, "supervisor's report (HTML, PDF, JSON, charts)"):
            demo.report()
    demo.result.artefacts["elapsed seconds"] = Path(f"{time.monotonic() - started:.0f}")
    return demo.result


def print_summary(result: DemoResult, console: Console) -> None:
    """Prints the outcome table, the alerts, the blocked trades and where everything is."""
    table = Table(title="Expected outcomes", show_lines=False)
    for column in ("", "check", "expected", "observed"):
        table.add_column(column)
    for check in result.checks:
        table.add_row("[green]✓[/green]" if check.ok else "[red]✗[/red]", check.name,
                      check.expected, check.observed)
    console.print(table)
    if result.blocked:
        blocked = Table(title="Blocked trades (recorded as Trade.Blocked)")
        blocked.add_column("rule")
        blocked.add_column("message")
        for r in result.blocked:
            blocked.add_row(r.rule, r.message)
        console.print(blocked)
    if result.alerts:
        alerts = Table(title="Alerts raised")
        alerts.add_column("kind")
        alerts.add_column("finding")
        for a in result.alerts:
            # Reconciliation alerts start with the licence and period; the finding follows.
            finding = a.message.split(": ", 1)[-1] if a.message.startswith(
                "reconciliation of licence") else a.message
            alerts.add_row(a.kind, finding)
        console.print(alerts)
    where = Table(title=f"Everything the demo made is in {result.workdir}")
    where.add_column("what")
    where.add_column("where")
    for name, path in result.artefacts.items():
        where.add_row(name, str(path))
    console.print(where)
    verdict = "[bold green]all expected outcomes happened[/bold green]" if result.ok else \
        "[bold red]some expected outcomes did not happen[/bold red]"
    console.print(verdict)
