"""The dataset registry and loaders: entries, missing sets, bad files (shared sets: integration)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.evals.datasets import (
    REGISTRY_DIR,
    DatasetError,
    DatasetMissing,
    dataset_status,
    generic_csv_spec,
    get_spec,
    load_registry,
    load_samples,
    resolve_data_root,
)

REPO = source_root()
EXAMPLE = REPO / "examples" / "fr_paris_cafe_de_flore.jpg"
PUBLISHED = ("im2gps3k", "yfcc4k", "osv5m-test")


def test_registry_has_the_shared_and_published_sets() -> None:
    registry = load_registry()
    assert {"im2gps3k-dev", "streetscapes-sample", "exif-gps", *PUBLISHED} <= set(registry)
    for name in PUBLISHED:
        spec = registry[name]
        assert spec.location == "data"
        assert "<data root>" in spec.get and spec.labels in spec.get  # says where to put the label file


def test_duplicate_and_invalid_entries_are_errors(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    shutil.copy(REGISTRY_DIR / "im2gps3k.yaml", first / "x.yaml")
    shutil.copy(REGISTRY_DIR / "im2gps3k.yaml", second / "y.yaml")
    with pytest.raises(DatasetError, match="defined twice"):
        load_registry((first, second))
    (second / "y.yaml").write_text("name: broken\nversion: [unclosed\n")
    with pytest.raises(DatasetError, match="invalid"):
        load_registry((second,))
    (second / "y.yaml").write_text("name: partial\nversion: 1\n")
    with pytest.raises(DatasetError, match="invalid"):
        load_registry((second,))


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(DatasetError, match="Did you mean 'im2gps3k-dev'"):
        get_spec("im2gps3k-deb")


def test_missing_published_set_says_what_and_where(tmp_path: Path) -> None:
    spec = get_spec("yfcc4k")
    with pytest.raises(DatasetMissing) as info:
        load_samples(spec, data_root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "yfcc4k" / "yfcc4k_places365.csv") in message
    assert "To get it" in message and "--data-root or $GEOSLEUTH_DATA_DIR" in message and "\n" not in message
    status = dataset_status(spec, tmp_path)
    assert not status.labels_present and not status.ready


def test_data_root_is_explicit_then_data_dir_then_the_cache(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    assert resolve_data_root(None, settings) == tmp_path / "cache" / "datasets"
    with_dir = settings.model_copy(update={"data_dir": tmp_path / "data"})
    assert resolve_data_root(None, with_dir) == tmp_path / "data"
    assert resolve_data_root(tmp_path / "flag", with_dir) == tmp_path / "flag"
    monkeypatch.chdir(tmp_path)  # no geosleuth.toml: the resolver sees only the environment
    monkeypatch.setenv("GEOSLEUTH_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_root() == tmp_path / "env"
    assert get_spec("yfcc4k").folder() == tmp_path / "env" / "yfcc4k"


def test_generic_csv_reads_the_examples() -> None:
    samples = load_samples(get_spec(str(REPO / "examples" / "labels.csv")))
    with (REPO / "examples" / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [s.image.name for s in samples] == [r["file"] for r in rows]
    assert all(s.image.is_file() for s in samples)
    assert [s.country for s in samples] == [r["country_code"] for r in rows]


def test_generic_csv_without_coordinates_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("file,place\na.jpg,Paris\n")
    with pytest.raises(DatasetError, match="no column for lat, lon"):
        generic_csv_spec(path)


def test_bad_rows_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("image,lat,lon\na.jpg,48.85,2.35\nb.jpg,north,2.35\n")
    with pytest.raises(DatasetError, match=r"line 3: malformed lat/lon \('north', '2.35'\)"):
        load_samples(generic_csv_spec(path))
    path.write_text("image,lat,lon\na.jpg,48.85,2.35\nb.jpg,,\n")
    with pytest.raises(DatasetError, match="line 3: neither lat/lon nor a country code"):
        load_samples(generic_csv_spec(path))
    path.write_text("image,lat,lon\na.jpg,48.85,2.35\na.jpg,48.85,2.35\n")
    with pytest.raises(DatasetError, match="line 3: duplicate id 'a'"):
        load_samples(generic_csv_spec(path))


def test_country_only_rows_are_samples_without_a_point(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("image,lat,lon,country_code\na.jpg,48.85,2.35,\nb.jpg,,,jp\nc.jpg,,,GR\n")
    samples = load_samples(generic_csv_spec(path))
    assert [(s.id, s.lat, s.lon, s.country) for s in samples] == [
        ("a", 48.85, 2.35, "FR"), ("b", None, None, "JP"), ("c", None, None, "GR")]
    assert samples[1].truth() == {"lat": None, "lon": None, "country": "JP"}  # never (0, 0)
    bad = {
        "image,lat,lon,country_code\na.jpg,48.85,,FR\n": r"line 2: malformed lat/lon \('48.85', ''\)",
        "image,lat,lon,country_code\na.jpg,,,\n": "line 2: neither lat/lon nor a country code",
        "image,lat,lon,country_code\na.jpg,,,FRA\n": "line 2: unknown country code 'FRA'",
        "image,lat,lon,country_code\na.jpg,95,2,FR\n": r"line 2: lat/lon \(95.0, 2.0\) out of range",
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(DatasetError, match=message) as info:
            load_samples(generic_csv_spec(path))
        assert "\n" not in str(info.value)


def test_a_country_only_csv_needs_no_coordinate_columns(tmp_path: Path) -> None:
    path = tmp_path / "study.csv"
    path.write_text("file,country\na.jpg,FR\n")
    spec = generic_csv_spec(path)
    assert (spec.columns["lat"], spec.columns["lon"], spec.columns["country"]) == (None, None, "country")
    assert [(s.lat, s.country) for s in load_samples(spec)] == [(None, "FR")]
    path.write_text("file,lat,country\na.jpg,48.8,FR\n")
    with pytest.raises(DatasetError, match="no column for lon"):
        generic_csv_spec(path)


def test_a_folder_holding_labels_csv_is_a_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "my-set"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    (folder / "labels.csv").write_text(f"file,country_code\n{EXAMPLE.name},FR\n")
    for name in (str(folder), f"{folder}/"):
        spec = get_spec(name)
        assert spec.name == "my-set" and spec.location == "file"
        (sample,) = load_samples(spec)
        assert sample.image == folder / EXAMPLE.name and sample.image.is_file() and sample.country == "FR"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no labels.csv"):
        get_spec(str(tmp_path / "empty"))


def test_osv5m_layout_with_nested_image_folders(tmp_path: Path) -> None:
    folder = tmp_path / "osv5m"
    (folder / "images" / "test" / "00").mkdir(parents=True)
    shutil.copy(EXAMPLE, folder / "images" / "test" / "00" / "123.jpg")
    (folder / "test.csv").write_text(
        "id,latitude,longitude,country,region\n123,48.8541,2.3326,FR,IDF\n456,35.6595,139.7005,JP,Tokyo\n"
    )
    spec = get_spec("osv5m-test")
    samples = load_samples(spec, data_root=tmp_path)
    assert [(s.id, s.country) for s in samples] == [("123", "FR"), ("456", "JP")]
    assert samples[0].image == folder / "images" / "test" / "00" / "123.jpg"
    status = dataset_status(spec, tmp_path)
    assert (status.rows, status.images_present, status.ready) == (2, 1, False)
