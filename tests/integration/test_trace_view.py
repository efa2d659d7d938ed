"""`geosleuth trace serve`: the JSON API, and the pages (paging, filters, map zoom) in headless Chromium."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, Browser
from eval_runs import write_run
from trace_runs import start_run

from geosleuth.app.trace_view import make_server
from geosleuth.core.paths import source_root
from geosleuth.run.traces import TraceStore

EXAMPLES = source_root() / "examples"
PHOTO = EXAMPLES / "fr_paris_cafe_de_flore.jpg"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real policy trace of the Paris example, served on a free loopback port: (base URL, run id)."""
    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.locate import locate_photo

    settings = Settings(use_metadata=False, tools=("ocr", "text_clues", "gazetteer"))
    store = TraceStore(tmp_path_factory.mktemp("view") / "traces.sqlite")
    truth = {"lat": 48.8541, "lon": 2.3326, "country": "FR"}
    run_id = locate_photo(load_photo(PHOTO), settings, planner="policy", traces=store, truth=truth).trace_id
    server = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", run_id
    server.shutdown()
    server.server_close()
    store.close()


def get(url: str, host: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


@pytest.mark.slow
def test_api_and_page(served: tuple[str, str]) -> None:
    base, run_id = served
    status, kind, body = get(f"{base}/api/runs")
    assert status == 200 and kind.startswith("application/json")
    listing = json.loads(body)
    assert [r["id"] for r in listing["runs"]] == [run_id] and listing["total"] == 1 and listing["pages"] == 1
    assert listing["runs"][0]["tools"] == ["ocr", "text_clues", "gazetteer"]

    status, _, body = get(f"{base}/api/runs/{run_id}")
    payload = json.loads(body)
    assert status == 200 and payload["run"]["truth_country"] == "FR" and payload["classes"] == []
    assert [s["kind"] for s in payload["steps"]] == ["tool", "tool", "tool", "commit"]
    assert any("Flore" in line["text"] for line in payload["ocr"]["lines"])
    assert payload["ocr"]["size"] == [1224, 816] and payload["candidates"]
    assert payload["photo_url"] == f"/api/photo/{run_id}"

    status, kind, body = get(f"{base}/run/{run_id}")
    assert status == 200 and kind.startswith("text/html")
    page = body.decode()
    data = re.search(r"<script id=\"data\" type=\"application/json\">(.*?)</script>", page, re.S)
    code = page.replace(data[0], "")  # the data may hold URLs (the run's settings); the code may not
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg\b)", code), "no external resources"
    assert "__GEOSLEUTH" not in code, "the data and the map script are filled in"
    embedded = json.loads(data[1])
    assert [s["idx"] for s in embedded["run"]["steps"]] == [0, 1, 2, 3]
    assert any(c["code"] == "FR" for c in embedded["world"])

    status, kind, body = get(f"{base}/api/photo/{run_id}")
    from PIL import Image

    assert status == 200 and kind == "image/jpeg" and Image.open(io.BytesIO(body)).size == (1224, 816)
    assert get(f"{base}/api/runs/nope")[0] == 404
    assert get(f"{base}/run/nope")[0] == 404
    assert get(f"{base}/api/runs?colour=red")[0] == 400
    status, _, body = get(f"{base}/api/runs", host="attacker.example")
    assert status == 403 and b"loopback" in body


