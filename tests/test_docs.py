"""The project's own documents stand alone: every relative link resolves inside the
checkout, none points outside it, and the sample they cite ships."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "ops").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_resolve_inside_the_checkout() -> None:
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if "://" in target:
                continue
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), (document.name, target)
            assert resolved.exists(), (document.name, target)


def test_no_document_points_outside_the_checkout() -> None:
    for document in DOCUMENTS:
        assert "shared/DESIGN.md" not in document.read_text(), document.name


def test_readme_names_an_importable_ledger() -> None:
    from ledger import Ledger as Declared  # the ledger's declared surface
    from ledger.application import Ledger

    text = (ROOT / "README.md").read_text()
    assert Declared is Ledger and "`ledger.Ledger`" in text
