"""`geosleuth trace serve`: a local web viewer of the trace store (loopback only, standard library only).

Routes: `/` the run list; `/run/<id>` one run (its data embedded in the page, so it renders without
further requests); `/api/runs` and `/api/runs/<id>` the same data as JSON; `/api/photo/<id>` the run's
photo as JPEG (only photos a run recorded, read from their recorded path); `/api/world` country outlines
as SVG paths. The page (agent/static/trace.html) is plain HTML/JS with no external resources: the map is
inline SVG from the Natural Earth polygons `geosleuth.core.geo` loads, the OCR boxes are drawn over the photo.

The server binds 127.0.0.1 (or ::1) only and answers only requests whose Host header names a loopback
address, so another site cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import io
import json
import re
import socket
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from geosleuth.evals.trace_analysis import Run
    from geosleuth.run.traces import TraceStore

LOOPBACK = ("127.0.0.1", "::1", "localhost")
PHOTO_MAX_SIDE = 1600
MAP_TOLERANCE_DEG = 0.2
"""Country outlines are simplified to this tolerance (degrees) for the map."""

_DATA_MARK = "__GEOSLEUTH_DATA__"
_HOST = re.compile(r"^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?$", re.IGNORECASE)


class TraceViewError(Exception):
    """The viewer cannot be started as asked (e.g. a non-loopback address)."""


@lru_cache(maxsize=1)
def world_paths() -> list[dict[str, str]]:
    """Country outlines as SVG path data in an equirectangular frame: x = lon + 180, y = 90 - lat."""
    from geosleuth.core.geo import country_shapes

    paths = []
    for shape in country_shapes():
        geometry = shape.geometry.simplify(MAP_TOLERANCE_DEG, preserve_topology=False)
        rings = []
        for part in getattr(geometry, "geoms", [geometry]):
            if part.is_empty:
                continue
            coords = " ".join(f"{lon + 180:.2f},{90 - lat:.2f}" for lon, lat in part.exterior.coords)
            rings.append(f"M{coords}Z")
        if rings:
            paths.append({"code": shape.code, "name": shape.name, "d": "".join(rings)})
    return paths


def run_payload(store: TraceStore, run_id: str) -> dict[str, Any] | None:
    """Everything the page shows for one run, or None when there is no such run.

    Adds to the run and its steps: each step's one-line summary, the failure classes, the OCR lines
    with boxes and the size of the image they refer to, the candidate points, and the photo URL when
    the recorded photo file still exists.
    """
    from geosleuth.evals.trace_analysis import classify, step_summary

    run = store.get_run(run_id)
    if run is None:
        return None
    steps = store.steps(run_id)
    ocr_lines: list[dict[str, Any]] = []
    ocr_size = None
    candidates = []
    for step in steps:
        step["summary"] = step_summary(step)
        output = step.get("output")
        if step["kind"] != "tool" or not isinstance(output, dict):
            continue
        for line in (output.get("observations") or {}).get("lines") or []:
            if isinstance(line, dict) and isinstance(line.get("box"), list) and len(line["box"]) == 4:
                ocr_lines.append({"text": line.get("text", ""), "box": line["box"],
                                  "confidence": line.get("confidence")})
                ocr_size = ocr_size or (step.get("input") or {}).get("size")
        for cand in output.get("candidates") or []:
            candidates.append({"lat": cand["lat"], "lon": cand["lon"], "label": cand.get("label", ""),
                               "tool": step["name"]})
    photo = _photo_path(run)
    return {
        "run": run,
        "steps": steps,
        "classes": classify(run, steps),
        "ocr": {"lines": ocr_lines, "size": ocr_size},
        "candidates": candidates,
        "photo_url": f"/api/photo/{run_id}" if photo else None,
    }


def _photo_path(run: Run) -> Path | None:
    path = Path(run["photo"])
    return path if path.is_file() else None


def _photo_jpeg(path: Path) -> bytes:
    """Return the photo as a JPEG no longer than PHOTO_MAX_SIDE pixels."""
    from geosleuth.core.photo import load_photo

    image = load_photo(path).image.convert("RGB")
    image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def page_html() -> str:
    """Return the viewer's single HTML page."""
    return (resources.files("geosleuth.app") / "static" / "trace.html").read_text(encoding="utf-8")


def _embed(data: Any) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


class _Handler(BaseHTTPRequestHandler):
    """Answers the viewer's routes from `server.store`."""

    server: _ViewServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        """Keep the terminal quiet; errors go back to the browser."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's name
        """Route a GET request."""
        if not _HOST.match(self.headers.get("Host", "")):
            self._error(HTTPStatus.FORBIDDEN, "the trace viewer answers loopback host names only")
            return
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        store = self.server.store
        try:
            if not parts:
                self._page(None)
            elif parts == ["api", "runs"]:
                self._json(self._runs(parse_qs(url.query)))
            elif len(parts) == 3 and parts[:2] == ["api", "runs"]:
                payload = run_payload(store, parts[2])
                self._json(payload) if payload else self._error(HTTPStatus.NOT_FOUND, "no such run")
            elif len(parts) == 2 and parts[0] == "run":
                payload = run_payload(store, parts[1])
                self._page(payload) if payload else self._error(HTTPStatus.NOT_FOUND, "no such run")
            elif len(parts) == 3 and parts[:2] == ["api", "photo"]:
                self._photo(parts[2])
            elif parts == ["api", "world"]:
                self._json(world_paths())
            else:
                self._error(HTTPStatus.NOT_FOUND, "no such page")
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))

    def _runs(self, query: dict[str, list[str]]) -> list[Run]:
        filters: dict[str, Any] = {k: v[-1] for k, v in query.items()}
        if "wrong_country" in filters:
            filters["wrong_country"] = filters["wrong_country"].lower() in ("1", "true", "yes")
        filters.setdefault("limit", 200)
        return self.server.store.list_runs(**filters)

    def _page(self, payload: dict[str, Any] | None) -> None:
        data = {"run": payload, "world": world_paths() if payload else None}
        html = page_html().replace(_DATA_MARK, _embed(data))
        self._send(HTTPStatus.OK, html.encode(), "text/html; charset=utf-8")

    def _photo(self, run_id: str) -> None:
        run = self.server.store.get_run(run_id)
        path = _photo_path(run) if run else None
        if path is None:
            self._error(HTTPStatus.NOT_FOUND, "the run's photo is not on this machine")
            return
        self._send(HTTPStatus.OK, _photo_jpeg(path), "image/jpeg")


class _ViewServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its trace store."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: TraceStore, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.store = store
        super().__init__(address, _Handler)


def make_server(store: TraceStore, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Create (bound, not yet serving) the viewer's HTTP server on a loopback address.

    Raises:
        TraceViewError: `host` is not a loopback address.
    """
    if host not in LOOPBACK:
        raise TraceViewError(f"refusing to serve traces on {host!r}: the viewer binds loopback only "
                             f"({', '.join(LOOPBACK)})")
    if host == "::1":
        return _ViewServer(("::1", port), store, socket.AF_INET6)
    return _ViewServer(("127.0.0.1", port), store, socket.AF_INET)
