"""geosleuth.core.photo on files made here (the real camera files: tests/integration)."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from geosleuth.core.photo import (
    Photo,
    PhotoError,
    insert_jpeg_comment,
    jpeg_comments,
    load_photo,
    strip_metadata,
)


def small_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds one tiny (invalid) IDAT: decoding would fail."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(
        b"IEND", b""
    )


def assert_pixels_only(photo: Photo) -> None:
    assert photo.image.mode == "RGB"
    assert photo.image.info == {}
    assert len(photo.image.getexif()) == 0
    assert photo.image.size == (photo.width, photo.height)


# ---- files made here ---------------------------------------------------------------------------


def test_decompression_bomb_header_is_refused_fast(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(100_000, 100_000))
    assert bomb.stat().st_size < 200
    start = time.perf_counter()
    with pytest.raises(PhotoError, match="decompression bomb"):
        load_photo(bomb)
    assert time.perf_counter() - start < 1.0


def test_own_pixel_limit_applies_before_decoding(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(png_header_only(9000, 9000))  # 81 Mpx: over 80 M, under Pillow's own limit
    with pytest.raises(PhotoError, match="over the limit of 80,000,000"):
        load_photo(big)
    # Allowed by max_pixels, the same header reaches the decoder, which finds the data corrupt.
    with pytest.raises(PhotoError, match="truncated or corrupt"):
        load_photo(big, max_pixels=81_000_000)


def test_pillow_bomb_warning_becomes_photo_error(tmp_path: Path) -> None:
    big = tmp_path / "warns.png"
    big.write_bytes(png_header_only(9500, 9500))  # 90.25 Mpx: above Pillow's warning threshold
    with pytest.raises(PhotoError, match="decompression bomb"):
        load_photo(big, max_pixels=100_000_000)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("just some text, not pixels\n"), "not a recognised image format"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.mkdir(), "not a file"),
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(small_jpeg()[:40]), "truncated or corrupt|corrupt image header"),
    ],
    ids=["text", "empty", "directory", "missing", "header-only-jpeg"],
)
def test_bad_inputs_raise_one_line_photo_errors(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "photo.jpg"
    make(path)
    with pytest.raises(PhotoError, match=message) as info:
        load_photo(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_jpeg_comment_segments_round_trip(tmp_path: Path) -> None:
    planted = insert_jpeg_comment(insert_jpeg_comment(small_jpeg(), "lat=48.8584, lon=2.2945"), "second")
    path = tmp_path / "commented.jpg"
    path.write_bytes(planted)
    with Image.open(path) as raw:
        assert isinstance(raw.info.get("comment"), bytes)  # Pillow keeps just one of the two
    photo = load_photo(path)
    assert photo.metadata.comments == ["second", "lat=48.8584, lon=2.2945"]
    assert_pixels_only(photo)
    assert photo.without_metadata().metadata.comments == []
    clean = strip_metadata(path, tmp_path / "clean.jpg")
    assert jpeg_comments(clean.read_bytes()) == [] and b"48.8584" not in clean.read_bytes()
    assert load_photo(clean).metadata.is_empty


def test_jpeg_comments_walks_past_the_scan_and_ignores_ff_fe_in_data() -> None:
    data = small_jpeg()
    assert data.endswith(b"\xff\xd9")
    trailing = data[:-2] + b"\xff\xfe\x00\x07after\xff\xd9"  # a COM between the scan and EOI
    assert jpeg_comments(trailing) == ["after"]
    exif_with_ff_fe = Image.Exif()
    exif_with_ff_fe[0x010E] = "x\xff\xfey"  # bytes FF FE inside the EXIF segment: not a COM
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=exif_with_ff_fe.tobytes())
    assert jpeg_comments(buffer.getvalue()) == []
    assert jpeg_comments(b"not a jpeg") == []


def test_png_text_chunks_are_comments(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "geo:lat=35.6586 geo:lon=139.7454")
    info.add_itxt("Location", "東京タワー")
    path = tmp_path / "text.png"
    Image.new("RGB", (10, 10)).save(path, pnginfo=info)
    meta = load_photo(path).metadata
    assert meta.comments == ["Comment: geo:lat=35.6586 geo:lon=139.7454", "Location: 東京タワー"]


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :3, 3] = 255  # left half opaque red, right half fully transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    pixels = np.asarray(load_photo(path).image)
    assert (pixels[:, :3] == [255, 0, 0]).all() and (pixels[:, 3:] == 255).all()


MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "YCbCr", "LAB"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(MODES),
    width=st.integers(1, 70),
    height=st.integers(1, 70),
    seed=st.integers(0, 2**32 - 1),
    transparent=st.booleans(),
)
def test_any_mode_and_size_round_trips_to_rgb(
    tmp_path: Path, mode: str, width: int, height: int, seed: int, transparent: bool
) -> None:
    noise = np.random.default_rng(seed).bytes(width * height * 4 * 4)
    image = Image.frombytes(mode, (width, height), noise)  # random bytes: F may hold NaN and inf
    if mode == "P" and transparent:
        path = tmp_path / "image.png"
        image.save(path, transparency=0)
    else:
        path = tmp_path / "image.tif"
        image.save(path)
    photo = load_photo(path)
    assert (photo.width, photo.height) == (width, height)
    assert_pixels_only(photo)


def test_without_metadata_hides_the_file_name(tmp_path):
    from PIL import Image

    from geosleuth.core.photo import load_photo

    path = tmp_path / "paris_eiffel_tower.jpg"
    Image.new("RGB", (8, 8), "red").save(path)
    blind = load_photo(path).without_metadata()
    assert "paris" not in str(blind.path) and blind.path.suffix == ".jpg"
