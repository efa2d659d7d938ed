"""Reading place files (GeoNames dumps, OSM extracts) that the tests write (merging: tests/integration)."""

from __future__ import annotations

import os
import zipfile

import pytest
from place_files import geonames_line, write_osm_pbf, write_osm_xml

from geosleuth.tools.place_sources import SourcePlace, read_places, source_signature

EIFFEL = geonames_line(6254976, "Eiffel Tower", 48.85826, 2.2945, "S", "TOWR", "FR", "11",
                       ["Tour Eiffel", "Torre Eiffel"])


def test_geonames_dump_line_becomes_a_place(tmp_path):
    dump = tmp_path / "FR.txt"
    dump.write_text(EIFFEL + "\n\n", encoding="utf-8")
    assert list(read_places(str(dump))) == [SourcePlace(
        name="Eiffel Tower", alternates=("Tour Eiffel", "Torre Eiffel"), country="FR", admin1="",
        admin1_code="11", lat=48.85826, lon=2.2945, population=0, geonameid=6254976, feature="S",
    )]


def test_geonames_zip_is_read_past_its_readme(tmp_path):
    archive = tmp_path / "FR.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "not a dump\n")
        zf.writestr("FR.txt", EIFFEL + "\n")
    assert [p.name for p in read_places(str(archive))] == ["Eiffel Tower"]


@pytest.mark.parametrize(
    ("line", "complaint"),
    [("6254976\tEiffel Tower\t48.8", "expected 19 tab-separated GeoNames fields, found 3"),
     (EIFFEL.replace("48.85826", "north"), "could not convert string to float: 'north'"),
     (EIFFEL.replace("\tS\t", "\tX\t"), "feature class 'X'")],
)
def test_malformed_dump_line_is_one_line_naming_file_and_line(tmp_path, line, complaint):
    dump = tmp_path / "bad.txt"
    dump.write_text(f"{EIFFEL}\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        list(read_places(str(dump)))
    message = str(caught.value)
    assert message.startswith(f"gazetteer source {dump}, line 2: ") and complaint in message
    assert "\n" not in message


def test_missing_unknown_and_broken_files_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match=r"nothere\.txt: no such file$"):
        source_signature(str(tmp_path / "nothere.txt"))
    (tmp_path / "places.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="unknown kind of file"):
        list(read_places(str(tmp_path / "places.csv")))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(f"{EIFFEL}\n{EIFFEL.replace('Eiffel', 'Eiffél')}\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt, line 2: 'utf-8' codec can't decode byte 0xe9"):
        list(read_places(str(latin)))
    (tmp_path / "DE.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a zip file"):
        list(read_places(str(tmp_path / "DE.zip")))
    broken = tmp_path / "broken.osm"
    broken.write_text('<?xml version="1.0"?>\n<osm version="0.6">\n<node id="1" lat="1" lon="2"\n</osm>\n')
    with pytest.raises(ValueError, match=r"broken\.osm: XML parsing error at line 4") as caught:
        list(read_places(str(broken)))
    assert "\n" not in str(caught.value)


def test_osm_xml_named_nodes_and_ways_with_their_classes_and_names(tmp_path):
    extract = write_osm_xml(
        tmp_path / "paris.osm",
        [(1, 48.8584, 2.2945, {"name": "Tour Eiffel", "name:en": "Eiffel Tower", "tourism": "attraction",
                               "alt_name": "La dame de fer;Tour de 300 mètres"}),
         (2, 48.860, 2.335, {}), (3, 48.862, 2.340, {}), (4, 48.860, 2.338, {}),
         (5, 48.8566, 2.3522, {"name": "Paris", "place": "city", "population": "2,165,423"}),
         (6, 48.85, 2.30, {"tourism": "attraction"}),  # no name: left out
         (7, 48.85, 2.31, {"name": "Café de Flore", "shop": "coffee"})],  # no key read: left out
        [(10, [2, 3, 4, 2], {"name": "Musée du Louvre", "tourism": "museum"})],
    )
    places = {p.name: p for p in read_places(str(extract))}
    assert set(places) == {"Tour Eiffel", "Paris", "Musée du Louvre"}
    eiffel = places["Tour Eiffel"]
    assert eiffel.feature == "S" and eiffel.geonameid is None and eiffel.country == ""
    assert set(eiffel.alternates) == {"Eiffel Tower", "La dame de fer", "Tour de 300 mètres"}
    assert (places["Paris"].feature, places["Paris"].population) == ("P", 2165423)
    louvre = places["Musée du Louvre"]  # the mean of its three distinct nodes
    assert (round(louvre.lat, 4), round(louvre.lon, 4)) == (48.8607, 2.3377)


def test_osm_pbf_written_by_osmium_is_read(tmp_path):
    colosseum = {"name": "Colosseo", "name:en": "Colosseum", "historic": "yes"}
    island = {"name": "Isola Tiberina", "place": "island"}
    nodes = [(1, 41.8902, 12.4922, colosseum), (2, 41.9, 12.5, island)]
    extract = write_osm_pbf(tmp_path / "rome.osm.pbf", nodes)
    places = list(read_places(str(extract)))
    assert [(p.name, p.feature, p.alternates) for p in places] == [
        ("Colosseo", "S", ("Colosseum",)), ("Isola Tiberina", "T", ())
    ]
    assert (places[0].lat, places[0].lon) == pytest.approx((41.8902, 12.4922))


def test_signature_follows_path_size_and_mtime(tmp_path):
    dump = tmp_path / "FR.txt"
    dump.write_text(EIFFEL + "\n", encoding="utf-8")
    first = source_signature(str(dump))
    assert first == (str(dump.resolve()), dump.stat().st_size, dump.stat().st_mtime_ns)
    os.utime(dump, ns=(first[2] + 10**9, first[2] + 10**9))
    assert source_signature(str(dump)) != first
