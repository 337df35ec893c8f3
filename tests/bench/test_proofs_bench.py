"""The proofs benchmark pairs the packed ingest with bare verification of the same batch
and gives the pairs' median ratio with its range."""

from __future__ import annotations

import re
from pathlib import Path

from bench.proofs_bench import VERIFIER, proof_rows
from verifier.cpu import CpuBackend


def test_the_packed_ingest_row_gives_the_median_and_range_of_its_pairs(
        tmp_path: Path) -> None:
    backend = CpuBackend(workers=1, inprocess_threshold=VERIFIER.inprocess_threshold)
    rows = proof_rows("SQLite", f"sqlite:///{tmp_path}/proofs.db", 300, backend,
                      CpuBackend(workers=1), repeats=3)
    (ingest,) = [row for row in rows if row[1].startswith("ingest, packed")]
    found = re.fullmatch(r"(\d+\.\d\d) \((\d+\.\d\d)–(\d+\.\d\d); CPU \d+\.\d\d\)", ingest[5])
    assert found is not None, ingest[5]
    median, low, high = (float(value) for value in found.groups())
    assert 0 < low <= median <= high
