"""Runs the real `valedger` command line in a child process, as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Outcome:
    """What a finished command printed and returned."""

    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """Returns the non-empty lines of stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Returns the child's environment: ours without VALEDGER_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VALEDGER_")}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def valedger(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 120, stdin: str | None = None) -> Outcome:
    """Returns the outcome of ``python -m services.cli ARGS``."""
    done = subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=cwd or ROOT,
                          env=environment(env), capture_output=True, text=True,
                          encoding="utf-8", errors="surrogateescape", timeout=timeout,
                          input=stdin)
    return Outcome(done.returncode, done.stdout, done.stderr)


def interrupted(*args: str, when: str, cwd: Path | None = None,
                env: dict[str, str] | None = None, timeout: float = 60) -> Outcome:
    """Starts ``valedger ARGS``, sends SIGINT (Ctrl-C) once ``when`` exists (a path) and
    returns the outcome."""
    child = subprocess.Popen([sys.executable, "-m", "services.cli", *args], cwd=cwd or ROOT,
                             env=environment(env), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not Path(when).exists() and not list(Path(when).parent.glob(Path(when).name)):
        if time.monotonic() > deadline or child.poll() is not None:
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=timeout)
    return Outcome(child.returncode, out, err)


def wait_until_serving(process: subprocess.Popen[str], client: Any) -> subprocess.Popen[str]:
    """Returns ``process`` (a `valedger serve`) once ``client`` (a LedgerClient) gets an
    answer to a health check; kills it and fails with its stderr when it exits first or
    does not answer within a minute. Closes the client."""
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                assert client.check_health() == 1
                return process
            except grpc.RpcError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise AssertionError(process.communicate()[1]) from None
                time.sleep(0.2)
    finally:
        client.close()
