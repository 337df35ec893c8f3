"""Server CPU per unary call: this tree against a baseline tree, alternating, same run.

    .venv/bin/python -m bench.unary_cpu_bench --baseline /tmp/valedger-base [--calls N]

The baseline is another checkout of valedger (e.g. ``git archive BASE | tar -x -C DIR``);
each round starts a real ``valedger serve`` from one tree (the same Python, the tree's own
code: ``python -c`` puts the working directory first on the path) over mTLS on a fresh
SQLite store with the metrics endpoint on, then sends calls one at a time and reads the
server's CPU time (user + system, /proc) before and after. ``GetPolicy`` is a read (the
framework around a call: TLS, interceptors, authorisation, metrics, serialisation);
``RecordTrade`` adds the unavoidable encode-and-insert. Results print as Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc

from bench.services_bench import ROOT, Server, free_port, payload, set_up_market
from services.ca import CertificateAuthority
from services.generated.valedger.v1 import compliance_pb2, trading_pb2

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Returns the CPU time (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(tree: Path, workdir: Path) -> Server:
    """Returns a `valedger serve` running the code of ``tree``, once it answers."""
    ca = CertificateAuthority.init(workdir / "ca", force=True)
    ca.issue("server", "localhost")
    port, metrics_port = free_port(), free_port()
    env = dict(os.environ, VALEDGER_SERVER_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "import services, sys; assert services.__file__.startswith("
         f"{str(tree)!r}), services.__file__; from services.cli import main; main()",
         "serve", "--db", f"sqlite:///{workdir / 'ledger.db'}", "--listen",
         f"127.0.0.1:{port}", "--ca-dir", str(workdir / "ca"), "--create-tables"],
        cwd=tree, env=env, stderr=(workdir / "server.log").open("wb"))
    server = Server(process, port, ca, metrics_port)
    probe = server.client("auditor", "probe")
    deadline = time.monotonic() + 60
    while True:
        try:
            probe.check_health()
            break
        except grpc.RpcError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text()[-2000:]) from None
            time.sleep(0.2)
    probe.close()
    return server


def measure(tree: Path, workdir: Path, calls: int, label: str) -> dict[str, float]:
    """Returns server CPU ms per call of each method, for a server running ``tree``."""
    server = start(tree, workdir)
    try:
        market = set_up_market(server, label, buyers=100)
        result = {}
        with server.client("regulator", f"{label}-reader") as reader:
            request = compliance_pb2.GetPolicyRequest(parameter="outflow_cap_usd")
            for _ in range(200):  # warm-up
                reader.compliance.GetPolicy(request, **reader.call_options())
            before = cpu_seconds(server.process.pid)
            for _ in range(calls):
                reader.compliance.GetPolicy(request, **reader.call_options())
            result["GetPolicy"] = (cpu_seconds(server.process.pid) - before) / calls * 1000
        envelopes = [market.signer.seal(payload(market, f"{label}-u-{i}", i))
                     for i in range(calls + 200)]
        with server.client("exchange", f"{label}-ex", market.exchange) as ex:
            for sealed in envelopes[:200]:
                ex.trading.RecordTrade(trading_pb2.RecordTradeRequest(envelope=sealed),
                                       **ex.call_options())
            before = cpu_seconds(server.process.pid)
            for sealed in envelopes[200:]:
                ex.trading.RecordTrade(trading_pb2.RecordTradeRequest(envelope=sealed),
                                       **ex.call_options())
            result["RecordTrade"] = (cpu_seconds(server.process.pid) - before) / calls * 1000
        return result
    finally:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this tree": ROOT}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="valedger-cpu-") as tmp:
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                workdir = Path(tmp) / f"{name.replace(' ', '-')}-{round_}"
                workdir.mkdir()
                runs[name].append(measure(tree, workdir, args.calls, f"r{round_}"))
                print(name, runs[name][-1], file=sys.stderr, flush=True)
    print("## Server CPU per unary call\n")
    print(f"Command: `.venv/bin/python -m bench.unary_cpu_bench {' '.join(sys.argv[1:])}`")
    print(f"Machine: {platform.node()}, {os.cpu_count()} core(s), Python "
          f"{platform.python_version()}, shared (1-min load {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after); {datetime.now(UTC):%Y-%m-%d}. SQLite, mTLS, "
          f"metrics on, {args.calls:,} calls one at a time per method and round, rounds "
          "alternating between the trees; figures are the best round of each.\n")
    print("| method | baseline ms CPU/call | this tree ms CPU/call | ratio |")
    print("|---|---:|---:|---:|")
    for method in ("GetPolicy", "RecordTrade"):
        before = min(r[method] for r in runs["baseline"])
        after = min(r[method] for r in runs["this tree"])
        print(f"| {method} | {before:.3f} | {after:.3f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()
