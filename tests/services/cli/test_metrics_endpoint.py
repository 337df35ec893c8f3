"""`valedger serve` with `[server] metrics_listen` exports Prometheus metrics over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from services.client import LedgerClient
from services.generated.valedger.v1 import compliance_pb2
from tests.services.harness import free_port


def test_metrics_endpoint_counts_calls_and_shows_the_tree(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    subprocess.run([sys.executable, "-m", "services.cli", "db", "init", "--db", db,
                    "--home-country", "KZ"],
                   check=True, capture_output=True, timeout=120)
    port, metrics_port = free_port(), free_port()
    env = dict(os.environ, VALEDGER_SERVER_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--db", db, "--listen",
         f"127.0.0.1:{port}", "--insecure"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        client = LedgerClient.connect(f"127.0.0.1:{port}", None, timeout=5,
                                      insecure_identity=("regulator", "central-bank"))
        deadline = time.monotonic() + 60
        while True:
            try:
                client.check_health()
                break
            except Exception:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        client.compliance.SetPolicy(compliance_pb2.SetPolicyRequest(
            request_id="p1", parameter="outflow_cap_usd", value="40000"),
            **client.call_options())
        client.close()
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics",
                                      timeout=10).read().decode()
    finally:
        server.terminate()
        server.wait(30)
    assert ('valedger_grpc_requests_total{code="OK",'
            'method="/valedger.v1.ComplianceService/SetPolicy"} 1.0') in text
    assert 'valedger_grpc_request_seconds_count{method="/valedger.v1.ComplianceService/' \
        'SetPolicy"} 1.0' in text
    assert "valedger_events_recorded_total 1.0" in text  # Set (db init created the policy)
    assert "valedger_audit_tree_size" in text
    # `valedger serve` runs the supervisory calendar (at start, then every 30 s) and
    # leads it: the only server on its store.
    assert 'valedger_calendar_runs_total{leading="true"}' in text
    assert "valedger_calendar_leader 1.0" in text
    # The audit follower runs in a process of its own; its CPU and memory are shown, read
    # when scraped (this first scrape already has them).
    follower_cpu = re.search(r"^valedger_audit_follower_cpu_seconds ([0-9.e+]+)$", text, re.M)
    follower_memory = re.search(r"^valedger_audit_follower_resident_bytes ([0-9.e+]+)$",
                                text, re.M)
    assert follower_cpu and follower_memory, text
    assert float(follower_cpu.group(1)) >= 0 and float(follower_memory.group(1)) > 1e6
