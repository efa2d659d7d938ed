"""geosleuth.evals.fuzz (seeds, mutations) and the parser bugs fuzzing found, one regression test each."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest
from fuzz_files import patch_tiff_tag
from hypothesis import given, settings
from hypothesis import strategies as st

from geosleuth.core.config import read_config_file
from geosleuth.core.photo import PhotoError, load_photo
from geosleuth.evals.datasets import DatasetError, generic_csv_spec, load_registry, load_samples
from geosleuth.evals.fuzz import CHECKS, PHOTO_FORMATS, make_seeds, mutate

SEED = b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x30\x00\x40\x03" + bytes(range(200))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_seeds(tmp_path_factory.mktemp("seeds"))


def test_every_seed_parses(seeds: dict[str, Path]) -> None:
    assert set(seeds) == set(CHECKS)
    for fmt, path in seeds.items():
        assert CHECKS[fmt](path) == "ok", fmt
    photo = load_photo(seeds["jpeg"])
    assert photo.metadata.gps is not None and photo.metadata.camera == "Fuzz Cam"
    assert {load_photo(seeds[f]).format for f in PHOTO_FORMATS} == {"JPEG", "PNG", "HEIF", "TIFF", "WEBP"}


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False))
def test_mutate_is_deterministic_and_changes_bytes(rnd: random.Random) -> None:
    state = rnd.getstate()
    first = mutate(SEED, rnd, (b"\x89PNG\r\n\x1a\n",))
    rnd.setstate(state)
    assert mutate(SEED, rnd, (b"\x89PNG\r\n\x1a\n",)) == first
    assert isinstance(first, bytes)


def test_huge_dimensions_land_in_the_jpeg_frame_header() -> None:
    from geosleuth.evals.fuzz import _huge_dimensions

    out = _huge_dimensions(bytearray(SEED), random.Random(3), ())
    assert out[:5] == SEED[:5] and out[5:9] != SEED[5:9] and len(out) == len(SEED)


# Regressions: each was an undocumented exception (a traceback through the CLI) before the fix.

def test_config_geosleuth_key_not_a_table_was_type_error(tmp_path: Path) -> None:
    for text in ("geosleuth = 1\n", "geosleuth = [1, 2]\n"):
        (tmp_path / "g.toml").write_text(text)
        with pytest.raises(ValueError, match="must be a table"):
            read_config_file(tmp_path / "g.toml")


def test_config_not_utf8_named_no_file(tmp_path: Path) -> None:
    (tmp_path / "g.toml").write_bytes(b'planner = "\xff"\n')
    with pytest.raises(ValueError, match=r"g\.toml is not UTF-8 text"):
        read_config_file(tmp_path / "g.toml")


def test_config_arrays_nested_too_deep_was_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "g.toml").write_text("tools = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        read_config_file(tmp_path / "g.toml")


def test_registry_entry_not_utf8_was_unicode_error(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(DatasetError, match="x.yaml is invalid"):
        load_registry((tmp_path,))


def test_registry_entry_nested_too_deep_was_recursion_error(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("name: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(DatasetError, match="x.yaml is invalid"):
        load_registry((tmp_path,))


def test_label_csv_not_utf8_was_unicode_error(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"file,lat,lon\xff\n")
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        generic_csv_spec(labels)
    labels.write_bytes(b"file,lat,lon\na.jpg,1,2\nb\xff.jpg,1,2\n")  # a good header, a bad row
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        load_samples(generic_csv_spec(labels))


def test_label_csv_field_over_the_csv_limit_was_csv_error(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("file,lat,lon\n" + "a" * 200_000 + ",1,2\n")
    with pytest.raises(DatasetError, match="not a readable CSV file"):
        load_samples(generic_csv_spec(labels))


def test_corrupt_tiff_tags_printed_pillow_warnings(seeds: dict[str, Path], tmp_path: Path) -> None:
    case = tmp_path / "case.tiff"
    case.write_bytes(patch_tiff_tag(seeds["tiff"].read_bytes(), 271, count=1_000_000))  # Make: past the end
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_photo(case)
    assert not [w for w in caught if issubclass(w.category, UserWarning)]


def test_tiff_exif_key_error_was_a_traceback(
    seeds: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mutated TIFF whose IFD Pillow lists but cannot read raised KeyError (fuzz tiff #2004)."""
    from PIL import Image

    def broken(self: Image.Exif, tag: int) -> dict[int, object]:
        raise KeyError(262)

    monkeypatch.setattr(Image.Exif, "get_ifd", broken)
    photo = load_photo(seeds["tiff"])
    assert photo.metadata.exif == {} and photo.width == 96


def test_tiff_strip_offsets_of_text_type_was_type_error(seeds: dict[str, Path], tmp_path: Path) -> None:
    """StripOffsets declared as ASCII: Pillow's decoder seeks to a str (fuzz tiff/png/jpeg/webp #3031)."""
    case = tmp_path / "case.tiff"
    case.write_bytes(patch_tiff_tag(seeds["tiff"].read_bytes(), 273, kind=2))
    with pytest.raises(PhotoError):
        load_photo(case)


def test_photo_name_over_the_file_system_limit_was_os_error(tmp_path: Path) -> None:
    with pytest.raises(PhotoError, match="cannot be read"):
        load_photo(tmp_path / ("a" * 300 + ".jpg"))


def test_label_image_name_over_the_file_system_limit_was_os_error(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("file,lat,lon\n" + "a" * 300 + ".jpg,1,2\n")
    with pytest.raises(DatasetError, match="cannot be looked up"):
        load_samples(generic_csv_spec(labels))
