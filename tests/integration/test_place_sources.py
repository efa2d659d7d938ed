"""Extra gazetteer sources (GeoNames dump, OSM XML and PBF) merged into the real index, and its landmarks."""

from __future__ import annotations

import os

import pytest
from place_files import geonames_line, write_osm_pbf, write_osm_xml

from geosleuth.core.config import Settings, resolve_settings
from geosleuth.core.geo import distance_km
from geosleuth.tools import gazetteer_index
from geosleuth.tools.gazetteer_index import get_index, reverse_place, search_places

PARIS_FR = 2988507
EIFFEL = (48.85826, 2.2945)
CDG = (49.0097, 2.5479)  # Paris-Charles de Gaulle airport


@pytest.fixture(scope="module")
def base():
    """The packaged index (GeoNames towns and airports), loaded from the user cache."""
    return get_index()


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[str, ...]:
    """Write a GeoNames dump, an OSM XML and an OSM PBF extract, each naming landmarks of its own."""
    folder = tmp_path_factory.mktemp("places")
    dump = folder / "FR.txt"
    eiffel = geonames_line(6254976, "Eiffel Tower", *EIFFEL, "S", "TOWR", "FR", "11", ["Tour Eiffel"])
    paris = geonames_line(PARIS_FR, "Paris", 48.85341, 2.3488, "P", "PPLC", "FR", "11", population=2138551)
    dump.write_text(f"{eiffel}\n{paris}\n", encoding="utf-8")
    gate = {"name": "Brandenburger Tor", "name:en": "Brandenburg Gate", "historic": "yes"}
    xml = write_osm_xml(
        folder / "berlin.osm",
        [(1, 52.5163, 13.3777, gate),
         (2, 52.52, 13.405, {"name": "Berlin", "place": "city", "population": "3769495"}),
         (3, 52.5186, 13.3762, {}), (4, 52.5188, 13.3775, {}), (5, 52.5184, 13.3781, {}),
         (6, 52.5186, 13.3761, {"name": "Reichstag", "tourism": "attraction"})],
        [(10, [3, 4, 5, 3], {"name": "Reichstag", "tourism": "attraction"})],
    )
    colosseum = {"name": "Colosseo", "name:en": "Colosseum", "historic": "yes"}
    pbf = write_osm_pbf(folder / "rome.osm.pbf", [(1, 41.8902, 12.4922, colosseum)])
    return str(dump), str(xml), str(pbf)


