"""geosleuth.core.photo on the real camera files in ../shared/data/exif-gps (files made here: tests/unit)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geosleuth.core.paths import source_root
from geosleuth.core.photo import (
    Photo,
    PhotoError,
    load_photo,
    strip_metadata,
)

REPO = source_root()


def exif_rows(shared_data: Path, category: str | None = None) -> list[dict[str, str]]:
    with open(shared_data / "exif-gps" / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if category is None or r["category"] == category]


def row(shared_data: Path, row_id: str) -> tuple[dict[str, str], Path]:
    found = next(r for r in exif_rows(shared_data) if r["id"] == row_id)
    return found, shared_data / "exif-gps" / found["file"]


def assert_pixels_only(photo: Photo) -> None:
    assert photo.image.mode == "RGB"
    assert photo.image.info == {}
    assert len(photo.image.getexif()) == 0
    assert photo.image.size == (photo.width, photo.height)


# ---- real files ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_gps_rows_match_labels(shared_data: Path) -> None:
    rows = exif_rows(shared_data, "gps")
    assert len(rows) == 33
    for r in rows:
        photo = load_photo(shared_data / "exif-gps" / r["file"])
        assert photo.metadata.gps is not None, r["id"]
        lat, lon = photo.metadata.gps
        assert abs(lat - float(r["lat"])) < 1e-4 and abs(lon - float(r["lon"])) < 1e-4, r["id"]
        assert photo.format == r["format"], r["id"]
        assert (photo.width, photo.height) == (int(r["width"]), int(r["height"])), r["id"]
        assert photo.sha256 == r["sha256"], r["id"]
        assert (photo.metadata.camera or "") == r["camera"], r["id"]
        assert_pixels_only(photo)


@pytest.mark.slow
@pytest.mark.parametrize("category", ["no_gps", "gps_invalid"])
def test_rows_without_a_valid_fix_read_as_no_gps(shared_data: Path, category: str) -> None:
    rows = exif_rows(shared_data, category)
    assert rows
    for r in rows:
        meta = load_photo(shared_data / "exif-gps" / r["file"]).metadata
        assert meta.gps is None and meta.gps_altitude is None, r["id"]
        assert not meta.is_empty and meta.camera == r["camera"], r["id"]


@pytest.mark.slow
def test_gps_invalid_blocks_are_really_present(shared_data: Path) -> None:
    """The invalid rows do carry GPS tags (so None above is the validation, not a missing IFD)."""
    tags = {r["id"]: load_photo(shared_data / "exif-gps" / r["file"]).metadata.exif
            for r in exif_rows(shared_data, "gps_invalid")}
    assert set(tags["eg_023"]) & {"GPSVersionID"} and "GPSLatitude" not in tags["eg_023"]
    assert tags["eg_014"]["GPSLatitude"] == [0.0, 0.0, 0.0]
    assert tags["eg_029"]["GPSLatitude"][2] is None  # seconds stored as 0/0


@pytest.mark.slow
def test_metadata_fields_on_real_files(shared_data: Path) -> None:
    _, iphone = row(shared_data, "eg_009")
    meta = load_photo(iphone).metadata
    assert meta.taken_at == "2021-04-11T15:47:53-05:00"
    assert meta.gps_altitude == pytest.approx(260.56, abs=0.01)
    assert meta.xmp and "<x:xmpmeta" in meta.xmp
    _, below_sea_ref = row(shared_data, "eg_017")
    meta = load_photo(below_sea_ref).metadata
    assert meta.gps_altitude == -848.0  # GPSAltitudeRef = 1
    assert meta.exif["UserComment"].startswith("Set: 1242")  # UNICODE (big-endian) user comment
    _, old_xmp = row(shared_data, "eg_008")
    assert "<photoshop:City>Gateshead</photoshop:City>" in load_photo(old_xmp).metadata.xmp


@pytest.mark.slow
def test_metadata_is_json_safe_and_image_carries_none(shared_data: Path) -> None:
    for r in exif_rows(shared_data):
        if r["id"] in ("eg_012", "eg_030"):
            continue  # unreadable on purpose, see below
        photo = load_photo(shared_data / "exif-gps" / r["file"])
        json.dumps(asdict(photo.metadata), allow_nan=False)
        assert_pixels_only(photo)
        bare = photo.without_metadata()
        assert bare.metadata.is_empty and not photo.metadata.is_empty
        assert bare.image is photo.image and bare.sha256 == photo.sha256


@pytest.mark.slow
def test_exif_rotated_photo_is_turned_upright(shared_data: Path) -> None:
    for row_id, stored in (("eg_025", (450, 600)), ("eg_014", (640, 480))):
        r, path = row(shared_data, row_id)
        assert (int(r["width"]), int(r["height"])) == stored
        photo = load_photo(path)
        assert (photo.width, photo.height) == stored[::-1]
        with Image.open(path) as raw:
            assert raw.getexif()[0x0112] == 6
            expected = raw.convert("RGB").transpose(Image.Transpose.ROTATE_270)  # 90 degrees clockwise
        assert np.array_equal(np.asarray(photo.image), np.asarray(expected))
        assert photo.metadata.exif["Orientation"] == 6


@pytest.mark.slow
def test_cmyk_jpeg_becomes_rgb(shared_data: Path) -> None:
    _, path = row(shared_data, "eg_026")
    with Image.open(path) as raw:
        assert raw.mode == "CMYK"
    photo = load_photo(path)
    assert_pixels_only(photo)
    assert (photo.width, photo.height) == (140, 140)
    assert np.asarray(photo.image).std() > 10  # a logo, not a flat block


@pytest.mark.slow
@pytest.mark.parametrize("row_id", ["eg_030", "eg_012"])
def test_corrupt_and_truncated_files_raise_photo_error(shared_data: Path, row_id: str) -> None:
    _, path = row(shared_data, row_id)
    with pytest.raises(PhotoError, match="truncated or corrupt image data"):
        load_photo(path)


@pytest.mark.slow
def test_png_alpha_is_composited_to_rgb(shared_data: Path) -> None:
    _, path = row(shared_data, "eg_005")
    with Image.open(path) as raw:
        assert raw.mode == "RGBA"
        rgba = np.asarray(raw)
    photo = load_photo(path)
    assert_pixels_only(photo)
    assert (photo.width, photo.height) == (640, 513)
    assert (rgba[..., 3] == 255).all()  # fully opaque: compositing must not change the colours
    assert np.array_equal(np.asarray(photo.image), rgba[..., :3])


@pytest.mark.slow
def test_16_bit_tiff_is_scaled_not_clipped(shared_data: Path) -> None:
    _, path = row(shared_data, "eg_035")
    with Image.open(path) as raw:
        assert raw.mode == "I;16"
        values = np.asarray(raw).astype(np.float64)
    photo = load_photo(path)
    pixels = np.asarray(photo.image).astype(np.float64)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    assert np.abs(pixels[..., 0] - values / 257).max() <= 0.5 + 1e-9
    assert (pixels == 255).mean() < 0.01  # a naive 16->8 bit conversion saturates nearly everything


@pytest.mark.slow
def test_one_pixel_placeholder(shared_data: Path) -> None:
    _, path = row(shared_data, "eg_037")
    photo = load_photo(path)
    assert (photo.width, photo.height) == (1, 1)
    assert photo.metadata.gps == pytest.approx((43.85946944, 15.50328333), abs=1e-6)


@pytest.mark.slow
def test_max_side_downscales_keeping_aspect(shared_data: Path) -> None:
    _, path = row(shared_data, "eg_020")  # 3120 x 4160 JPEG
    photo = load_photo(path, max_side=1000)
    assert (photo.width, photo.height) == (750, 1000)
    assert_pixels_only(photo)
    assert photo.metadata.gps is not None  # metadata does not depend on the pixel size


@pytest.mark.slow
def test_max_pixels_boundary_on_a_real_file(shared_data: Path) -> None:
    _, path = row(shared_data, "eg_040")  # 600 x 400
    assert load_photo(path, max_pixels=240_000).width == 600
    with pytest.raises(PhotoError, match="over the limit"):
        load_photo(path, max_pixels=239_999)


@pytest.mark.slow
def test_heif_support_is_registered_lazily(shared_data: Path) -> None:
    _, jpeg = row(shared_data, "eg_040")
    _, heic = row(shared_data, "eg_001")
    script = (
        "import sys\nfrom geosleuth.core.photo import load_photo\n"
        f"load_photo({str(jpeg)!r})\nassert 'pillow_heif' not in sys.modules\n"
        f"p = load_photo({str(heic)!r})\nassert 'pillow_heif' in sys.modules and p.format == 'HEIF'\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True)


@pytest.mark.slow
def test_heif_without_pillow_heif_gives_a_clear_error(shared_data: Path) -> None:
    _, heic = row(shared_data, "eg_001")
    script = (
        "import sys\nsys.modules['pillow_heif'] = None  # as if it were not installed\n"
        "from geosleuth.core.photo import PhotoError, load_photo\n"
        f"try:\n    load_photo({str(heic)!r})\nexcept PhotoError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, capture_output=True, text=True)
    assert "need the pillow-heif package" in out.stdout


@pytest.mark.slow
def test_strip_metadata_of_a_gps_photo(shared_data: Path, tmp_path: Path) -> None:
    _, path = row(shared_data, "eg_040")
    original = load_photo(path)
    assert original.metadata.gps and original.metadata.xmp
    for name in ("clean.jpg", "clean.png"):
        stripped = load_photo(strip_metadata(path, tmp_path / name))
        assert stripped.metadata.is_empty, name
        assert (stripped.width, stripped.height) == (original.width, original.height)
    lossless = np.asarray(load_photo(tmp_path / "clean.png").image)
    assert np.array_equal(lossless, np.asarray(original.image))
    with pytest.raises(PhotoError, match="suffix"):
        strip_metadata(path, tmp_path / "clean.nope")


MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "YCbCr", "LAB"]
