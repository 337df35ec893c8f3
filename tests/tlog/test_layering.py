"""Layering (DESIGN.md §2): ``tlog`` and ``verifier`` import nothing else of ours, and
``tlog`` needs only the standard library and ``cryptography``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"ledger", "services", "verifier", "tlog", "tests", "bench"}


def imported_roots(package: str) -> dict[str, set[str]]:
    """Returns, per source file of ``package``, the top-level modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        roots: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = roots
    return found


@pytest.mark.parametrize("package", ["tlog", "verifier"])
def test_package_imports_nothing_else_of_ours(package):
    bad = {f: r & (OURS - {package}) for f, r in imported_roots(package).items()}
    assert not {f: r for f, r in bad.items() if r}


def test_tlog_needs_only_stdlib_and_cryptography():
    allowed = set(sys.stdlib_module_names) | {"cryptography", "tlog"}
    bad = {f: r - allowed for f, r in imported_roots("tlog").items()}
    assert not {f: r for f, r in bad.items() if r}


def test_the_scan_sees_imports():
    # The scan is not vacuous: it finds tlog's own and cryptography imports.
    roots = set().union(*imported_roots("tlog").values())
    assert {"tlog", "cryptography", "hashlib"} <= roots
