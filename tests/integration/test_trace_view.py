"""`geosleuth trace serve`: the loopback viewer's JSON API, its page, and a headless Chromium screenshot."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from geosleuth.app.trace_view import make_server
from geosleuth.core.paths import source_root
from geosleuth.run.traces import TraceStore

EXAMPLES = source_root() / "examples"
PHOTO = EXAMPLES / "fr_paris_cafe_de_flore.jpg"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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
    assert [r["id"] for r in json.loads(body)] == [run_id]

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
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", ""), "no external resources"
    data = re.search(r"<script id=\"data\" type=\"application/json\">(.*?)</script>", page, re.S)
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