def screenshot(url: str, png: Path, tmp: Path) -> None:
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp / 'profile'}", f"--screenshot={png}", "--window-size=1200,900",
         "--virtual-time-budget=10000", url],
        capture_output=True, timeout=120, check=True,
    )


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-system-deps.sh)")
def test_screenshot_in_headless_chromium(served: tuple[str, str], tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    base, run_id = served
    png = tmp_path / "run.png"
    screenshot(f"{base}/run/{run_id}", png, tmp_path)
    image = Image.open(png).convert("RGB")
    assert image.size == (1200, 900)
    pixels = np.asarray(image).astype(int)
    assert pixels.std() > 20, "the page is not blank"

    def share(rgb: tuple[int, int, int], tolerance: int = 12) -> float:
        return float((np.abs(pixels - np.array(rgb)).max(axis=2) <= tolerance).mean())

    assert share((0x1D, 0x35, 0x57)) > 0.02, "the header is drawn"
    assert share((0xFF, 0xD6, 0x00), 40) > 0.0005, "OCR boxes are drawn over the photo"
    assert share((0x8F, 0xD1, 0x9E)) > 0.00005, "the true country is filled on the map"
    assert share((0xCF, 0x22, 0x2E), 30) > 0.00002, "the guess is marked on the map"
    assert share((0x2A, 0x9D, 0x8F)) > 0.0002, "tool steps are listed"

    listing = tmp_path / "list.png"
    screenshot(f"{base}/", listing, tmp_path)
    assert np.asarray(Image.open(listing).convert("RGB")).astype(int).std() > 20


RUNS = 130
PARIS, BERLIN = (48.8566, 2.3522), (52.52, 13.405)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """130 recorded runs of Paris (every 4th guessed Berlin, every 3rd called the gazetteer; the first 100
    of eval run "nightly"), served: (base URL, run ids newest first)."""
    store = TraceStore(tmp_path_factory.mktemp("many") / "traces.sqlite")
    truth = {"lat": PARIS[0], "lon": PARIS[1], "country": "FR"}
    for i in range(RUNS):
        run_id = start_run(store, photo=f"p{i:03}.jpg", truth=truth, eval_run="nightly" if i < 100 else None)
        store.add_step(run_id, kind="tool", name="ocr")
        if i % 3 == 0:
            store.add_step(run_id, kind="tool", name="gazetteer")
        lat, lon, code = (*BERLIN, "DE") if i % 4 == 0 else (PARIS[0] + i / 1000, PARIS[1], "FR")
        store.finish_run(run_id, guess={"country_code": code, "lat": lat, "lon": lon}, seconds=1.0)
    ids = [run["id"] for run in store.list_runs()]
    server = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ids
    server.shutdown()
    server.server_close()
    store.close()


def listing(url: str) -> dict[str, Any]:
    status, _, body = get(url)
    assert status == 200, body
    return json.loads(body)  # type: ignore[no-any-return]


def test_the_api_lists_every_run_a_page_at_a_time_with_filters(many: tuple[str, list[str]]) -> None:
    base, ids = many
    pages = [listing(f"{base}/api/runs?page={n}") for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [RUNS] * 3 and pages[0]["pages"] == 3
    assert [len(p["runs"]) for p in pages] == [50, 50, 30]
    assert [r["id"] for p in pages for r in p["runs"]] == ids, "every run once, newest first"
    assert listing(f"{base}/api/runs?page=4")["runs"] == []
    assert len(listing(f"{base}/api/runs?per_page=200")["runs"]) == RUNS

    def total(query: str) -> int:
        return int(listing(f"{base}/api/runs?{query}")["total"])

    assert total("wrong_country=1") == 33 and total("wrong_country=0") == RUNS - 33
    # the right guesses are i / 1000 degrees (0.111 km) north: above 5 km from i = 45, 64 of them
    assert total("min_error_km=500") == 33 and total("min_error_km=5") == 33 + 64
    assert total("tool=gazetteer") == 44 and total("tool=gazetteer&wrong_country=1") == 11
    assert total("eval_run=nightly") == 100
    for bad in ("page=0", "page=two", "per_page=501", "min_error_km=far", "colour=red"):
        assert get(f"{base}/api/runs?{bad}")[0] == 400, bad


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-system-deps.sh)")
def test_the_list_page_pages_and_filters_in_chromium(many: tuple[str, list[str]], tmp_path: Path) -> None:
    base, ids = many
    browser = Browser(tmp_path / "profile")
    rows = "[...document.querySelectorAll('#runs tr.run')].map(r => [...r.cells].map(c => c.textContent))"
    try:
        browser.open(f"{base}/", "document.body.dataset.ready")
        first = browser.run(rows)
        assert [r[0] for r in first] == ids[:50]
        assert browser.run("document.querySelector('.page-of').textContent") == "page 1 of 3"
        browser.click_and_load(".next", "document.body.dataset.ready")
        assert [r[0] for r in browser.run(rows)] == ids[50:100]
        assert "runs 51–100 of 130" in browser.run("document.getElementById('meta').textContent")
        browser.click_and_load(".next", "document.body.dataset.ready")
        assert [r[0] for r in browser.run(rows)] == ids[100:]
        assert browser.run("document.querySelector('.next')") is None

        browser.open(f"{base}/", "document.body.dataset.ready")
        browser.click("#f-wrong")
        browser.click_and_load("#filters button[type=submit]", "document.body.dataset.ready")
        wrong = browser.run(rows)
        assert len(wrong) == 33 and all(r[3] == "FR" and r[4] == "DE" for r in wrong)
        assert browser.run("document.getElementById('f-wrong').checked") is True
        browser.run("document.getElementById('f-tool').value = 'gazetteer'")
        browser.click_and_load("#filters button[type=submit]", "document.body.dataset.ready")
        both = browser.run(rows)
        assert len(both) == 11 and all("gazetteer" in r[6] for r in both)
        assert "tool=gazetteer" in browser.run("location.search")

        browser.open(f"{base}/?min_error_km=far", "document.getElementById('list-error')")
        assert "min_error_km a number" in browser.run("document.getElementById('list-error').textContent")
    finally:
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-system-deps.sh)")
def test_the_run_map_opens_on_the_truth_and_the_guess(served: tuple[str, str], tmp_path: Path) -> None:
    base, run_id = served
    run = json.loads(get(f"{base}/api/runs/{run_id}")[2])["run"]
    truth, guess = run["truth"], run["guess"]
    browser = Browser(tmp_path / "profile")
    try:
        browser.open(f"{base}/run/{run_id}", "document.body.dataset.ready")
        box = browser.run("document.getElementById('map').getAttribute('viewBox')")
        x, y, w, h = (float(v) for v in box.split())
        for lat, lon in ((truth["lat"], truth["lon"]), (guess["lat"], guess["lon"])):
            assert x < lon + 180 < x + w and y < 90 - lat < y + h
        assert w < 1, f"a {run['error_km']:.1f} km error is shown at street scale, not on the world"
        inside = ("(() => { const m = document.getElementById('map').getBoundingClientRect();"
                  " return ['truth-mark', 'guess-mark'].every(id => { const r = document.getElementById(id)"
                  ".getBoundingClientRect(); return r.left >= m.left && r.right <= m.right && r.top >= m.top"
                  " && r.bottom <= m.bottom && r.width > 8; }); })()")
        assert browser.run(inside), "both marks are drawn inside the map, a few pixels wide"
        browser.click('button[data-zoom="world"]')
        assert browser.run("document.getElementById('map').getAttribute('viewBox')") == "0 0 360 180"
    finally:
        browser.close()


