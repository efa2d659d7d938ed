"""What geosleuth's self-contained HTML pages share: the world map, embedded data, photos as JPEG.

The trace viewer (`trace_view`) and the batch map page (`map_page`) are each one HTML file under
agent/app/static/ with a `__GEOSLEUTH_DATA__` mark (the page's JSON) and a `/*__GEOSLEUTH_MAP_JS__*/`
mark (static/world_map.js: drawing the country outlines, marks sized in screen pixels, confidence
circles, fitting the view to points, zoom and pan). Nothing is fetched from elsewhere.
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

MAP_TOLERANCE_DEG = 0.2
"""Country outlines are simplified to this tolerance (degrees) for the map."""

_DATA_MARK = "__GEOSLEUTH_DATA__"
_MAP_JS_MARK = "/*__GEOSLEUTH_MAP_JS__*/"


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


def _static(name: str) -> str:
    return (resources.files("geosleuth.app") / "static" / name).read_text(encoding="utf-8")


def embed_json(data: Any) -> str:
    """Return JSON safe to place inside a <script> element.

    Every `<` is written as a JSON unicode escape (the same string to JSON), so no `</script>` can end
    the element and no `<!--<script>` can make the HTML tokenizer read on past its real end.
    """
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def render_page(template: str, data: Any) -> str:
    """Return static/`template` with the map script inlined and `data` embedded as its JSON."""
    page = _static(template).replace(_MAP_JS_MARK, _static("world_map.js"))
    return page.replace(_DATA_MARK, embed_json(data))


def photo_jpeg(path: Path, max_side: int, quality: int = 85) -> bytes:
    """Return the photo (EXIF orientation applied) as a JPEG no longer than `max_side` pixels.

    Raises:
        PhotoError: the file is missing or not a readable image.
    """
    from geosleuth.core.photo import load_photo

    image = load_photo(path, max_side=max_side).image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
