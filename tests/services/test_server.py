"""The server as a whole: health, reflection, a non-Python client (buf curl), the CLI with
graceful SIGTERM, and the CA commands."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from typer.testing import CliRunner

from services.auth import caller_from_pem
from services.ca import Role
from services.cli import app
from services.client import LedgerClient
from services.server import SERVICE_NAMES
from services.tls import TlsFiles
from tests.services.harness import World, free_port

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def test_health_reports_every_service(world: World) -> None:
    with world.client("grid") as grid:
        assert grid.check_health() == 1
        for name in SERVICE_NAMES:
            assert grid.check_health(name) == 1


def test_reflection_lists_services_and_describes_them(world: World) -> None:
    with world.client("auditor") as auditor:
        stub = reflection_pb2_grpc.ServerReflectionStub(auditor.channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(
                        file_containing_symbol="valedger.v1.HistoryService")]
        answers = list(stub.ServerReflectionInfo(iter(requests), timeout=10))
    listed = {s.name for s in answers[0].list_services_response.service}
    assert set(SERVICE_NAMES) <= listed
    assert "grpc.health.v1.Health" in listed
    assert answers[1].file_descriptor_response.file_descriptor_proto


def buf_curl(world: World, who: str, method: str, data: dict) -> dict:
    files = world.cert(who)
    result = subprocess.run(
        [str(BUF), "curl", "--protocol", "grpc", "--cacert", str(files.ca_cert),
         "--cert", str(files.cert), "--key", str(files.key), "--data", json.dumps(data),
         f"https://localhost:{world.port}/{method}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_buf_curl_through_reflection(world: World) -> None:
    assert BUF.exists(), "run `make lint-proto` (npm ci) to install buf"
    health = buf_curl(world, "auditor", "grpc.health.v1.Health/Check", {})
    assert health == {"status": "SERVING"}
    licences = buf_curl(world, "regulator", "valedger.v1.LicensingService/ListLicences",
                        {"kind": "LICENCE_KIND_MINING", "pageSize": 10})
    assert {lic["licenceId"] for lic in licences["licences"]} == {
        world.ids["licence_miner_a"], world.ids["licence_miner_b"]}
    assert all(lic["mining"]["site"]["region"] == "north" for lic in licences["licences"])


def test_cli_ca_init_and_issue(tmp_path: Path) -> None:
    runner = CliRunner()
    ca_dir = tmp_path / "ca"
    assert runner.invoke(app, ["ca", "init", "--ca-dir", str(ca_dir)]).exit_code == 0
    again = runner.invoke(app, ["ca", "init", "--ca-dir", str(ca_dir)])
    assert again.exit_code == 2  # never overwrites silently
    done = runner.invoke(app, ["ca", "issue", "miner", "farm-7", "--participant",
                               "8d1f0c52-34c5-4ab0-9c8e-111111111111", "--ca-dir", str(ca_dir)])
    assert done.exit_code == 0, done.output
    cert = ca_dir / "issued" / "miner-farm-7.crt"
    caller = caller_from_pem(cert.read_bytes())
    assert caller.role is Role.MINER and caller.name == "farm-7"
    assert caller.participant == "8d1f0c52-34c5-4ab0-9c8e-111111111111"
    assert stat.S_IMODE(os.stat(ca_dir / "issued" / "miner-farm-7.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(ca_dir / "ca.key").st_mode) == 0o600
    wrong = runner.invoke(app, ["ca", "issue", "banker", "x", "--ca-dir", str(ca_dir)])
    assert wrong.exit_code == 2 and "unknown role" in wrong.output


def test_cli_serve_mtls_and_graceful_sigterm(tmp_path: Path) -> None:
    runner = CliRunner()
    ca_dir = tmp_path / "ca"
    runner.invoke(app, ["ca", "init", "--ca-dir", str(ca_dir)])
    runner.invoke(app, ["ca", "issue", "server", "localhost", "--ca-dir", str(ca_dir)])
    runner.invoke(app, ["ca", "issue", "auditor", "aud", "--ca-dir", str(ca_dir)])
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from services.cli import main; main()", "serve",
         "--db", f"sqlite:///{tmp_path / 'ledger.db'}", "--listen", f"127.0.0.1:{port}",
         "--ca-dir", str(ca_dir), "--create-tables"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        client = LedgerClient.connect(f"127.0.0.1:{port}",
                                      TlsFiles.from_ca_dir(ca_dir, "auditor", "aud"), timeout=5)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert client.check_health() == 1
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        plain = LedgerClient.connect(f"127.0.0.1:{port}", None, timeout=5)
        try:
            plain.check_health()
            raise AssertionError("a plaintext client was served")
        except grpc.RpcError as error:
            assert error.code() is grpc.StatusCode.UNAVAILABLE
        client.close()
        plain.close()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert '"message": "stopped"' in stderr


def test_cli_serve_insecure_warns(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from services.cli import main; main()", "serve",
         "--db", f"sqlite:///{tmp_path / 'ledger.db'}", "--listen", f"127.0.0.1:{port}",
         "--insecure", "--create-tables"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        client = LedgerClient.connect(f"127.0.0.1:{port}", None, timeout=5,
                                      insecure_identity=("auditor", "aud"))
        deadline = time.monotonic() + 30
        while True:
            try:
                assert client.check_health() == 1
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert list(client.list_licences()) == []
        client.close()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert "WITHOUT TLS" in stderr and process.returncode == 0


def test_cli_serve_without_certificates_refuses(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'l.db'}"])
    assert result.exit_code == 2
    assert "mTLS needs certificates" in result.output
