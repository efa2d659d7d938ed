"""OpenStreetMap from a local extract: `geosleuth osm import` (a subprocess) and the osm tool, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.core.state import Candidate
from geosleuth.tools import osm
from geosleuth.tools.osm import query_extract
from geosleuth.tools.osm_local import index_path
from geosleuth.tools.spec import ToolCall

GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))
FLORE = (48.8542, 2.3326)
VIENNA = (48.2082, 16.3738)

NODES = [
    (1, *FLORE, {"name": "Café de Flore", "amenity": "cafe", "addr:country": "FR"}),
    (2, 48.8530, 2.3330, {"name": "Les Deux Magots", "amenity": "cafe", "addr:country": "FR"}),
    (3, 48.8700, 2.3400, {"name": "Monoprix", "shop": "supermarket"}),
    (4, 48.2100, 16.3660, {"name": "Café Central", "name:en": "Central Coffee House", "amenity": "cafe",
                           "addr:country": "AT"}),
    (5, 48.2040, 16.3690, {"name": "Café Sacher", "alt_name": "Sacher Eck", "amenity": "cafe"}),
    (6, 48.2060, 16.3700, {"name": "Billa", "shop": "supermarket", "addr:country": "AT"}),
    (7, 48.2000, 16.3600, {"name": "Monoprix", "shop": "supermarket", "addr:country": "AT"}),
    (8, 48.2100, 16.3600, {"bench": "yes", "amenity": "bench"}),  # unnamed: not indexed
]
STATION = [(20, 48.1850, 16.3750), (21, 48.1850, 16.3790), (22, 48.1870, 16.3790), (23, 48.1870, 16.3750)]


def write_extract(path: Path) -> Path:
    """Write the test extract: named cafés and shops near Paris and Vienna, and a station way."""
    import osmium

    with osmium.SimpleWriter(str(path)) as writer:
        for i, lat, lon, tags in [*NODES, *((i, lat, lon, {}) for i, lat, lon in STATION)]:
            writer.add_node(osmium.osm.mutable.Node(id=i, location=(lon, lat), tags=tags))
        writer.add_way(osmium.osm.mutable.Way(
            id=100, nodes=[20, 21, 22, 23, 20],
            tags={"name": "Wien Hauptbahnhof", "name:fr": "Gare centrale de Vienne", "railway": "station"},
        ))
    return path


def osm_import(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GEOSLEUTH_CACHE_DIR": str(cache)}
    return subprocess.run([GEOSLEUTH, "osm", "import", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return (extract, cache_dir) after `geosleuth osm import` indexed the test extract."""
    root = tmp_path_factory.mktemp("osm")
    extract = write_extract(root / "test.osm.pbf")
    done = osm_import(str(extract), cache=root / "cache")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["features"] == 8 and summary["ways"] == 1 and summary["size_mb"] > 0
    assert Path(summary["index"]) == index_path(extract, root / "cache")
    assert "indexed 8 features" in done.stderr
    return extract, root / "cache"


def names_near(imported: tuple[Path, Path], names: list[str], lat: float, lon: float, km: float) -> list[str]:
    evidence = query_extract(*imported, names=names, around=(lat, lon, km))
    return [c.label.split(" (")[0] for c in evidence.candidates]


def test_names_near_a_point_match_any_name_case_and_accents_aside(imported: tuple[Path, Path]) -> None:
    assert names_near(imported, ["CAFE DE FLORE"], *FLORE, 1) == ["Café de Flore"]
    assert names_near(imported, ["central coffee  house"], *VIENNA, 2) == ["Café Central"]
    assert names_near(imported, ["Sacher Eck"], *VIENNA, 2) == ["Café Sacher"]
    assert names_near(imported, ["gare centrale de vienne"], *VIENNA, 5) == ["Wien Hauptbahnhof"]
    assert names_near(imported, ["Café de Flore"], *VIENNA, 50) == []  # far from the point
    evidence = query_extract(*imported, names=["Café de Flore", "Les Deux Magots"], around=(*FLORE, 1))
    assert evidence.error is None and evidence.country_likelihoods == {"FR": 2}
    assert evidence.inputs["local"] and abs(evidence.candidates[0].lat - FLORE[0]) < 1e-6
    station = query_extract(*imported, names=["Wien Hauptbahnhof"], around=(*VIENNA, 5)).candidates[0]
    assert station.label.endswith("(railway=station, OSM way 100)") and station.radius_km == 1.0
    assert (round(station.lat, 4), round(station.lon, 4)) == (48.186, 16.377)  # the mean of its nodes


