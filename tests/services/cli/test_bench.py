"""`valedger bench`: runs a benchmark module of the checkout, passing its arguments on."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "bench", *args],
                          capture_output=True, text=True, timeout=120)


def test_unknown_benchmark_is_refused_with_the_choices() -> None:
    done = run("nope")
    assert done.returncode == 2
    assert "ledger, verifier, audit, services, proofs" in done.stderr


def test_arguments_reach_the_benchmark() -> None:
    done = run("verifier", "--", "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: verifier_bench.py" in done.stdout
