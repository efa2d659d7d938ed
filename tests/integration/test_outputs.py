"""`geosleuth locate FOLDER --out ...`: each format read back with a real reader agrees with `--json`.

The writers on their own (awkward text, empty files, unknown suffixes): tests/unit/test_outputs.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import gpxpy
import pyogrio
import pytest
import shapely

from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"
GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))


def points(path: Path, layer: str | None = None) -> list[tuple[float, float] | None]:
    """Return the (lat, lon) of each feature GDAL reads from a layer, None for a null geometry."""
    geometry = pyogrio.raw.read(path, layer=layer)[2]
    return [None if g is None else (shapely.from_wkb(g).y, shapely.from_wkb(g).x) for g in geometry]


@pytest.mark.slow
def test_every_output_format_holds_the_batch(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(EXAMPLES / "ru_moscow_tverskaya.jpg", photos / "moscow.jpg")
    shutil.copy(EXAMPLES / "kr_seoul_namsan.jpg", photos / "seoul.jpg")
    (photos / "empty.jpg").write_bytes(b"")
    config = tmp_path / "geosleuth.toml"
    config.write_text(f'cache_dir = "{tmp_path / "cache"}"\nplanner = "policy"\n')
    outs = [tmp_path / f"out.{suffix}" for suffix in ("csv", "geojson", "kml", "gpx")]
    base = [GEOSLEUTH, "locate", str(photos), "--tools", "ocr,text_clues,gazetteer", "--config", str(config),
            "--run-dir", str(tmp_path / "batch")]
    done = subprocess.run([*base, *(a for out in outs for a in ("--out", str(out))), "--html",
                           str(tmp_path / "map.html")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # the answers went to the files
    for out in [*outs, tmp_path / "map.html"]:
        assert f"wrote {out}" in done.stderr
    again = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "(3 from an earlier run)" in again.stderr, again.stderr
    records = [json.loads(line) for line in again.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["empty.jpg", "moscow.jpg", "seoul.jpg"]
    empty, *located = records
    assert empty["lat"] is None and empty["error"].startswith("bad_input") and "empty" in empty["error"]
    assert [r["country_code"] for r in located] == ["RU", "KR"]
    expected = [(r["lat"], r["lon"]) for r in located]

    csv_out, geojson_out, kml_out, gpx_out = outs
    meta, _, _, fields = pyogrio.raw.read(csv_out)
    csv_rows = [dict(zip(meta["fields"], row, strict=True)) for row in zip(*(f.tolist() for f in fields),
                                                                               strict=True)]
    assert [r["path"] for r in csv_rows] == [r["path"] for r in records]
    assert [(r["lat"], r["lon"]) for r in csv_rows] == [("", "")] + [(str(a), str(b)) for a, b in expected]
    assert csv_rows[0]["error"] == empty["error"] and csv_rows[1]["evidence"] == located[0]["evidence"]
    assert points(geojson_out) == [None, *expected]
    assert points(kml_out, pyogrio.list_layers(kml_out)[0][0]) == expected
    waypoints = gpxpy.parse(gpx_out.read_text(encoding="utf-8")).waypoints
    assert [(w.latitude, w.longitude) for w in waypoints] == expected
    assert [w.name for w in waypoints] == ["moscow.jpg", "seoul.jpg"]
    page = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "moscow.jpg" in page and "seoul.jpg" in page and "empty.jpg" in page
