"""The output writers, read back with real readers: GDAL (pyogrio) for CSV, GeoJSON and KML, gpxpy for GPX.

Records with awkward text (commas, quotes, a newline, <&>, Greek) and a failed photo, which must never
appear at 0, 0: CSV keeps its row, GeoJSON gives it a null geometry, KML and GPX leave it out.
"""

from __future__ import annotations

import math
from pathlib import Path

import gpxpy
import pyogrio
import pytest
import shapely

from geosleuth.app.outputs import FIELDS, FORMATS, OutputError, write_records

ATHENS = {
    "path": "/photos/trip 1/athens, \"old town\".jpg", "lat": 37.98376, "lon": 23.72784, "country": "Greece",
    "country_code": "GR", "region": "Attica", "place": "Athens", "confidence": 0.254, "radius_km": 20.2,
    "planner": "policy", "trace_id": "795adcd7a9aa49f2", "evidence": "ocr: ΦΑΡΜΑΚΕΙΟ <Athens> & more",
    "error": None,
}
BROKEN = {
    **dict.fromkeys(FIELDS), "path": "/photos/notes.jpg", "planner": "policy",
    "error": "bad_input: /photos/notes.jpg: not a recognised image format\n(second line)",
}
SOUTH_WEST = {**ATHENS, "path": "/photos/lima.jpg", "lat": -12.0464, "lon": -77.0428, "country": "Peru",
              "country_code": "PE", "region": "Lima", "place": "Lima", "evidence": None}
RECORDS = [ATHENS, BROKEN, SOUTH_WEST]
LOCATED = [(ATHENS["lat"], ATHENS["lon"]), (SOUTH_WEST["lat"], SOUTH_WEST["lon"])]
"""(lat, lon) of the records with a point, in order."""


def read(path: Path, layer: str | None = None) -> tuple[list[str], list[dict], list]:
    """Read a layer with GDAL: its field names, one dict per feature, and the shapely geometries."""
    meta, _fids, geometry, fields = pyogrio.raw.read(path, layer=layer)
    names = list(meta["fields"])
    columns = [f.tolist() for f in fields]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    shapes = [None if g is None else shapely.from_wkb(g) for g in geometry] if geometry is not None else []
    return names, rows, shapes


def test_csv_keeps_every_row_and_leaves_missing_points_empty(tmp_path: Path) -> None:
    out = tmp_path / "photos.csv"
    write_records(RECORDS, out)
    assert pyogrio.read_info(out)["driver"] == "CSV"
    names, rows, _ = read(out)
    assert names == list(FIELDS)
    assert [r["path"] for r in rows] == [r["path"] for r in RECORDS]
    assert rows[0]["evidence"] == ATHENS["evidence"] and rows[0]["error"] == ""
    assert (float(rows[0]["lat"]), float(rows[0]["lon"])) == (ATHENS["lat"], ATHENS["lon"])
    assert (rows[1]["lat"], rows[1]["lon"], rows[1]["country"]) == ("", "", "")  # never 0,0
    assert rows[1]["error"] == BROKEN["error"]  # the newline survives quoting


def test_geojson_gives_a_failed_photo_a_null_geometry(tmp_path: Path) -> None:
    out = tmp_path / "photos.geojson"
    write_records(RECORDS, out)
    assert pyogrio.read_info(out)["driver"] == "GeoJSON"
    names, rows, shapes = read(out)
    assert set(names) == set(FIELDS) - {"lat", "lon"}
    assert [(s.x, s.y) if s is not None else None for s in shapes] == [
        (ATHENS["lon"], ATHENS["lat"]), None, (SOUTH_WEST["lon"], SOUTH_WEST["lat"])]
    assert rows[1]["error"] == BROKEN["error"] and rows[1]["trace_id"] is None
    assert math.isnan(rows[1]["confidence"]) and rows[0]["confidence"] == ATHENS["confidence"]
    assert rows[0]["path"] == ATHENS["path"] and rows[0]["evidence"] == ATHENS["evidence"]


def test_kml_has_a_placemark_per_located_photo(tmp_path: Path) -> None:
    out = tmp_path / "photos.kml"
    write_records(RECORDS, out)
    [(layer, _)] = pyogrio.list_layers(out)
    names, rows, shapes = read(out, layer)
    assert [(s.y, s.x) for s in shapes] == LOCATED
    assert [r["Name"] for r in rows] == ['athens, "old town".jpg', "lima.jpg"]
    assert "Athens, Attica, Greece" in rows[0]["description"]
    assert "ΦΑΡΜΑΚΕΙΟ <Athens> & more" in rows[0]["description"]
    assert {"path", "country_code", "trace_id", "evidence"} <= set(names)  # ExtendedData, as LIBKML reads it
    assert rows[0]["path"] == ATHENS["path"] and rows[0]["trace_id"] == ATHENS["trace_id"]


def test_gpx_has_a_waypoint_per_located_photo(tmp_path: Path) -> None:
    out = tmp_path / "photos.gpx"
    write_records(RECORDS, out)
    gpx = gpxpy.parse(out.read_text(encoding="utf-8"))
    assert [(w.latitude, w.longitude) for w in gpx.waypoints] == LOCATED
    assert [w.name for w in gpx.waypoints] == ['athens, "old town".jpg', "lima.jpg"]
    assert "Athens, Attica, Greece" in gpx.waypoints[0].description
    assert gpx.waypoints[0].link == Path(ATHENS["path"]).as_uri()
    _, rows, shapes = read(out, "waypoints")  # GDAL's GPX driver agrees
    assert [(s.y, s.x) for s in shapes] == LOCATED


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_no_photo_at_all_is_still_a_valid_file(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"empty{suffix}"
    write_records([BROKEN], out)
    if suffix == ".gpx":
        assert gpxpy.parse(out.read_text(encoding="utf-8")).waypoints == []
    elif suffix == ".kml":
        assert len(pyogrio.list_layers(out)) == 0  # an empty Document: no placemark layer
    else:  # the failed photo's row, or its feature with a null geometry
        assert pyogrio.read_info(out)["features"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_an_unknown_suffix_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    for name in ("photos.shp", "photos"):
        with pytest.raises(OutputError, match=r"unknown output format .*use one of \.csv, \.geojson, \.kml"):
            write_records(RECORDS, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    write_records(RECORDS, tmp_path / "UPPER.GeoJSON")  # the suffix in any case
    assert pyogrio.read_info(tmp_path / "UPPER.GeoJSON")["features"] == 3
