"""`audit verify` and `audit verify-proof` with --witness-key, --quorum and
--require-signed, on a store whose checkpoints two real witnesses cosigned."""

from __future__ import annotations

from typer.testing import CliRunner

from ledger.audit.witnessing import CosignatureCollector
from services.cli import app
from tests.ledger.audit.conftest import make_audited
from tests.ledger.audit.test_witnessing import policy_of, running_witness
from tlog.keys import SIG_TYPE_COSIGNATURE_V1, NoteSigner

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_verify_and_verify_proof_with_witnesses(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    audited = make_audited(url)
    try:
        vkey = audited.signer.verifier.vkey
        with running_witness(tmp_path, "mof.test", audited.signer.verifier) as a, \
                running_witness(tmp_path, "chamber.test", audited.signer.verifier) as b:
            w1, w2 = a[1].verifier.vkey, b[1].verifier.vkey
            code, out = invoke("audit", "verify", "--db", url, "--public-key", vkey,
                               "--witness-key", w1, "--witness-key", w2)
            assert code == 1 and "UNWITNESSED" in out
            CosignatureCollector(audited.log.store, policy_of(a, b)).collect()
        code, out = invoke("audit", "verify", "--db", url, "--public-key", vkey,
                           "--witness-key", w1, "--witness-key", w2, "--quorum", "2")
        assert code == 0, out
        assert "meet the witness quorum" in out
        stranger = NoteSigner.generate("x.test", SIG_TYPE_COSIGNATURE_V1).verifier.vkey
        code, out = invoke("audit", "verify", "--db", url, "--public-key", vkey,
                           "--witness-key", w1, "--witness-key", stranger, "--quorum", "2")
        assert code == 1 and "UNWITNESSED" in out
        code, out = invoke("audit", "verify", "--db", url, "--public-key", vkey,
                           "--witness-key", w1, "--quorum", "3")
        assert code == 2
        with audited.log.store.read() as tx:
            leaf = tx.leaf_at(3)
        event = f"{leaf.originator_id}:{leaf.originator_version}"
        bundle = tmp_path / "bundle.txt"
        code, out = invoke("audit", "prove", "--db", url, "--event", event, "--out",
                           str(bundle))
        assert code == 0, out
        code, out = invoke("audit", "verify-proof", str(bundle), "--public-key", vkey,
                           "--witness-key", w1, "--witness-key", w2)
        assert code == 0, out
        assert "cosigned by" in out
        code, out = invoke("audit", "verify-proof", str(bundle), "--public-key", vkey,
                           "--witness-key", stranger, "--quorum", "1")
        assert code == 1 and "not witnessed" in out
        # Records after the last checkpoint: a warning, or a fault with --require-signed.
        audited.market.participant("late", approve=False)  # one record: 24, not checkpointed
        audited.log.follower.catch_up()
        code, out = invoke("audit", "verify", "--db", url, "--public-key", vkey)
        assert code == 0 and "not yet covered" in out
        code, out = invoke("audit", "verify", "--db", url, "--public-key", vkey,
                           "--require-signed")
        assert code == 1 and "UNSIGNED" in out
    finally:
        audited.raw.close()
        audited.ledger.close()
