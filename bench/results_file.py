"""Where a benchmark records its section: ``$VALEDGER_BENCH_RESULTS`` when set (what
`valedger bench` sets, so a run never rewrites the tracked file unless asked), else the
tracked ``bench/RESULTS.md``."""

from __future__ import annotations

import os
from pathlib import Path

RESULTS_ENV = "VALEDGER_BENCH_RESULTS"
TRACKED_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def results_path() -> Path:
    """Returns the file benchmarks record their results in."""
    named = os.environ.get(RESULTS_ENV)
    return Path(named) if named else TRACKED_RESULTS
