"""The report as a reader opens it: headless Chromium loads every chart image and lays
out every text inside its box, on a desktop and a narrow window (skipped only without a
browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services.report.browser import LAYOUT_CHECK, Chromium, chromium_available
from tests.services.report.conftest import Made

pytestmark = pytest.mark.skipif(not chromium_available(),
                                reason="Chromium is not installed (apt-get install chromium)")


@pytest.mark.parametrize("width", [1280, 800])
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_every_chart_loads_and_no_text_overflows(made: Made, width: int) -> None:
    with Chromium(width=width, height=900) as browser:
        browser.open(made.files.html)
        layout = browser.evaluate(LAYOUT_CHECK)
    images = layout["images"]
    assert len(images) == len(made.files.charts) == 6
    assert all(i["loaded"] and i["width"] > 0 for i in images), images
    assert all(i["alt"].strip() for i in images), images
    assert all(0 < i["shown"] <= width for i in images), images
    assert layout["overflowing"] == [], layout["overflowing"]
    assert layout["pageWidth"] <= layout["viewport"], layout


def test_the_layout_check_sees_a_broken_image_and_an_overflow(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><body><img alt="gone" src="data:image/png;base64,AAAA">'
                    '<div id="narrow" style="width:80px;white-space:nowrap">'
                    'a-very-long-unbreakable-licence-holder-name</div></body>')
    with Chromium(width=400, height=300) as browser:
        browser.open(page)
        layout = browser.evaluate(LAYOUT_CHECK)
    assert [i["loaded"] for i in layout["images"]] == [False]
    assert any(o.startswith("div#narrow") for o in layout["overflowing"]), layout
