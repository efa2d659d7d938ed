"""Hostile text in the pages: OCR lines, photo names and places that are HTML stay text in Chromium.

Every page geosleuth writes (the trace viewer, the batch map page, the eval report) gets the same three
strings: a script element, an image whose error handler runs script, and the comment-then-script opener
that makes an HTML tokenizer read past the end of an inline <script> data block. A page is safe when
no script of theirs runs (`window.__pwned` stays undefined), the page still draws, and the strings are
shown as they are. The viewer also still refuses foreign Host headers and paths outside its routes.
"""

from __future__ import annotations

import http.client
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM, Browser
from eval_runs import result_row, write_run
from trace_runs import start_run

from geosleuth.app.map_page import write_map_page
from geosleuth.app.trace_view import make_server
from geosleuth.core.paths import source_root
from geosleuth.evals.report import write_report
from geosleuth.run.traces import TraceStore

EXAMPLES = source_root() / "examples"
SCRIPT = "<script>window.__pwned=1</script>"
IMAGE = '<img src=x onerror="window.__pwned=1">'
COMMENT = "<!--<script>"
HOSTILE = (SCRIPT, IMAGE, COMMENT)
FILE_NAME = "<img src=x onerror=window.__pwned=1>.jpg"  # a legal file name
PWNED = "window.__pwned === undefined"
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                    "(scripts/install-system-deps.sh)")


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Paris example under a file name that is an HTML tag."""
    path = tmp_path_factory.mktemp("hostile") / FILE_NAME
    shutil.copy(EXAMPLES / "fr_paris_cafe_de_flore.jpg", path)
    return path


@pytest.fixture(scope="module")
def served(photo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """A run whose OCR read the hostile strings, served on loopback: (base URL, run id, port)."""
    store = TraceStore(tmp_path_factory.mktemp("store") / "traces.sqlite")
    truth = {"lat": 48.85, "lon": 2.33, "country": "FR"}
    run_id = start_run(store, photo=str(photo), planner=SCRIPT, truth=truth)
    lines = [{"text": text, "box": [10, 10 + 60 * i, 400, 50 + 60 * i], "confidence": 0.9}
             for i, text in enumerate(HOSTILE)]
    store.add_step(run_id, kind="tool", name="ocr", input={"size": [1224, 816]},
                   output={"summary": " ".join(HOSTILE), "observations": {"lines": lines, "text": SCRIPT},
                           "candidates": [{"lat": 48.85, "lon": 2.33, "label": IMAGE}]})
    store.add_step(run_id, kind="llm", name=COMMENT, output={"reasoning": IMAGE}, error=SCRIPT)
    store.finish_run(run_id, guess={"country_code": "FR", "lat": 48.85, "lon": 2.33, "place": IMAGE},
                     seconds=1.0)
    server = make_server(store, "127.0.0.1", 0, title=COMMENT)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield f"http://127.0.0.1:{port}", run_id, port
    server.shutdown()
    server.server_close()
    store.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chrome = Browser(tmp_path_factory.mktemp("chrome"))
    yield chrome
    chrome.close()


def assert_shown_as_text(browser: Browser, scripts: int, *texts: str) -> None:
    """No hostile script ran or became an element, and each text is on the page as written."""
    assert browser.run(PWNED), "a hostile script ran"
    assert browser.run("document.scripts.length") == scripts, "only the page's own scripts"
    assert browser.run("document.querySelectorAll('img[src=x]').length") == 0
    shown = browser.run("document.body.innerText + document.body.textContent")
    for text in texts:
        assert text in shown, text


@needs_chromium
def test_the_run_page_shows_hostile_ocr_text_as_text(served: tuple[str, str, int], browser: Browser) -> None:
    base, run_id, _ = served
    browser.open(f"{base}/run/{run_id}", "document.body.dataset.ready")
    assert_shown_as_text(browser, 2, *HOSTILE, FILE_NAME)
    ocr = browser.run("[...document.querySelectorAll('#photo .ocr text')].map(t => t.textContent)")
    assert ocr == list(HOSTILE), "each OCR line is drawn over the photo, as text"
    steps = browser.run("document.getElementById('steps').innerText")
    assert SCRIPT in steps and IMAGE in steps and COMMENT in steps


@needs_chromium
def test_the_run_list_shows_hostile_names_as_text(served: tuple[str, str, int], browser: Browser) -> None:
    base, _, _ = served
    browser.open(f"{base}/", "document.body.dataset.ready")
    assert_shown_as_text(browser, 2, FILE_NAME, SCRIPT, COMMENT)  # the photo, the planner, the title


@needs_chromium
def test_the_map_page_shows_hostile_evidence_as_text(photo: Path, tmp_path: Path, browser: Browser) -> None:
    record = {"path": str(photo), "lat": 48.85, "lon": 2.33, "country": SCRIPT, "region": COMMENT,
              "place": IMAGE, "confidence": 0.5, "radius_km": 10.0, "planner": SCRIPT, "trace_id": IMAGE,
              "evidence": " ".join(HOSTILE), "error": None}
    failed = {**record, "path": str(photo.with_name(f"{COMMENT}.jpg")), "lat": None, "lon": None,
              "error": SCRIPT}
    out = tmp_path / "map.html"
    write_map_page([record, failed], out)
    browser.open(out.as_uri(), "document.body.dataset.ready")
    browser.click('tr.guess-row[data-index="0"]')
    assert browser.run("document.getElementById('detail-evidence').textContent") == " ".join(HOSTILE)
    assert_shown_as_text(browser, 2, FILE_NAME, IMAGE, COMMENT, SCRIPT)


@needs_chromium
def test_the_eval_report_shows_hostile_ids_and_places_as_text(photo: Path, tmp_path: Path,
                                                               browser: Browser) -> None:
    rows = [result_row(text, (48.85, 2.33, "FR"), {"country": "DE", "lat": 52.5, "lon": 13.4, "city": text},
                       image=str(photo)) for text in HOSTILE]
    run = write_run(tmp_path / "run", rows, dataset=SCRIPT, planner=IMAGE)
    html = next(p for p in write_report(run) if p.suffix == ".html")
    browser.open(html.as_uri())
    assert_shown_as_text(browser, 0, *HOSTILE)
    assert browser.run("document.querySelectorAll('img').length") == len(HOSTILE), "only the thumbnails"


def raw_get(port: int, target: str, host: str = "127.0.0.1") -> tuple[int, bytes]:
    """GET a request target exactly as written (no client-side normalising), with this Host header."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:80", "127.0.0.1.attacker.example",
                                  "localhost.attacker.example", "[::1].attacker.example", "127.0.0.2",
                                  "0.0.0.0", "", "127.0.0.1 attacker.example"])
