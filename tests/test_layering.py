"""The shape of the code, as its imports draw it (DESIGN §2): the layers themselves are
an import-linter contract (``make lint``); here, what it cannot say.

- the services use the ledger's declared surface (``ledger.__all__``) and nothing else;
- no import circles between the ledger's modules (imports at module level; imports under
  ``TYPE_CHECKING`` or inside functions do not run when a module is loaded);
- no module of ``ledger/`` is over ~400 lines without a reason written at its top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import ledger

ROOT = Path(__file__).resolve().parent.parent
LONG_MODULE = 420
"""Lines above which a ledger module must say at its top why it is long."""


def modules(package: str) -> Iterator[tuple[str, Path]]:
    """Returns (dotted name, path) of every module of ``package`` (generated code aside)."""
    for path in sorted((ROOT / package).rglob("*.py")):
        if "generated" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports_from(path: Path, top_level_only: bool = False) -> Iterator[tuple[str, list[str]]]:
    """Returns (module, names) of each ``from X import names`` and ``import X`` in a file;
    with ``top_level_only``, only those that run when the module is loaded."""
    tree = ast.parse(path.read_text())
    nodes: list[ast.stmt] = list(tree.body) if top_level_only else list(ast.walk(tree))  # type: ignore[arg-type]
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def test_services_use_only_the_ledgers_declared_surface() -> None:
    offenders = []
    for name, path in modules("services"):
        for module, names in imports_from(path):
            if module.startswith("ledger."):
                offenders.append(f"{name} imports {module}")
            elif module == "ledger":
                offenders += [f"{name} imports ledger.{n}, not in ledger.__all__"
                              for n in names if n not in ledger.__all__]
    assert offenders == []


def test_the_declared_surface_is_importable() -> None:
    missing = [name for name in ledger.__all__ if not hasattr(ledger, name)]
    assert missing == [] and len(set(ledger.__all__)) == len(ledger.__all__)


def ledger_graph() -> dict[str, set[str]]:
    """Returns the ledger's modules and the ledger modules each imports when loaded."""
    names = dict(modules("ledger"))
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        for module, imported in imports_from(path, top_level_only=True):
            targets = [f"{module}.{n}" for n in imported if f"{module}.{n}" in names]
            if not targets and module in names:
                targets = [module]
            graph[name].update(t for t in targets if t != name and name != "ledger")
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Returns the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles_between_ledger_modules() -> None:
    assert cycles(ledger_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_long_ledger_modules_say_why() -> None:
    unexplained = []
    for name, path in modules("ledger"):
        text = path.read_text()
        if text.count("\n") > LONG_MODULE:
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if "long because" not in docstring:
                unexplained.append(name)
    assert unexplained == []
