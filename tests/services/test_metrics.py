"""Server metrics (``services.metrics``): the audit follower process's own usage."""

from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client import generate_latest

from services.metrics import ServerMetrics, process_usage


def test_process_usage_reads_cpu_and_memory_of_a_living_process() -> None:
    busy = sum(i * i for i in range(200_000))  # some CPU of our own
    usage = process_usage(os.getpid())
    assert busy and usage is not None
    cpu, memory = usage
    assert cpu > 0 and memory > 10 * 2**20


def test_process_usage_of_an_ended_process_is_none() -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    assert process_usage(int(ended.stdout)) is None


def test_follower_gauges_are_zero_while_no_follower_runs() -> None:
    metrics = ServerMetrics()
    metrics.refresh_follower(os.getpid())
    text = generate_latest(metrics.registry).decode()
    assert "valedger_audit_follower_cpu_seconds 0.0" not in text
    metrics.refresh_follower(None)
    text = generate_latest(metrics.registry).decode()
    assert "valedger_audit_follower_cpu_seconds 0.0" in text
    assert "valedger_audit_follower_resident_bytes 0.0" in text
