"""The `locate --html FILE` page: every guess of a batch on one zoomable world map, in one HTML file.

Each located photo is a dot with its confidence circle (`radius_km`); the list beside the map has a
thumbnail of each photo (a small JPEG embedded as base64), its place and confidence; clicking a dot or
a row shows that photo's evidence and zooms to its circle. Failed photos are listed with their error.
The file needs nothing else: the map is the trace viewer's (static/world_map.js via `page_parts`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from geosleuth.app.page_parts import photo_jpeg, render_page, world_paths

THUMB_SIDE = 160
"""Thumbnails are at most this many pixels on their long side."""
THUMB_QUALITY = 75

FIELDS = ("lat", "lon", "country", "region", "place", "confidence", "radius_km", "planner", "trace_id",
          "evidence", "error")


def _thumbnail(path: Path) -> str | None:
    """Return the photo as a small JPEG data URI, or None when it cannot be read."""
    from geosleuth.core.photo import PhotoError

    try:
        data = photo_jpeg(path, THUMB_SIDE, THUMB_QUALITY)
    except PhotoError:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def write_map_page(records: Sequence[Mapping[str, Any]], out: Path) -> None:
    """Write the batch's map page to `out` (one self-contained HTML file).

    Each record has `path` (the photo file) and the FIELDS: `lat`/`lon` (None for a failed photo),
    `country`, `region`, `place`, `confidence` (0..1), `radius_km`, `planner`, `trace_id`,
    `evidence` (a one-line summary of the top evidence) and `error` (None or a message).
    """
    rows = []
    for record in records:
        path = Path(record["path"])
        rows.append({"name": path.name, "path": str(path), "thumb": _thumbnail(path),
                     **{key: record.get(key) for key in FIELDS}})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page("map_page.html", {"records": rows, "world": world_paths()}), encoding="utf-8")
