"""`geosleuth trace serve`: a local web viewer of the trace store (loopback only, standard library only).

Routes: `/` the run list (filters and page in the query: wrong_country, min_error_km, tool, planner,
eval_run, page, per_page); `/run/<id>` one run (its data embedded in the page, so it renders without
further requests); `/api/runs` (one page of runs with the total) and `/api/runs/<id>` the same data as
JSON; `/api/photo/<id>` the run's photo as JPEG (only photos a run recorded, read from their recorded
path); `/api/world` country outlines as SVG paths. The page (agent/static/trace.html) is plain HTML/JS
with no external resources: the map (agent/static/world_map.js, shared with the batch map page) is
inline SVG from the Natural Earth polygons `geosleuth.core.geo` loads and opens on the truth and the
guess; the OCR boxes are drawn over the photo.

The server binds 127.0.0.1 (or ::1) only and answers only requests whose Host header names a loopback
address, so another site cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import json
import math
import re
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from geosleuth.app.page_parts import photo_jpeg, render_page, world_paths

if TYPE_CHECKING:
    from geosleuth.evals.trace_analysis import Run
    from geosleuth.run.traces import TraceStore

LOOPBACK = ("127.0.0.1", "::1", "localhost")
PHOTO_MAX_SIDE = 1600
PER_PAGE = 50
"""Runs per page of the run list (`per_page` in the query, at most MAX_PER_PAGE)."""
MAX_PER_PAGE = 500

_HOST = re.compile(r"^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?$", re.IGNORECASE)


class TraceViewError(Exception):
    """The viewer cannot be started as asked (e.g. a non-loopback address)."""


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


def runs_page(store: TraceStore, query: dict[str, list[str]],
              scope: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return one page of the runs matching the query's filters, newest first, with the tools each called.

    The query is parsed from a URL (the last value of each name wins): `page` (from 1) and `per_page`
    pick the page, `wrong_country` is a yes/no flag, every other name is a `TraceStore.list_runs`
    filter. `scope` holds filters that apply unless the query gives them (the served eval run).
    Returns {"runs", "total", "page", "pages", "per_page"}.

    Raises:
        ValueError: an unknown filter, or a value that is not of its filter's type.
    """
    filters: dict[str, Any] = {**(scope or {}), **{k: v[-1] for k, v in query.items()}}
    try:
        page = int(filters.pop("page", 1))
        per_page = int(filters.pop("per_page", PER_PAGE))
        if "min_error_km" in filters:
            filters["min_error_km"] = float(filters["min_error_km"])
    except ValueError:
        raise ValueError("page and per_page must be whole numbers, min_error_km a number") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}")
    if "wrong_country" in filters:
        filters["wrong_country"] = str(filters["wrong_country"]).lower() in ("1", "true", "yes", "on")
    runs = store.list_runs(**filters)
    shown = runs[(page - 1) * per_page:page * per_page]
    return {
        "runs": [{**run, "tools": store.tools_used(run["id"])} for run in shown],
        "total": len(runs), "page": page, "pages": max(1, math.ceil(len(runs) / per_page)),
        "per_page": per_page,
    }


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
                self._json(runs_page(store, parse_qs(url.query), self.server.scope))
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

    def _page(self, payload: dict[str, Any] | None) -> None:
        data = {"run": payload, "world": world_paths() if payload else None, "title": self.server.title}
        html = render_page("trace.html", data)
        self._send(HTTPStatus.OK, html.encode(), "text/html; charset=utf-8")

    def _photo(self, run_id: str) -> None:
        run = self.server.store.get_run(run_id)
        path = _photo_path(run) if run else None
        if path is None:
            self._error(HTTPStatus.NOT_FOUND, "the run's photo is not on this machine")
            return
        self._send(HTTPStatus.OK, photo_jpeg(path, PHOTO_MAX_SIDE), "image/jpeg")


class _ViewServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its trace store, the list's fixed filters and its title."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: TraceStore, family: socket.AddressFamily,
                 scope: dict[str, Any], title: str | None) -> None:
        self.address_family = family
        self.store = store
        self.scope = scope
        self.title = title
        super().__init__(address, _Handler)


def make_server(
    store: TraceStore, host: str = "127.0.0.1", port: int = 0, *, eval_run: str | None = None,
    title: str | None = None,
) -> ThreadingHTTPServer:
    """Create (bound, not yet serving) the viewer's HTTP server on a loopback address.

    `eval_run` limits the run list to that eval run's traces; `title` heads the run list.

    Raises:
        TraceViewError: `host` is not a loopback address.
    """
    if host not in LOOPBACK:
        raise TraceViewError(f"refusing to serve traces on {host!r}: the viewer binds loopback only "
                             f"({', '.join(LOOPBACK)})")
    scope = {"eval_run": eval_run} if eval_run else {}
    if host == "::1":
        return _ViewServer(("::1", port), store, socket.AF_INET6, scope, title)
    return _ViewServer(("127.0.0.1", port), store, socket.AF_INET, scope, title)
