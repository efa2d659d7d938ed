"""geosleuth.tools.exif on the real camera files in ../shared/data/exif-gps and on planted comments."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from geosleuth.core.photo import insert_jpeg_comment, load_photo, strip_metadata
from geosleuth.tools.exif import exif_tool, read_metadata, text_coordinates, xmp_values

UNREADABLE = {"eg_012", "eg_030"}  # truncated / corrupt on purpose: load_photo refuses them


def exif_rows(shared_data: Path, category: str | None = None) -> list[dict[str, str]]:
    with open(shared_data / "exif-gps" / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if (category is None or r["category"] == category) and r["id"] not in UNREADABLE]


def photo_of(shared_data: Path, row_id: str):
    found = next(r for r in exif_rows(shared_data) if r["id"] == row_id)
    return load_photo(shared_data / "exif-gps" / found["file"])


def planted_jpeg(tmp_path: Path, comment: str) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 200)).save(buffer, "JPEG")
    path = tmp_path / "planted.jpg"
    path.write_bytes(insert_jpeg_comment(buffer.getvalue(), comment))
    return path


@pytest.mark.slow
def test_gps_rows_give_the_labelled_point_and_country(shared_data: Path) -> None:
    rows = exif_rows(shared_data, "gps")
    assert len(rows) == 33
    for r in rows:
        evidence = read_metadata(load_photo(shared_data / "exif-gps" / r["file"]))
        assert evidence.ok and evidence.is_metadata and evidence.strength == 1.0, r["id"]
        first = evidence.candidates[0]
        assert first.label == "EXIF GPS fix", r["id"]
        assert abs(first.lat - float(r["lat"])) < 1e-4 and abs(first.lon - float(r["lon"])) < 1e-4, r["id"]
        assert first.country_code == r["country_code"], r["id"]
        top = max(evidence.country_likelihoods, key=evidence.country_likelihoods.get)
        assert top == r["country_code"], r["id"]


@pytest.mark.slow
def test_gps_radius_follows_the_stated_accuracy(shared_data: Path) -> None:
    assert read_metadata(photo_of(shared_data, "eg_001")).candidates[0].radius_km == pytest.approx(2.0)
    assert read_metadata(photo_of(shared_data, "eg_040")).candidates[0].radius_km == 0.05


@pytest.mark.slow
def test_files_without_location_report_time_and_camera_only(shared_data: Path) -> None:
    for r in exif_rows(shared_data, "no_gps"):
        evidence = read_metadata(load_photo(shared_data / "exif-gps" / r["file"]))
        assert evidence.ok and evidence.is_metadata, r["id"]
        assert not evidence.candidates and not evidence.country_likelihoods, r["id"]
        assert evidence.observations["camera"] == r["camera"], r["id"]


@pytest.mark.slow
def test_invalid_gps_blocks_give_no_point_from_exif(shared_data: Path) -> None:
    for row_id in ("eg_014", "eg_023"):  # null-island fix; version tag only
        evidence = read_metadata(photo_of(shared_data, row_id))
        assert evidence.ok and not evidence.candidates and not evidence.country_likelihoods, row_id
    # eg_029's EXIF seconds are 0/0 (no EXIF fix), but its XMP states the position in degrees and
    # decimal minutes: that is text in the file, read as such, with less strength than a GPS fix.
    evidence = read_metadata(photo_of(shared_data, "eg_029"))
    assert [c.label for c in evidence.candidates] == ["XMP exif:GPSLatitude/GPSLongitude"]
    point = evidence.candidates[0]
    assert (point.lat, point.lon) == pytest.approx((48.888726, 21.043251), abs=1e-5)
    assert point.country_code == "SK" and evidence.strength < 1.0


@pytest.mark.slow
def test_xmp_place_fields_become_places_and_country(shared_data: Path) -> None:
    evidence = read_metadata(photo_of(shared_data, "eg_008"))
    assert evidence.places == ["Gateshead", "Tyne & Wear", "United Kingdom"]
    assert evidence.observations["country_codes"] == ["GB"]
    assert evidence.country_likelihoods == {"GB": 1.0}


@pytest.mark.slow
def test_withheld_metadata_is_always_no_result(shared_data: Path) -> None:
    for r in exif_rows(shared_data):
        photo = load_photo(shared_data / "exif-gps" / r["file"])
        evidence = read_metadata(photo.without_metadata())
        assert not evidence.ok and evidence.error.type == "no_result", r["id"]
        assert evidence.is_metadata and not evidence.candidates and not evidence.places, r["id"]
        assert not evidence.country_likelihoods and evidence.strength == 0, r["id"]


def test_planted_comment_is_found_then_withheld_and_stripped(tmp_path: Path) -> None:
    path = planted_jpeg(tmp_path, "lat=48.8584, lon=2.2945")
    photo = load_photo(path)
    evidence = read_metadata(photo)
    assert evidence.ok and evidence.is_metadata
    assert [(c.lat, c.lon, c.country_code) for c in evidence.candidates] == [(48.8584, 2.2945, "FR")]
    assert evidence.country_likelihoods == {"FR": 0.8} and evidence.strength == 0.9
    assert evidence.observations["texts"] == ["lat=48.8584, lon=2.2945"]
    withheld = read_metadata(photo.without_metadata())
    assert withheld.error.type == "no_result" and not withheld.candidates
    stripped = read_metadata(load_photo(strip_metadata(path, tmp_path / "clean.jpg")))
    assert stripped.error.type == "no_result" and not stripped.candidates


def test_labelled_places_in_comments(tmp_path: Path) -> None:
    path = planted_jpeg(tmp_path, "Title: Harbour at dusk\nCity: Valparaíso\nCountry: Chile")
    evidence = read_metadata(load_photo(path))
    assert evidence.places == ["Valparaíso", "Chile"]
    assert evidence.country_likelihoods == {"CL": 0.6} and not evidence.candidates


def test_metadata_without_location_is_not_a_failure(tmp_path: Path) -> None:
    evidence = read_metadata(load_photo(planted_jpeg(tmp_path, "holiday snaps, roll 3")))
    assert evidence.ok and evidence.strength == 0 and not evidence.candidates
    assert "no location in the metadata" in evidence.summary


def test_langchain_wrapper_reads_a_path(tmp_path: Path) -> None:
    result = exif_tool.invoke({"path": str(planted_jpeg(tmp_path, "geo:lat=-33.8568 geo:lon=151.2153"))})
    assert result["error"] is None and result["is_metadata"] is True
    assert result["candidates"][0]["country_code"] == "AU"
    missing = exif_tool.invoke({"path": str(tmp_path / "nope.jpg")})
    assert missing["error"]["type"] == "bad_input" and "no such file" in missing["error"]["message"]
    assert exif_tool.name == "exif"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lat=48.8584, lon=2.2945", (48.8584, 2.2945, 0.05)),
        ("geo:lat=48.85 geo:lon=2.29", (48.85, 2.29, 0.5566)),
        ("Latitude: 33.86 S, Longitude: 151.21 E", (-33.86, 151.21, 0.5566)),
        ("GPS: 40.7128, -74.0060", (40.7128, -74.006, 0.05)),
        ("geo:-22.9519,-43.2105", (-22.9519, -43.2105, 0.05)),
        ("https://maps.google.com/?ll=35.68,139.76&z=5", (35.68, 139.76, 0.5566)),
        ("lat=0, lon=0", None),
        ("lat=95.1, lon=2.0", None),
        ("Population: 2.3 million; plate=12", None),
        ("flat: 3.5, long walk", None),
    ],
)
def test_text_coordinates(text: str, expected) -> None:
    found = text_coordinates(text)
    assert found == (pytest.approx(expected, abs=1e-4) if expected else None)


def test_xmp_values_reads_attribute_element_and_list_forms() -> None:
    xmp = (
        '<rdf:Description photoshop:City="Saint-&#201;tienne" xmlns:photoshop="x">'
        "<photoshop:Country>France</photoshop:Country>"
        "<Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li><Iptc4xmpExt:City>Lyon</Iptc4xmpExt:City>"
        "</rdf:li></rdf:Bag></Iptc4xmpExt:LocationShown>"
        "<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>Place Bellecour</rdf:li></rdf:Alt></dc:title>"
        "</rdf:Description>"
    )
    assert xmp_values(xmp, "photoshop:City") == ["Saint-Étienne"]
    assert xmp_values(xmp, "photoshop:Country") == ["France"]
    assert xmp_values(xmp, "Iptc4xmpExt:City") == ["Lyon"]
    assert xmp_values(xmp, "dc:title") == ["Place Bellecour"]
    assert xmp_values(xmp, "photoshop:State") == []
