"""bench/gpu_wheels.sh fetches every runtime dependency the GPU machine's image lacks, at
the version pyproject.toml pins: a dependency added to the project and forgotten there
would stop the prepared device check at its first import, on a machine lent for minutes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IN_THE_IMAGE = {"numpy", "scipy", "rich", "matplotlib", "jinja2", "markupsafe"}
"""What the GPU machine's Python has already (the script's header lists them)."""
NOT_RUN_THERE = {
    "grpcio-tools",  # regenerates the protobuf code (services.codegen): not a device step
    "weasyprint",  # the report's PDF: not a device step
}


def dependencies(extra: str | None = None) -> set[str]:
    """Returns the names of pyproject.toml's runtime dependencies (or those of an
    ``extra``), lower case."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] if extra is None else \
        project["optional-dependencies"][extra]
    return {re.split(r"[\[=<>~!]", spec, maxsplit=1)[0].lower() for spec in specs}


def fetched() -> set[str]:
    """Returns the names bench/gpu_wheels.sh takes at pyproject.toml's pins."""
    script = (ROOT / "bench" / "gpu_wheels.sh").read_text()
    return {name.lower() for name in re.findall(r"\$\(pin ([A-Za-z0-9_.-]+)\)", script)}


def test_every_runtime_dependency_travels_as_a_wheel_or_is_in_the_image() -> None:
    missing = dependencies() - fetched() - IN_THE_IMAGE - NOT_RUN_THERE
    assert not missing, f"add to bench/gpu_wheels.sh: {sorted(missing)}"


def test_the_script_takes_only_what_pyproject_pins() -> None:
    # psycopg's binary build is pinned through its extra, psycopg[binary].
    pinned = dependencies() | dependencies("dev") | {"psycopg-binary"}
    assert fetched() <= pinned, sorted(fetched() - pinned)
