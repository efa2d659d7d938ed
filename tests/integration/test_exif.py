"""geosleuth.tools.exif on the real camera files in ../shared/data/exif-gps (planted comments: tests/unit)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from geosleuth.core.photo import load_photo
from geosleuth.tools.exif import read_metadata

UNREADABLE = {"eg_012", "eg_030"}  # truncated / corrupt on purpose: load_photo refuses them


def exif_rows(shared_data: Path, category: str | None = None) -> list[dict[str, str]]:
    with open(shared_data / "exif-gps" / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if (category is None or r["category"] == category) and r["id"] not in UNREADABLE]


def photo_of(shared_data: Path, row_id: str):
    found = next(r for r in exif_rows(shared_data) if r["id"] == row_id)
    return load_photo(shared_data / "exif-gps" / found["file"])


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
