"""geosleuth.tools.exif on planted comments and text (the real camera files: tests/integration)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from geosleuth.core.config import Settings
from geosleuth.core.photo import insert_jpeg_comment, load_photo, strip_metadata
from geosleuth.tools.exif import SPEC, read_metadata, text_coordinates, xmp_values


def planted_jpeg(tmp_path: Path, comment: str) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 200)).save(buffer, "JPEG")
    path = tmp_path / "planted.jpg"
    path.write_bytes(insert_jpeg_comment(buffer.getvalue(), comment))
    return path


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


def test_langchain_tool_reads_a_path_only_when_metadata_is_allowed(tmp_path: Path) -> None:
    exif_tool = SPEC.langchain_tool(Settings())
    result = exif_tool.invoke({"path": str(planted_jpeg(tmp_path, "geo:lat=-33.8568 geo:lon=151.2153"))})
    assert result["error"] is None and result["is_metadata"] is True
    assert result["candidates"][0]["country_code"] == "AU"
    missing = exif_tool.invoke({"path": str(tmp_path / "nope.jpg")})
    assert missing["error"]["type"] == "bad_input" and "no such file" in missing["error"]["message"]
    assert exif_tool.name == "exif"
    withheld = SPEC.langchain_tool(Settings(use_metadata=False)).invoke({"path": str(tmp_path / "nope.jpg")})
    assert withheld["error"]["message"] == "metadata is withheld in this run"


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
