"""Generates the Python stubs of the valedger.v1 protos into ``services/generated``.

``make proto`` runs ``python -m services.codegen``; a test regenerates into a temporary
directory and compares, so committed stubs never drift from ``proto/``. protoc writes
imports as ``from valedger.v1 import x_pb2``; they are rewritten to the package the stubs
live in (``services.generated.valedger.v1``), so no ``sys.path`` trick is needed.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
GENERATED_DIR = ROOT / "services" / "generated"
GENERATED_PACKAGE = "services.generated"

MARKER = (
    "Generated code: do not edit. Regenerate with `make proto` "
    "(python -m services.codegen) from proto/valedger/v1/*.proto."
)

_IMPORT_LINE = re.compile(r"^(from|import) valedger\.v1(\b)", re.MULTILINE)


class CodegenError(RuntimeError):
    """protoc failed on the protos."""


def proto_files() -> list[Path]:
    """Returns every .proto file of the API, sorted."""
    return sorted(PROTO_ROOT.glob("valedger/**/*.proto"))


def generate(out_dir: Path = GENERATED_DIR) -> list[Path]:
    """Writes the stubs (``*_pb2.py``, ``*_pb2.pyi``, ``*_pb2_grpc.py(i)``) under out_dir.

    Returns the files written, relative to out_dir. The previous contents of
    ``out_dir/valedger`` are replaced.
    """
    plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{Path(protoc.__file__).parent / '_proto'}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            f"--plugin=protoc-gen-mypy_grpc={plugin}",
            f"--mypy_grpc_out={tmp}",
            *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
        ]
        if protoc.main(args) != 0:
            raise CodegenError("protoc failed; see its messages above")
        written = _install(Path(tmp), out_dir)
    return written


def _install(tmp: Path, out_dir: Path) -> list[Path]:
    """Copies protoc's output into out_dir with imports rewritten; returns the files."""
    target = out_dir / "valedger"
    if target.exists():
        shutil.rmtree(target)
    written: list[Path] = []
    for source in sorted(tmp.rglob("*")):
        if not source.is_file():
            continue
        relative = source.relative_to(tmp)
        dest = out_dir / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = _IMPORT_LINE.sub(rf"\1 {GENERATED_PACKAGE}.valedger.v1\2", source.read_text())
        dest.write_text(text)
        written.append(relative)
    # Package markers so the stubs import as services.generated.valedger.v1.
    for package in ("valedger", "valedger/v1"):
        init = out_dir / package / "__init__.py"
        init.write_text(f'"""{MARKER}"""\n')
        written.append(init.relative_to(out_dir))
    return sorted(written)


def main() -> None:
    """Regenerates the committed stubs and lists them."""
    for path in generate():
        print(GENERATED_DIR.relative_to(ROOT) / path)


if __name__ == "__main__":
    main()