def test_the_viewer_refuses_foreign_host_headers(served: tuple[str, str, int], host: str) -> None:
    _, run_id, port = served
    for target in ("/", f"/run/{run_id}", f"/api/photo/{run_id}"):
        status, body = raw_get(port, target, host)
        assert status == 403 and b"loopback" in body, (host, target)
    assert raw_get(port, f"/api/photo/{run_id}", f"localhost:{port}")[0] == 200


@pytest.mark.parametrize("target", [
    "/api/photo/../../etc/passwd", "/api/photo/..%2F..%2Fetc%2Fpasswd",
    "/api/photo/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/api/photo/..%252F..%252Fetc%252Fpasswd", "/api/photo/%2Fetc%2Fpasswd", "/api/photo//etc/passwd",
    "/api/photo/..\\..\\etc\\passwd", "/api/photo/%00", "/../../etc/passwd", "/run/..%2F..%2Fetc%2Fpasswd",
    "/api/runs/..%2F..%2Fetc%2Fpasswd", "//etc/passwd", "/api/photo/~root%2F.bashrc",
])
def test_the_viewer_serves_no_file_outside_its_runs(served: tuple[str, str, int], target: str) -> None:
    _, _, port = served
    status, body = raw_get(port, target)
    assert status == 404, (target, status)
    assert b"root:" not in body and b"\xff\xd8" not in body[:2]