@pytest.fixture(scope="module")
def merged(base, sources, tmp_path_factory):
    """The index merged with the sources as Settings name them, cached in a cache folder of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEOSLEUTH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield get_index(Settings(gazetteer_sources=sources).gazetteer_sources)


def test_landmarks_only_in_the_sources_are_found_with_their_points(merged, sources):
    assert search_places("Eiffel Tower", fuzzy=False) == []
    eiffel = search_places("Eiffel Tower", sources=sources)[0]
    assert (eiffel.name, eiffel.feature, eiffel.geonameid, (eiffel.lat, eiffel.lon)) == (
        "Eiffel Tower", "S", 6254976, EIFFEL
    )
    assert eiffel.label() == "Eiffel Tower, Île-de-France, FR (landmark)"  # region from its admin1 code
    assert search_places("Tour Eiffel", sources=sources)[0].geonameid == eiffel.geonameid
    gate = search_places("Brandenburg Gate", sources=sources)[0]  # OSM XML, its English name
    assert (gate.name, gate.feature, gate.country_code) == ("Brandenburger Tor", "S", "DE")  # nearest town's
    assert distance_km(gate.lat, gate.lon, 52.5163, 13.3777) < 0.01 and gate.geonameid < 0
    colosseum = search_places("Colosseum", sources=sources)[0]  # OSM PBF
    assert (colosseum.name, colosseum.feature, colosseum.country_code) == ("Colosseo", "S", "IT")
    assert distance_km(colosseum.lat, colosseum.lon, 41.8902, 12.4922) < 0.01


def test_sources_come_from_the_environment_and_config_file(sources):
    settings, origin = resolve_settings(env={"GEOSLEUTH_GAZETTEER_SOURCES": ",".join(sources)})
    assert settings.gazetteer_sources == sources and origin["gazetteer_sources"] == "env"
    settings, origin = resolve_settings(env={}, file={"gazetteer_sources": list(sources)})
    assert settings.gazetteer_sources == sources and origin["gazetteer_sources"] == "file"


def test_merge_adds_each_place_once(merged, base, sources):
    paris = [p for p in search_places("Paris", country="FR", limit=50, fuzzy=False, sources=sources)
             if distance_km(p.lat, p.lon, 48.8566, 2.3522) < 10]
    assert [p.geonameid for p in paris] == [PARIS_FR]  # the dump's copy and no OSM twin
    berlin = [p for p in search_places("Berlin", country="DE", limit=50, fuzzy=False, sources=sources)
              if distance_km(p.lat, p.lon, 52.52, 13.405) < 10]
    assert len(berlin) == 1 and berlin[0].geonameid > 0  # GeoNames' Berlin; the OSM city is a duplicate
    assert len(search_places("Reichstag", fuzzy=False, sources=sources)) == 1  # node and way: one building
    assert len(merged.names) == len(base.names) + 4  # Eiffel Tower, Brandenburger Tor, Reichstag, Colosseo


def test_reverse_lookup_names_towns_not_landmarks(merged):
    near = reverse_place(*EIFFEL)
    assert near.feature == "P" and near.name.startswith("Paris")
    assert reverse_place(*CDG).feature == "P"
    assert {merged.features[i] for i in merged.populated} == {"P"}
    assert len(merged.populated) == merged.features.count("P")


def test_malformed_source_is_one_line_error_and_loses_nothing(merged, sources, tmp_path):
    bad = tmp_path / "DE.txt"
    bad.write_text(geonames_line(1, "Zugspitze", 47.42, 10.98, "T", "MT", "DE") + "\nZugspitze\t47.4\n")
    with pytest.raises(ValueError) as caught:
        get_index([*sources, str(bad)])
    expected = f"gazetteer source {bad}, line 2: expected 19 tab-separated GeoNames fields, found 2"
    assert str(caught.value) == expected
    with pytest.raises(ValueError, match=r"gazetteer source .*gone\.osm: no such file$"):
        search_places("Eiffel Tower", sources=[*sources, str(tmp_path / "gone.osm")])
    assert get_index(sources) is merged
    assert search_places("Eiffel Tower", sources=sources)[0].feature == "S"


def test_merged_index_is_cached_on_disk_and_reused(base, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(cache))
    dump = tmp_path / "CH.txt"
    dump.write_text(geonames_line(2658434, "Matterhorn", 45.97639, 7.65833, "T", "MT", "CH", "VS") + "\n")
    monkeypatch.setattr(gazetteer_index, "_INDEXES", {(): base})  # a fresh process, base loaded
    first = get_index([str(dump)])
    assert [p.name for p in cache.glob("gazetteer-sources-*.pickle")] != []
    assert get_index([str(dump)]) is first  # memoised

    build = gazetteer_index._merge

    def not_again(*args):
        raise AssertionError("the merged index was built again instead of loaded from the cache")

    monkeypatch.setattr(gazetteer_index, "_INDEXES", {(): base})
    monkeypatch.setattr(gazetteer_index, "_merge", not_again)
    second = get_index([str(dump)])
    assert second is not first and search_places("Matterhorn", sources=[str(dump)])[0].feature == "T"

    monkeypatch.setattr(gazetteer_index, "_merge", build)
    mtime = dump.stat().st_mtime_ns + 10**9
    os.utime(dump, ns=(mtime, mtime))  # a changed file is another source: built and cached anew
    assert get_index([str(dump)]) is not second
    assert len(list(cache.glob("gazetteer-sources-*.pickle"))) == 2


def test_packaged_airports_are_landmarks_at_their_points(base):
    airport = search_places("Charles de Gaulle International Airport")[0]
    assert (airport.feature, airport.country_code, airport.admin1) == ("S", "FR", "Île-de-France")
    assert distance_km(airport.lat, airport.lon, *CDG) < 2.0
    heathrow = search_places("London Heathrow Airport", country="GB")[0]
    assert heathrow.feature == "S" and distance_km(heathrow.lat, heathrow.lon, 51.47, -0.4543) < 2.0
    assert search_places("Paris")[0].geonameid == PARIS_FR  # the towns still come first
