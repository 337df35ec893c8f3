"""`python -m bench` (`make bench`): every benchmark in turn, each writing its section."""

from __future__ import annotations

import subprocess
import sys

MODULES = ("bench.ledger_bench", "bench.verifier_bench", "bench.audit_bench",
           "bench.services_bench")

if __name__ == "__main__":
    failed = [m for m in MODULES if subprocess.run([sys.executable, "-m", m]).returncode]
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    sys.exit(1 if failed else 0)
