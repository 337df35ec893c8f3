"""`valedger verify-shares`: summary table, per-share JSON, and malformed files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli import app
from verifier.simulator import hashrate_for_shares, honest_miner, mine_period

D = Decimal(2) ** -24
runner = CliRunner()


@pytest.fixture(scope="module")
def batch_doc() -> dict[str, Any]:
    miner = honest_miner(hashrate_for_shares(30, 600, D), b"/cli/")
    doc = mine_period(miner, start_time=1_767_225_600, seconds=600, network_difficulty=D * 8,
                      seed=9).batch
    doc["shares"] += [dict(doc["shares"][0]), dict(doc["shares"][0], job_id="nope")]
    return doc


def write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "batch.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_summary_table(tmp_path, batch_doc):
    result = runner.invoke(app, ["verify-shares", str(write(tmp_path, batch_doc)),
                                 "--backend", "cpu"])
    assert result.exit_code == 1  # a DUPLICATE and an UNKNOWN_JOB share, result.output
    accepted = len(batch_doc["shares"]) - 2
    assert f"ACCEPTED             │ {accepted:>6}" in result.output
    assert "DUPLICATE            │      1" in result.output
    assert "UNKNOWN_JOB          │      1" in result.output
    assert f"accepted work    {accepted * 256} hashes" in result.output


def test_json_output_lists_every_share(tmp_path, batch_doc):
    result = runner.invoke(app, ["verify-shares", str(write(tmp_path, batch_doc)), "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    verdicts = [s["verdict"] for s in doc["shares"]]
    assert verdicts[-2:] == ["DUPLICATE", "UNKNOWN_JOB"]
    assert set(verdicts[:-2]) == {"ACCEPTED"}
    assert doc["summary"]["counts"]["ACCEPTED"] == len(verdicts) - 2
    assert all(len(s["hash"]) == 64 for s in doc["shares"])


def test_coinbase_tag_option_overrides_the_batch_tag(tmp_path, batch_doc):
    path = write(tmp_path, batch_doc)
    result = runner.invoke(app, ["verify-shares", str(path), "--json",
                                 "--coinbase-tag", b"/other/".hex()])
    assert result.exit_code == 1
    counts = json.loads(result.stdout)["summary"]["counts"]
    assert counts["UNTAGGED_COINBASE"] == len(batch_doc["shares"]) - 1
    bad = runner.invoke(app, ["verify-shares", str(path), "--coinbase-tag", "xyz"])
    assert bad.exit_code == 2 and "not valid hex" in bad.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "batch: is not valid JSON"),
        ('{"jobs": [], "shares": [{"job_id": "a", "extranonce2": "zz", "ntime": 1, '
         '"nonce": 1}]}', "shares[0].extranonce2: is not valid hex"),
        ('{"shares": []}', "jobs: is missing"),
    ],
)
def test_malformed_files_exit_non_zero_with_the_field(tmp_path, content, message):
    result = runner.invoke(app, ["verify-shares", str(write(tmp_path, content))])
    assert result.exit_code == 2
    assert message in result.output


def test_missing_file_and_bad_backend(tmp_path):
    missing = runner.invoke(app, ["verify-shares", str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "cannot be read: No such file" in missing.output
    assert "malformed" not in missing.output  # absent, not malformed
    fpga = runner.invoke(app, ["verify-shares", str(tmp_path / "none.json"), "--backend", "fpga"])
    assert fpga.exit_code == 2 and "backend must be one of" in fpga.output


def test_too_many_shares(tmp_path, batch_doc):
    result = runner.invoke(app, ["verify-shares", str(write(tmp_path, batch_doc)),
                                 "--max-shares", "3"])
    assert result.exit_code == 2 and "more than the maximum 3" in result.output


SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "samples" / "proof-batch.json"


def test_shipped_sample_batch_verifies_through_the_real_cli():
    from tests.services.cli.real_cli import valedger

    done = valedger("verify-shares", str(SAMPLE), "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert summary["shares"] > 0
    assert summary["counts"]["ACCEPTED"] == summary["shares"]


def test_any_share_not_accepted_exits_1(tmp_path):
    from tests.services.cli.real_cli import valedger

    doc = json.loads(SAMPLE.read_text())
    doc["shares"][0]["nonce"] ^= 1  # no longer the nonce that was mined
    done = valedger("verify-shares", str(write(tmp_path, doc)))
    assert done.code == 1
    assert "LOW_DIFFICULTY" in done.stdout


def test_cuda_hint_names_the_gpu_extra():
    import importlib.util

    from tests.services.cli.real_cli import valedger

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here")
    done = valedger("verify-shares", str(SAMPLE), "--backend", "cuda")
    assert done.code == 2
    assert done.error_lines == [
        "error: cuda backend unavailable: CuPy is not installed (pip install '.[gpu]')"]


def test_shipped_sample_is_what_the_simulator_mines():
    miner = honest_miner(hashrate_for_shares(12, 600, D), b"/sample-farm/")
    batch = mine_period(miner, start_time=1_767_225_600, seconds=600,
                        network_difficulty=D * 8, seed=7).batch
    assert json.loads(SAMPLE.read_text()) == json.loads(json.dumps(batch))
