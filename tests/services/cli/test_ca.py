"""`valedger ca`: user errors exit 2 in one line, issued files are never replaced silently,
participant certificates need a participant id, and a revoked certificate is refused by
a running server from its next call on."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from services.client import LedgerClient
from services.tls import TlsFiles
from tests.services.cli.real_cli import valedger, wait_until_serving
from tests.services.cli.test_serve import free_port, stop


@pytest.fixture
def ca_dir(tmp_path: Path) -> Path:
    ca = tmp_path / "ca"
    assert valedger("ca", "init", "--ca-dir", str(ca)).code == 0
    return ca


def test_issue_keeps_existing_files_unless_forced(ca_dir: Path) -> None:
    assert valedger("ca", "issue", "auditor", "aud", "--ca-dir", str(ca_dir)).code == 0
    cert = ca_dir / "issued" / "auditor-aud.crt"
    key = ca_dir / "issued" / "auditor-aud.key"
    before = cert.read_bytes(), key.read_bytes()
    done = valedger("ca", "issue", "auditor", "aud", "--ca-dir", str(ca_dir))
    assert done.code == 2 and len(done.error_lines) == 1
    assert f"{cert} and {key} exist: use --force to replace them" in done.stderr
    assert (cert.read_bytes(), key.read_bytes()) == before
    done = valedger("ca", "issue", "auditor", "aud", "--ca-dir", str(ca_dir), "--force")
    assert done.code == 0 and cert.read_bytes() != before[0]


def test_participant_roles_need_a_participant_id(ca_dir: Path) -> None:
    done = valedger("ca", "issue", "miner", "farm-1", "--ca-dir", str(ca_dir))
    assert done.code == 2 and len(done.error_lines) == 1
    assert "--participant must be its participant id" in done.stderr
    assert "RegisterParticipant" in done.stderr
    assert not (ca_dir / "issued").exists()
    done = valedger("ca", "issue", "miner", "farm-1", "--participant", str(uuid.uuid4()),
                    "--ca-dir", str(ca_dir))
    assert done.code == 0, done.stderr


def test_user_errors_exit_2(tmp_path: Path, ca_dir: Path) -> None:
    done = valedger("ca", "issue", "banker", "x", "--ca-dir", str(ca_dir))
    assert done.code == 2 and done.error_lines[0].startswith("error: unknown role 'banker'")
    done = valedger("ca", "issue", "auditor", "x", "--ca-dir", str(tmp_path / "none"))
    assert done.code == 2 and "run `valedger ca init` first" in done.stderr
    done = valedger("ca", "init", "--ca-dir", str(ca_dir))
    assert done.code == 2 and "--force" in done.stderr
    done = valedger("ca", "revoke", "auditor-nobody", "--ca-dir", str(ca_dir))
    assert done.code == 2 and "no certificate auditor-nobody" in done.stderr


def test_revoked_certificate_is_refused_without_restart(ca_dir: Path, tmp_path: Path) -> None:
    for role, name in (("server", "localhost"), ("auditor", "aud"), ("auditor", "other")):
        assert valedger("ca", "issue", role, name, "--ca-dir", str(ca_dir)).code == 0
    port = free_port()
    process = serve_until_healthy_mtls(ca_dir, tmp_path, port)
    revoked = LedgerClient.connect(f"127.0.0.1:{port}",
                                   TlsFiles.from_ca_dir(ca_dir, "auditor", "aud"), timeout=10)
    kept = LedgerClient.connect(f"127.0.0.1:{port}",
                                TlsFiles.from_ca_dir(ca_dir, "auditor", "other"), timeout=10)
    try:
        assert list(revoked.list_licences()) == []
        done = valedger("ca", "revoke", "auditor-aud", "--ca-dir", str(ca_dir))
        assert done.code == 0 and "revoked" in done.stdout
        assert (ca_dir / "crl.pem").exists()
        with pytest.raises(grpc.RpcError) as refused:
            list(revoked.list_licences())
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "revoked" in (refused.value.details() or "")
        assert list(kept.list_licences()) == []
    finally:
        revoked.close()
        kept.close()
        stderr = stop(process)
    assert "certificate revocation list loaded" in stderr


def serve_until_healthy_mtls(ca_dir: Path, tmp_path: Path, port: int):
    """Starts an mTLS server of the CA and returns it once it answers."""
    import subprocess
    import sys

    from tests.services.cli.real_cli import ROOT, environment

    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--db",
         f"sqlite:///{tmp_path / 'l.db'}", "--listen", f"127.0.0.1:{port}",
         "--ca-dir", str(ca_dir)],
        cwd=ROOT, env=environment(), stderr=subprocess.PIPE, text=True)
    client = LedgerClient.connect(f"127.0.0.1:{port}",
                                  TlsFiles.from_ca_dir(ca_dir, "auditor", "other"), timeout=5)
    return wait_until_serving(process, client)