def test_serve_opens_an_eval_run_folder(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "runs" / "nightly", [], dataset="examples")
    store = TraceStore(folder / "traces.sqlite")
    ids = {start_run(store, eval_run="nightly", photo=f"{i}.jpg") for i in range(3)}
    store.close()
    geosleuth = str(Path(sys.executable).with_name("geosleuth"))
    server = subprocess.Popen([geosleuth, "trace", "serve", str(folder), "--port", "0"],
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert base is not None, line
        assert {r["id"] for r in listing(f"{base[0]}/api/runs")["runs"]} == ids
        page = get(f"{base[0]}/")[2].decode()
        assert '"title": "eval run nightly (dataset examples, planner policy)"' in page
    finally:
        server.terminate()
        server.wait(timeout=30)

    no_header = tmp_path / "plain"
    no_header.mkdir()
    done = subprocess.run([geosleuth, "trace", "serve", str(no_header)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "not an eval run folder" in done.stderr


def test_an_eval_run_name_limits_the_list(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    nightly = {start_run(store, eval_run="nightly"), start_run(store, eval_run="nightly")}
    start_run(store, eval_run="weekly")
    server = make_server(store, "127.0.0.1", 0, eval_run="nightly", title="eval run nightly")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert {r["id"] for r in listing(f"{url}/api/runs")["runs"]} == nightly
        assert listing(f"{url}/api/runs?eval_run=weekly")["total"] == 1, "the query can still ask for another"
    finally:
        server.shutdown()
        server.server_close()
        store.close()