def test_a_name_within_a_country_or_a_box(imported: tuple[Path, Path]) -> None:
    in_france = query_extract(*imported, names=["monoprix"], country="FR").candidates
    assert [(round(c.lat, 2), round(c.lon, 2)) for c in in_france] == [(48.87, 2.34)]  # by its polygon
    in_austria = query_extract(*imported, names=["monoprix"], country="at").candidates
    assert [c.country_code for c in in_austria] == ["AT"]  # by addr:country
    boxed = query_extract(*imported, names=["Monoprix"], bbox=(48.0, 16.0, 48.5, 16.5)).candidates
    assert [round(c.lon, 2) for c in boxed] == [16.36]
    assert query_extract(*imported, names=["Monoprix"], country="DE").error.type == "no_result"


def test_kinds_near_a_point(imported: tuple[Path, Path]) -> None:
    cafes = query_extract(*imported, kinds=["cafe"], around=(*VIENNA, 3)).candidates
    assert sorted(c.label.split(" (")[0] for c in cafes) == ["Café Central", "Café Sacher"]
    shops = query_extract(*imported, kinds=["shop", "railway=station"], around=(*VIENNA, 5)).candidates
    assert sorted(c.label.split(" (")[0] for c in shops) == ["Billa", "Monoprix", "Wien Hauptbahnhof"]
    assert query_extract(*imported, kinds=["amenity=bench"], around=(*VIENNA, 5)).error.type == "no_result"


def test_the_osm_tool_answers_from_the_index_when_an_extract_is_set(imported: tuple[Path, Path]) -> None:
    extract, cache = imported
    settings = Settings(osm_extract=extract, cache_dir=cache, overpass_url="http://127.0.0.1:9/unreachable")
    paris = Candidate(lat=48.8566, lon=2.3522, label="Paris")
    evidence = osm.run(ToolCall(settings=settings, lines=("Café de Flore", "75006 Paris"), point=paris))
    assert evidence.error is None and evidence.places == ["Café de Flore"]
    kinds = osm.run(ToolCall(settings=settings, lines=("x",), point=paris, args={"kinds": ["supermarket"]}))
    assert [c.label.split(" (")[0] for c in kinds.candidates] == ["Monoprix"]
    missing = Settings(osm_extract=extract, cache_dir=cache / "elsewhere")
    failed = osm.run(ToolCall(settings=missing, lines=("Café de Flore",), point=paris))
    assert failed.error.type == "unavailable" and "geosleuth osm import" in failed.error.message


def test_reimport_is_refused_when_up_to_date_unless_forced(imported: tuple[Path, Path]) -> None:
    extract, cache = imported
    refused = osm_import(str(extract), cache=cache)
    assert refused.returncode == 2 and "up to date" in refused.stderr and "--force" in refused.stderr
    assert osm_import(str(extract), "--force", cache=cache).returncode == 0


def test_a_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"not a protocol buffer at all")
    for path in (bad, tmp_path / "absent.osm.pbf", tmp_path / "notes.txt"):
        if path.name == "notes.txt":
            path.write_text("hello")
        done = osm_import(str(path), cache=tmp_path / "cache")
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith("geosleuth: error: ") and done.stderr.count("\n") == 1, done.stderr


def test_locate_uses_the_local_index_and_moves_the_point(imported: tuple[Path, Path]) -> None:
    extract, cache = imported
    photo = source_root() / "examples" / "fr_paris_cafe_de_flore.jpg"
    env = {**os.environ, "GEOSLEUTH_OSM_EXTRACT": str(index_path(extract, cache)),
           "GEOSLEUTH_OVERPASS_URL": "http://127.0.0.1:9/unreachable"}
    done = subprocess.run(
        [GEOSLEUTH, "locate", "--json", "--planner", "policy", "--tools", "ocr,text_clues,gazetteer,osm",
         str(photo)], capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    found = [e for e in result["evidence"] if e["tool"] == "osm" and e["error"] is None]
    assert found and found[0]["inputs"]["local"] and found[0]["places"] == ["Café de Flore"]
    guess = result["guess"]
    assert abs(guess["lat"] - FLORE[0]) < 0.002 and abs(guess["lon"] - FLORE[1]) < 0.002, guess
