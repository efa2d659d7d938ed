"""geosleuth.app.writeback on copies of the example photos, read back with exiftool (skipped without it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from geosleuth.app.writeback import apply_writes, outcome_table, plan_table, plan_writes
from geosleuth.core.paths import source_root
from geosleuth.core.photo import load_photo

EXAMPLES = source_root() / "examples"
EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (Debian libimage-exiftool-perl; bash scripts/install-system-deps.sh)",
)

DARKTABLE_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    exif:DateTimeOriginal="2024:05:01 10:00:00"
    xmp:Rating="3"
    photoshop:City="Lyon"
    darktable:xmp_version="5"
    darktable:history_end="1">
   <dc:subject>
    <rdf:Bag><rdf:li>holiday</rdf:li></rdf:Bag>
   </dc:subject>
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:num="0" darktable:operation="exposure" darktable:enabled="1" darktable:params="00ff"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    """Copies of the example photos in tmp_path/photos, by file stem."""
    folder = tmp_path / "photos"
    folder.mkdir()
    return {p.stem: Path(shutil.copy(p, folder / p.name)) for p in sorted(EXAMPLES.glob("*.jpg"))}


def record(path: Path, lat: float | None, lon: float | None, **fields: Any) -> dict[str, Any]:
    base = {
        "path": str(path), "lat": lat, "lon": lon, "country": "France", "region": "Île-de-France",
        "place": "Paris", "confidence": 0.83, "radius_km": 32.2, "planner": "policy",
        "trace_id": "run-1234", "evidence": [], "error": None,
    }
    return base | fields


def exiftool(path: Path, *options: str) -> dict[str, Any]:
    assert EXIFTOOL is not None
    done = subprocess.run([EXIFTOOL, "-j", "-n", "-G1", "-a", *options, str(path)],
                          capture_output=True, text=True, check=True, timeout=60)
    found: dict[str, Any] = json.loads(done.stdout)[0]
    return found


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def scan_data(data: bytes) -> bytes:
    """The JPEG from its first SOS marker on: the compressed image, which must never change."""
    pos = 2
    while data[pos + 1] != 0xDA:
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return data[pos:]


@needs_exiftool
def test_new_sidecars_carry_gps_places_and_provenance(photos: dict[str, Path]) -> None:
    paris, rio = photos["fr_paris_cafe_de_flore"], photos["us_kennedy_space_center"]
    originals = {p: p.read_bytes() for p in (paris, rio)}
    plans = plan_writes([record(paris, 48.85341, 2.3488),
                         record(rio, -22.951916, -43.210487, place="Rio de Janeiro", region="Rio de Janeiro",
                                country="Brazil", confidence=0.5, radius_km=2.5, trace_id=None,
                                error="ocr: timed out")], "xmp")  # a tool's failure beside a guess
    assert [(p.action, p.reason, p.target) for p in plans] == [
        ("write", "new sidecar", paris.with_name(paris.name + ".xmp")),
        ("write", "new sidecar", rio.with_name(rio.name + ".xmp")),
    ]
    outcomes = apply_writes(plans, yes=True)
    assert [o.status for o in outcomes] == ["written", "written"]

    tags = exiftool(paris.with_name(paris.name + ".xmp"))
    assert tags["XMP-exif:GPSLatitude"] == pytest.approx(48.85341, abs=1e-6)
    assert tags["XMP-exif:GPSLongitude"] == pytest.approx(2.3488, abs=1e-6)
    assert tags["XMP-exif:GPSMapDatum"] == "WGS-84" and tags["XMP-exif:GPSVersionID"] == "2.3.0.0"
    assert (tags["XMP-photoshop:City"], tags["XMP-photoshop:State"], tags["XMP-photoshop:Country"]) == (
        "Paris", "Île-de-France", "France")
    assert tags["XMP-iptcCore:CountryCode"] == "FR"
    assert tags["XMP-geosleuth:Confidence"] == 0.83 and tags["XMP-geosleuth:RadiusKm"] == 32.2
    assert tags["XMP-geosleuth:TraceId"] == "run-1234" and tags["XMP-geosleuth:Planner"] == "policy"
    assert tags["XMP-xmpMM:HistorySoftwareAgent"].startswith("geosleuth ")
    assert "run-1234" in tags["XMP-xmpMM:HistoryParameters"]
    assert "not a GPS fix" in tags["XMP-xmpMM:HistoryParameters"]

    south_west = exiftool(rio.with_name(rio.name + ".xmp"))
    assert south_west["XMP-exif:GPSLatitude"] == pytest.approx(-22.951916, abs=1e-6)
    assert south_west["XMP-exif:GPSLongitude"] == pytest.approx(-43.210487, abs=1e-6)
    assert south_west["XMP-iptcCore:CountryCode"] == "BR" and "XMP-geosleuth:TraceId" not in south_west
    assert all(p.read_bytes() == data for p, data in originals.items())  # the photos are untouched


@needs_exiftool
def test_merging_keeps_the_sidecars_other_metadata_and_place_names(photos: dict[str, Path]) -> None:
    photo = photos["fr_paris_cafe_de_flore"]
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    (plan,) = plan_writes([record(photo, 48.85341, 2.3488)], "xmp")
    assert (plan.action, plan.reason, plan.backup) == (
        "write", "merge into the sidecar", sidecar.with_name(sidecar.name + ".geosleuth-bak"))
    (outcome,) = apply_writes([plan], yes=True)
    assert outcome.status == "written", outcome.message
    assert plan.backup is not None and plan.backup.read_text(encoding="utf-8") == DARKTABLE_SIDECAR

    tags = exiftool(sidecar)
    assert tags["XMP-exif:GPSLatitude"] == pytest.approx(48.85341, abs=1e-6)
    assert tags["XMP-xmp:Rating"] == 3 and tags["XMP-dc:Subject"] == "holiday"
    assert tags["XMP-exif:DateTimeOriginal"] == "2024:05:01 10:00:00"
    assert tags["XMP-darktable:HistoryOperation"] == "exposure" and tags["XMP-darktable:Xmp_version"] == 5
    assert tags["XMP-photoshop:City"] == "Lyon"  # a place name already there is kept
    assert tags["XMP-photoshop:State"] == "Île-de-France"  # a missing one is filled in

    (again,) = plan_writes([record(photo, 45.76, 4.83)], "xmp")  # the sidecar now has GPS
    assert again.action == "skip-has-gps" and again.old_gps_source == f"sidecar {sidecar.name}"
    assert again.old_gps == pytest.approx((48.85341, 2.3488), abs=1e-6)


@needs_exiftool
def test_gps_in_a_sidecar_is_kept_unless_overwrite(photos: dict[str, Path]) -> None:
    assert EXIFTOOL is not None
    photo = photos["gr_athens_pharmacy"]
    sidecar = photo.with_name(photo.name + ".xmp")
    subprocess.run([EXIFTOOL, "-q", "-XMP:GPSLatitude=-10.5", "-XMP:GPSLongitude=20.25", "-XMP:Title=Mine",
                    "-XMP-photoshop:City=Elsewhere", str(sidecar)], check=True, timeout=60)
    before = sidecar.read_bytes()
    guess = record(photo, 37.98, 23.73, place="Athens", region="Attica", country="Greece")
    (plan,) = plan_writes([guess], "xmp")
    assert (plan.action, plan.old_gps, plan.old_gps_source) == ("skip-has-gps", (-10.5, 20.25),
                                                                f"sidecar {sidecar.name}")
    (outcome,) = apply_writes([plan], yes=True)
    assert outcome.status == "skipped" and "--overwrite-gps" in outcome.message
    assert sidecar.read_bytes() == before

    (plan,) = plan_writes([guess], "xmp", overwrite_gps=True)
    assert plan.action == "write"
    assert [o.status for o in apply_writes([plan], yes=True)] == ["written"]
    tags = exiftool(sidecar)
    assert (tags["XMP-exif:GPSLatitude"], tags["XMP-exif:GPSLongitude"]) == (37.98, 23.73)
    assert tags["XMP-photoshop:City"] == "Athens"  # overwriting replaces the place names too
    assert tags["XMP-dc:Title"] == "Mine"


@needs_exiftool
def test_exif_in_place_writes_gps_losslessly_with_a_backup(photos: dict[str, Path]) -> None:
    paris, moscow = photos["fr_paris_cafe_de_flore"], photos["ru_moscow_tverskaya"]
    originals = {p: p.read_bytes() for p in (paris, moscow)}
    pixels = {p: np.asarray(Image.open(p).convert("RGB")) for p in (paris, moscow)}
    plans = plan_writes([record(paris, 48.85341, 2.3488),
                         record(moscow, 55.7616, 37.6095, place="Москва", region="Москва", country="Russia")],
                        "exif", in_place=True)
    assert [(p.action, p.reason, p.target) for p in plans] == [
        ("write", "add EXIF GPS", paris), ("write", "add EXIF GPS", moscow)]
    assert [o.status for o in apply_writes(plans, yes=True)] == ["written", "written"]

    for photo, data in originals.items():
        backup = photo.with_name(photo.name + ".geosleuth-bak")
        assert backup.read_bytes() == data
        assert scan_data(photo.read_bytes()) == scan_data(data)
        assert np.array_equal(np.asarray(Image.open(photo).convert("RGB")), pixels[photo])
        problems = exiftool(photo, "-validate", "-warning", "-error")
        assert not [v for k, v in problems.items() if k.endswith(("Warning", "Error")) and "GPS" in str(v)]
    tags = exiftool(paris)
    assert (tags["Composite:GPSLatitude"], tags["Composite:GPSLongitude"]) == pytest.approx(
        (48.85341, 2.3488), abs=1e-6)
    assert tags["GPS:GPSMapDatum"] == "WGS-84" and tags["GPS:GPSVersionID"] == "2 3 0 0"
    assert tags["GPS:GPSHPositioningError"] == 32200 and tags["GPS:GPSProcessingMethod"] == "MANUAL"
    assert tags["GPS:GPSAreaInformation"].startswith("Paris, Île-de-France, France (position estimated")
    assert "run-1234" in tags["GPS:GPSAreaInformation"]
    assert exiftool(moscow)["GPS:GPSAreaInformation"].startswith("Москва, Москва, Russia")
    assert load_photo(moscow).metadata.gps == pytest.approx((55.7616, 37.6095), abs=1e-6)


@needs_exiftool
def test_exif_gps_is_kept_unless_overwrite_and_other_tags_survive(photos: dict[str, Path]) -> None:
    assert EXIFTOOL is not None
    photo = photos["jp_tokyo_shibuya"]
    # exiftool stores 139.7 as 139 deg 41' 60.0": load_photo rejects that fix, yet it must count as GPS
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", "-GPSLatitude=35.6", "-GPSLatitudeRef=N",
                    "-GPSLongitude=139.7", "-GPSLongitudeRef=E", "-Make=Canon", "-Model=EOS R",
                    "-DateTimeOriginal=2024:05:01 10:00:00", str(photo)], check=True, timeout=60)
    tagged = photo.read_bytes()
    guess = record(photo, 35.659, 139.700, place="Shibuya", region="Tokyo", country="Japan")
    (plan,) = plan_writes([guess], "exif", in_place=True)
    assert (plan.action, plan.old_gps_source) == ("skip-has-gps", "EXIF")
    assert plan.old_gps == pytest.approx((35.6, 139.7))
    assert [o.status for o in apply_writes([plan], yes=True)] == ["skipped"]
    assert photo.read_bytes() == tagged and not photo.with_name(photo.name + ".geosleuth-bak").exists()

    (plan,) = plan_writes([guess], "exif", in_place=True, overwrite_gps=True)
    assert (plan.action, plan.reason) == ("write", "replace EXIF GPS")
    assert [o.status for o in apply_writes([plan], yes=True)] == ["written"]
    tags = exiftool(photo)
    assert (tags["Composite:GPSLatitude"], tags["Composite:GPSLongitude"]) == pytest.approx((35.659, 139.7))
    assert (tags["IFD0:Make"], tags["IFD0:Model"], tags["ExifIFD:DateTimeOriginal"]) == (
        "Canon", "EOS R", "2024:05:01 10:00:00")
    assert photo.with_name(photo.name + ".geosleuth-bak").read_bytes() == tagged
    assert scan_data(photo.read_bytes()) == scan_data(tagged)


@pytest.mark.parametrize("mode", ["xmp", "exif"])
def test_a_dry_run_writes_nothing(photos: dict[str, Path], mode: str) -> None:
    folder = next(iter(photos.values())).parent
    before = listing(folder)
    records = [record(p, 10.0 + i, 20.0 + i) for i, p in enumerate(photos.values())]
    records.append(record(photos["kr_seoul_namsan"], None, None, error="timed out"))
    plans = plan_writes(records, mode, in_place=mode == "exif")  # type: ignore[arg-type]
    outcomes = apply_writes(plans, yes=False)
    assert [o.status for o in outcomes] == ["dry-run"] * len(photos) + ["skipped"]
    assert outcomes[0].message.startswith("would ")
    assert listing(folder) == before

    console = Console(record=True, width=220)
    console.print(plan_table(plans))
    console.print(outcome_table(outcomes))
    text = console.export_text()
    assert "fr_paris_cafe_de_flore.jpg" in text and "skip-no-guess" in text
    assert "not located: timed out" in text
    assert "dry-run" in text


def test_bad_files_get_an_error_and_the_others_are_still_written(photos: dict[str, Path]) -> None:
    good = photos["fr_paris_cafe_de_flore"]
    folder = good.parent
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:3000])
    text = folder / "notes.jpg"
    text.write_text("not a photo")
    png = folder / "paris.png"
    Image.open(good).save(png)
    bad_exif = folder / "bad_exif.jpg"  # an APP1 Exif segment with no TIFF header: Pillow loads it anyway
    data = good.read_bytes()
    bad_exif.write_bytes(data[:2] + b"\xff\xe1\x00\x0cExif\x00\x00junk" + data[2:])
    records = [
        record(truncated, 1.0, 2.0), record(text, 1.0, 2.0), record(png, 1.0, 2.0),
        record(folder / "missing.jpg", 1.0, 2.0), record(bad_exif, 1.0, 2.0),
        record(good, 48.85341, 2.3488), record(good, 48.85341, 2.3488), record(good, None, None),
        record(good, 91.0, 2.0),
    ]
    plans = plan_writes(records, "exif", in_place=True)
    assert [p.action for p in plans] == ["error"] * 4 + ["write", "write", "error", "skip-no-guess", "error"]
    assert "JPEG files only" in plans[2].reason and "no such file" in plans[3].reason
    outcomes = apply_writes(plans, yes=True)
    assert [o.status for o in outcomes] == ["error"] * 5 + ["written", "error", "skipped", "error"]
    assert "unreadable EXIF" in outcomes[4].message
    assert not bad_exif.with_name(bad_exif.name + ".geosleuth-bak").exists()  # failed before the backup
    assert load_photo(good).metadata.gps == pytest.approx((48.85341, 2.3488), abs=1e-6)

    plans = plan_writes(records[:3], "xmp")  # a sidecar is fine for any readable format
    assert [p.action for p in plans] == ["error", "error", "write"]
    assert [o.status for o in apply_writes(plans, yes=True)] == ["error", "error", "written"]
    assert png.with_name("paris.png.xmp").is_file()


def test_the_mode_and_in_place_must_agree(photos: dict[str, Path]) -> None:
    records = [record(photos["fr_paris_cafe_de_flore"], 1.0, 2.0)]
    with pytest.raises(ValueError, match="--in-place"):
        plan_writes(records, "exif")
    with pytest.raises(ValueError, match="--in-place goes with --write exif"):
        plan_writes(records, "xmp", in_place=True)


def test_locate_then_write_back_end_to_end(photos: dict[str, Path]) -> None:
    from geosleuth.app.writeback_formats import parse_xmp, xmp_gps
    from geosleuth.core.config import Settings
    from geosleuth.run.locate import locate_photo

    photo = photos["fr_paris_cafe_de_flore"]
    settings = Settings(tools=("ocr", "text_clues", "gazetteer"))
    result = locate_photo(load_photo(photo), settings, planner="policy")
    guess = result.guess
    assert guess.lat is not None and guess.lon is not None, guess
    located = {"path": str(photo), "lat": guess.lat, "lon": guess.lon, "country": guess.country,
               "region": guess.region, "place": guess.place, "confidence": guess.confidence,
               "radius_km": guess.radius_km, "planner": result.planner, "trace_id": result.trace_id,
               "evidence": [], "error": None}
    (outcome,) = apply_writes(plan_writes([located], "xmp"), yes=True)
    assert outcome.status == "written", outcome.message
    sidecar = photo.with_name(photo.name + ".xmp")
    assert xmp_gps(parse_xmp(sidecar.read_bytes())) == pytest.approx((guess.lat, guess.lon), abs=1e-6)
    assert guess.country_code == "FR"
    if EXIFTOOL:
        assert exiftool(sidecar)["XMP-photoshop:Country"] == "France"
