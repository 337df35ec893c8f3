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


def test_results_go_to_an_untracked_file_unless_asked(tmp_path) -> None:
    results = tmp_path / "results.md"
    probe = ("import os; from bench.results_file import results_path; "
             "print(results_path())")
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "bench", "verifier", "--results",
         str(results), "--", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"results will be recorded in {results}" in done.stderr
    from bench.results_file import TRACKED_RESULTS, results_path

    assert results_path() == TRACKED_RESULTS  # run directly, a benchmark keeps its file
    env = {**__import__("os").environ, "VALEDGER_BENCH_RESULTS": str(results)}
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           env=env, timeout=60)
    assert shown.stdout.strip() == str(results)
