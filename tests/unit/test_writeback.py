"""geosleuth.app.writeback_formats and the planning rules of geosleuth.app.writeback, on generated files."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from geosleuth.app.writeback import plan_writes
from geosleuth.app.writeback_formats import (
    FormatError,
    GpsFix,
    HistoryEvent,
    jpeg_with_gps,
    merge_xmp,
    parse_xmp,
    xmp_coordinate,
    xmp_gps,
    xmp_values,
)
from geosleuth.core.photo import load_photo

EVENT = HistoryEvent(agent="geosleuth test", when="2025-01-01T00:00:00+00:00", note="a note")
FIX = GpsFix(lat=-33.8568, lon=151.2153, error_m=1500.0, area="Sydney (a test)")


def jpeg(exif: bytes | None = None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 60)).save(out, "JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


def test_xmp_coordinates_are_degrees_and_decimal_minutes() -> None:
    assert xmp_coordinate(48.85341, "lat") == "48,51.204600N"
    assert xmp_coordinate(-43.2104872, "lon") == "43,12.629232W"
    assert xmp_coordinate(-0.5, "lat") == "0,30.000000S"
    assert xmp_coordinate(179.999999999, "lon") == "180,00.000000E"


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_coordinates_round_trip_through_a_sidecar(lat: float, lon: float) -> None:
    sidecar = merge_xmp(None, {"exif:GPSLatitude": xmp_coordinate(lat, "lat"),
                               "exif:GPSLongitude": xmp_coordinate(lon, "lon")}, {}, EVENT)
    point = xmp_gps(parse_xmp(sidecar))
    assert point is not None and point == pytest.approx((lat, lon), abs=1e-7)


def test_merge_keeps_prefixes_instructions_and_history_and_replaces_element_forms() -> None:
    existing = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><!-- kept -->
 <r:RDF xmlns:r="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <r:Description r:about="" xmlns:e="http://ns.adobe.com/exif/1.0/">
   <e:GPSLatitude>1,0.0N</e:GPSLatitude>
  </r:Description>
  <r:Description r:about="" xmlns:mm="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:ev="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" xmlns:o="urn:other">
   <o:Thing>mine</o:Thing>
   <mm:History><r:Seq><r:li r:parseType="Resource"><ev:action>saved</ev:action></r:li></r:Seq></mm:History>
  </r:Description>
 </r:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
    merged = merge_xmp(existing, {"exif:GPSLatitude": "2,30.0S"}, {}, EVENT)
    text = merged.decode()
    assert "<!-- kept -->" in text and '<?xpacket end="w"?>' in text and "<o:Thing>mine</o:Thing>" in text
    assert "1,0.0N" not in text and text.count("r:Description ") == 2  # the emptied one is gone
    doc = parse_xmp(merged)
    assert xmp_values(doc, "exif:GPSLatitude") == ["2,30.0S"]
    actions = [e.firstChild.data for e in doc.getElementsByTagNameNS(
        "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#", "action")]
    assert actions == ["saved", "edited"]  # one History, the new event appended


def test_merge_fills_only_missing_properties() -> None:
    first = merge_xmp(None, {}, {"photoshop:City": "Lyon"}, EVENT)
    second = parse_xmp(merge_xmp(first, {}, {"photoshop:City": "Paris", "photoshop:State": "IDF"}, EVENT))
    assert xmp_values(second, "photoshop:City") == ["Lyon"]
    assert xmp_values(second, "photoshop:State") == ["IDF"]


@pytest.mark.parametrize("bad", [b"", b"<x", b"<html><body/></html>"])
def test_what_is_not_xmp_is_refused(bad: bytes) -> None:
    with pytest.raises(FormatError):
        merge_xmp(bad, {}, {}, EVENT)


def test_gps_goes_into_a_jpeg_without_exif_and_the_image_bytes_stay() -> None:
    data = jpeg()
    written = jpeg_with_gps(data, FIX)
    jfif_end = 20  # SOI, then the 16-byte JFIF APP0 segment: the new APP1 goes right after it
    assert written[:jfif_end] == data[:jfif_end] and written[jfif_end:jfif_end + 2] == b"\xff\xe1"
    assert written.endswith(data[jfif_end:])
    image = Image.open(io.BytesIO(written))
    gps = image.getexif().get_ifd(0x8825)
    assert gps[1] == "S" and gps[3] == "E" and gps[0x12] == "WGS-84" and float(gps[0x1F]) == 1500
    assert gps[0x1B] == b"ASCII\0\0\0MANUAL" and gps[0x1C] == b"ASCII\0\0\0Sydney (a test)"


def test_big_endian_exif_keeps_its_tags_and_an_old_gps_ifd_is_replaced(tmp_path: Path) -> None:
    make = b"Canon\0"
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHII", 0x010F, 2, len(make), 26) + struct.pack(">I", 0)
    tiff = b"MM\0*" + struct.pack(">I", 8) + ifd0 + make
    once = jpeg_with_gps(jpeg(b"Exif\0\0" + tiff), GpsFix(10.0, 20.0, None, "Москва"))
    twice = jpeg_with_gps(once, FIX)
    path = tmp_path / "p.jpg"
    path.write_bytes(twice)
    assert Image.open(path).getexif()[0x010F] == "Canon"
    assert load_photo(path).metadata.gps == pytest.approx((-33.8568, 151.2153), abs=1e-6)
    first_gps = Image.open(io.BytesIO(once)).getexif().get_ifd(0x8825)
    assert 0x1F not in first_gps and first_gps[0x1C] == b"UNICODE\0" + "Москва".encode("utf-16-be")


def test_unwritable_jpegs_are_refused() -> None:
    with pytest.raises(FormatError, match="not a JPEG"):
        jpeg_with_gps(b"\x89PNG\r\n\x1a\n", FIX)
    with pytest.raises(FormatError, match="no TIFF header"):
        jpeg_with_gps(jpeg(b"Exif\0\0junk-junk"), FIX)
    full = b"II*\0" + struct.pack("<I", 8) + struct.pack("<HI", 0, 0) + b"\0" * 65400
    with pytest.raises(FormatError, match="64 KB"):
        jpeg_with_gps(jpeg(b"Exif\0\0" + full), FIX)


def test_a_broken_sidecar_is_an_error_and_stays_untouched(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg())
    sidecar = tmp_path / "p.jpg.xmp"
    sidecar.write_text("<x:xmpmeta")
    record = {"path": str(photo), "lat": 1.0, "lon": 2.0, "error": None}
    for mode, in_place in (("xmp", False), ("exif", True)):
        (plan,) = plan_writes([record], mode, in_place=in_place)  # type: ignore[arg-type]
        assert plan.action == "error" and "p.jpg.xmp: not valid XML" in plan.reason
    assert sidecar.read_text() == "<x:xmpmeta"
