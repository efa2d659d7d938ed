"""`locate --html`: the batch map page of the examples, read back as HTML and driven in headless Chromium."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, Browser
from html_pages import parse_page
from PIL import Image

from geosleuth.app.map_page import THUMB_SIDE, write_map_page
from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"
RADII = (3.0, 25.0, 200.0, 900.0, 40.0)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(scripts/install-system-deps.sh)")


def records() -> list[dict[str, Any]]:
    """Five located examples (their labelled places, 1 km north) and two failures (not an image, gone)."""
    with (EXAMPLES / "labels.csv").open(encoding="utf-8") as stream:
        labels = list(csv.DictReader(stream))[:5]
    rows: list[dict[str, Any]] = [
        {"path": str(EXAMPLES / label["file"]), "lat": float(label["lat"]) + 0.009,
         "lon": float(label["lon"]), "country": label["country_code"], "region": None,
         "place": label["place"],
         "confidence": 0.1 + 0.2 * i, "radius_km": RADII[i], "planner": "policy", "trace_id": f"trace{i}",
         "evidence": f"ocr read the sign of {label['file']}", "error": None}
        for i, label in enumerate(labels)
    ]
    failed = {"lat": None, "lon": None, "country": None, "region": None, "place": None, "confidence": 0.0,
              "radius_km": None, "planner": "policy", "trace_id": None, "evidence": None}
    rows.append({**failed, "path": str(EXAMPLES / "labels.csv"), "error": "not a recognised image format"})
    rows.append({**failed, "path": "/nowhere/gone.jpg", "error": "no such file"})
    return rows


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("map") / "sub" / "map.html"
    write_map_page(records(), out)
    return out


def embedded(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    match = re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S)
    assert match is not None
    return json.loads(match[1])  # type: ignore[no-any-return]


def test_the_page_is_one_file_with_small_embedded_thumbnails(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg\b)", text), "no external URL"
    assert "__GEOSLEUTH" not in text, "every mark is filled"
    parsed = parse_page(page)
    assert all(link.startswith(("data:", "#")) for link in parsed.links)
    data = embedded(page)
    assert [r["name"] for r in data["records"]][-2:] == ["labels.csv", "gone.jpg"]
    thumbs = [r["thumb"] for r in data["records"]]
    assert thumbs[-2:] == [None, None], "an unreadable or missing photo has no thumbnail"
    for thumb in thumbs[:5]:
        assert thumb.startswith("data:image/jpeg;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(thumb.split(",", 1)[1])))
        assert image.format == "JPEG" and max(image.size) == THUMB_SIDE
    assert any(c["code"] == "JP" for c in data["world"])
    assert page.stat().st_size < 400_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chrome = Browser(tmp_path_factory.mktemp("chrome"))
    yield chrome
    chrome.close()


def view_box(browser: Browser) -> list[float]:
    return [float(v) for v in browser.run("document.getElementById('map').getAttribute('viewBox')").split()]


@needs_chromium
def test_the_page_draws_each_guess_and_a_click_shows_its_evidence(page: Path, browser: Browser) -> None:
    browser.open(page.as_uri(), "document.body.dataset.ready")
    assert browser.run("document.querySelectorAll('#map .guess-mark').length") == 5
    assert browser.run("document.querySelectorAll('#map path.conf').length") == 5
    assert browser.run("document.querySelectorAll('#guesses tr.guess-row img').length") == 5
    errors = browser.run("document.getElementById('errors').textContent")
    assert "not a recognised image format" in errors and "gone.jpg" in errors
    assert "Failed (2)" in errors

    # a real click on Tokyo's dot (hit-tested by Chromium) shows its evidence and selects its row
    browser.click('.guess-mark[data-index="2"]')
    assert browser.run("document.getElementById('detail-evidence').textContent") == \
        "ocr read the sign of jp_tokyo_shibuya.jpg"
    assert browser.run("document.querySelector('tr.guess-row.selected').dataset.index") == "2"

    # a click on a row shows its evidence and zooms to its circle (Moscow, 40 km)
    browser.click('tr.guess-row[data-index="4"]')
    assert "ru_moscow_tverskaya.jpg" in browser.run("document.getElementById('detail-evidence').textContent")
    x, y, w, h = view_box(browser)
    moscow = (37.609 + 180, 90 - 55.7706)
    assert x < moscow[0] < x + w and y < moscow[1] < y + h
    assert 0.5 < w < 3, "the view is the 80 km wide circle, not the world"

    browser.click('.error-row[data-index="5"]')
    assert browser.run("document.getElementById('detail-evidence').textContent") == \
        "not a recognised image format"


@needs_chromium
def test_the_map_zooms_and_pans_and_marks_keep_their_screen_size(page: Path, browser: Browser) -> None:
    browser.open(page.as_uri(), "document.body.dataset.ready")
    home = view_box(browser)
    assert home[2] > 200, "it opens on every guess"
    centre = browser.centre("#map")
    browser.wheel(*centre, -400)
    zoomed = view_box(browser)
    assert zoomed[2] < home[2] / 2 and zoomed[3] == pytest.approx(zoomed[2] / 2)

    browser.drag(centre, (centre[0] + 100, centre[1] + 50))
    panned = view_box(browser)
    unit = zoomed[2] / browser.run("document.getElementById('map').clientWidth")
    assert panned[2] == pytest.approx(zoomed[2])
    assert panned[0] == pytest.approx(zoomed[0] - 100 * unit, rel=0.02)
    assert panned[1] == pytest.approx(zoomed[1] - 50 * unit, rel=0.02)
    assert browser.run("document.querySelector('.selected')") is None, "a drag is not a click"

    browser.click('tr.guess-row[data-index="0"]')  # Cape Canaveral, a 3 km circle: about 0.1 degree
    assert view_box(browser)[2] < 0.2
    diameter = browser.run("document.querySelector('.guess-mark').getBoundingClientRect().width")
    assert diameter == pytest.approx(12, abs=1), "a dot is 6 px in radius at any zoom"
    browser.click('button[data-zoom="world"]')
    assert view_box(browser) == [0, 0, 360, 180]
    browser.click('button[data-zoom="fit"]')
    assert view_box(browser) == pytest.approx(home)
    browser.click('button[data-zoom="+"]')
    assert view_box(browser)[2] == pytest.approx(home[2] / 2)
