"""The committed stubs in services/generated match what proto/ generates now."""

from __future__ import annotations

from pathlib import Path

from services import codegen


def test_generated_stubs_are_fresh(tmp_path: Path) -> None:
    written = codegen.generate(tmp_path)
    assert any(p.name == "trading_pb2_grpc.py" for p in written)
    committed = sorted(
        p.relative_to(codegen.GENERATED_DIR)
        for p in (codegen.GENERATED_DIR / "valedger").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert committed == written, "stale file list: run `make proto`"
    stale = [
        str(p) for p in written
        if (tmp_path / p).read_bytes() != (codegen.GENERATED_DIR / p).read_bytes()
    ]
    assert not stale, f"stale generated stubs {stale}: run `make proto`"


def test_imports_point_at_the_generated_package() -> None:
    text = (codegen.GENERATED_DIR / "valedger/v1/trading_pb2.py").read_text()
    assert "from services.generated.valedger.v1 import common_pb2" in text
    assert "\nfrom valedger.v1" not in text
