"""Write located photos to a file whose suffix names the format: .csv, .geojson, .kml or .gpx.

Each record is a mapping with the keys of `FIELDS` (`geosleuth.evals.batch.PhotoRecord.as_dict`). A
record without a point (a photo that failed, or an answer with no coordinates) is never written at
0, 0: CSV keeps its row with empty lat/lon and its error, GeoJSON gives it a null geometry, and KML
and GPX, which have no place for a point-less item, leave it out. Files are written whole to a
temporary name and then moved into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Records = Sequence[Mapping[str, Any]]
FIELDS = (
    "path", "lat", "lon", "country", "country_code", "region", "place", "confidence", "radius_km", "planner",
    "trace_id", "evidence", "error",
)
"""The columns of a CSV, the properties of a GeoJSON feature and the data of a KML placemark."""
KML_NS = "http://www.opengis.net/kml/2.2"
GPX_NS = "http://www.topografix.com/GPX/1/1"


class OutputError(ValueError):
    """An output file that cannot be written in any known format (one-line message)."""


def _point(record: Mapping[str, Any]) -> tuple[float, float] | None:
    """Return the record's (lat, lon), None when it has no usable point."""
    lat, lon = record.get("lat"), record.get("lon")
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return float(lat), float(lon)


def _describe(record: Mapping[str, Any]) -> str:
    """Return one line for a map's label: the place, the confidence, the radius and the top evidence."""
    where = ", ".join(str(record[k]) for k in ("place", "region", "country") if record.get(k)) or "unknown"
    parts = [where]
    if record.get("confidence") is not None:
        parts.append(f"country confidence {record['confidence']:.0%}")
    if record.get("radius_km") is not None:
        parts.append(f"±{record['radius_km']:,.0f} km")
    parts += [str(record[k]) for k in ("evidence", "error") if record.get(k)]
    return " · ".join(parts)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def csv_text(records: Records) -> str:
    """Return the CSV: a header of FIELDS, then one row per record (empty cells for missing values)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    writer.writerows([_text(record.get(name)) for name in FIELDS] for record in records)
    return buffer.getvalue()


def geojson_text(records: Records) -> str:
    """Return a GeoJSON FeatureCollection: a Point feature per record, null geometry when it has none."""
    features = []
    for record in records:
        point = _point(record)
        features.append({
            "type": "Feature",
            "geometry": None if point is None else {"type": "Point", "coordinates": [point[1], point[0]]},
            "properties": {name: record.get(name) for name in FIELDS if name not in ("lat", "lon")},
        })
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Add an element `tag` holding `text` (in the root's default namespace, its `xmlns`)."""
    child = ET.SubElement(parent, tag, attrs)
    child.text = text
    return child


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{ET.tostring(root, encoding="unicode")}\n'


def kml_text(records: Records) -> str:
    """Return a KML document: a placemark per record with a point, its fields as ExtendedData."""
    root = ET.Element("kml", xmlns=KML_NS)
    document = _child(root, "Document")
    _child(document, "name", "geosleuth")
    for record in records:
        point = _point(record)
        if point is None:
            continue
        placemark = _child(document, "Placemark")
        _child(placemark, "name", Path(_text(record.get("path"))).name)
        _child(placemark, "description", _describe(record))
        data = _child(placemark, "ExtendedData")
        for name in FIELDS:
            if name not in ("lat", "lon"):
                _child(_child(data, "Data", name=name), "value", _text(record.get(name)))
        _child(_child(placemark, "Point"), "coordinates", f"{point[1]!r},{point[0]!r}")
    return _xml(root)


def gpx_text(records: Records) -> str:
    """Return a GPX 1.1 file: a waypoint per record with a point (name, description, link to the photo)."""
    root = ET.Element("gpx", xmlns=GPX_NS, version="1.1", creator="geosleuth")
    for record in records:
        point = _point(record)
        if point is None:
            continue
        path = Path(_text(record.get("path")))
        waypoint = _child(root, "wpt", lat=repr(point[0]), lon=repr(point[1]))
        _child(waypoint, "name", path.name)
        _child(waypoint, "desc", _describe(record))
        if path.is_absolute():
            _child(waypoint, "link", href=path.as_uri())
    return _xml(root)


FORMATS: dict[str, Callable[[Records], str]] = {
    ".csv": csv_text, ".geojson": geojson_text, ".kml": kml_text, ".gpx": gpx_text,
}
"""Output suffix (any case) -> the function that renders the records in that format."""


def renderer_for(out: Path) -> Callable[[Records], str]:
    """Return the renderer of `out`'s format, known from its suffix.

    Raises:
        OutputError: the suffix names no known format (the message lists the known ones).
    """
    render = FORMATS.get(out.suffix.lower())
    if render is None:
        known = ", ".join(FORMATS)
        raise OutputError(f"{out}: unknown output format {out.suffix or '(no suffix)'!r}; use one of {known}")
    return render


def write_records(records: Records, out: Path) -> None:
    """Write the records to `out` in the format of its suffix, atomically.

    Raises:
        OutputError: the suffix names no known format.
        OSError: the file cannot be written.
    """
    text = renderer_for(out)(records)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(out)
