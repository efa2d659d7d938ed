"""The dataset loaders on the shared research sets in ../shared/data (the registry itself: tests/unit)."""

from __future__ import annotations

import csv
from pathlib import Path

from geosleuth.evals.datasets import (
    dataset_status,
    get_spec,
    load_samples,
)


def test_shared_sets_are_ready(shared_data: Path) -> None:
    counts = {"im2gps3k-dev": 600, "streetscapes-sample": 25, "exif-gps": 33}
    for name, rows in counts.items():
        status = dataset_status(get_spec(name))
        assert status.ready and status.rows == rows, name


def test_exif_set_keeps_only_photos_with_a_gps_fix(shared_data: Path) -> None:
    with (shared_data / "exif-gps" / "labels.csv").open(newline="") as handle:
        gps_ids = [r["id"] for r in csv.DictReader(handle) if r["category"] == "gps"]
    assert [s.id for s in load_samples(get_spec("exif-gps"))] == gps_ids


def test_published_im2gps3k_format(shared_data: Path, tmp_path: Path) -> None:
    """The community's label file (IMG_ID, LAT, LON) under the expected layout; countries by polygon."""
    dev = shared_data / "im2gps3k-dev"
    folder = tmp_path / "im2gps3k"
    folder.mkdir()
    (folder / "im2gps3k_places365.csv").symlink_to(dev / "im2gps3k_places365.csv")
    (folder / "images").symlink_to(dev / "images")
    samples = load_samples(get_spec("im2gps3k"), data_root=tmp_path)
    truth = {s.id: s for s in load_samples(get_spec("im2gps3k-dev"))}
    assert len(samples) == 600 and all(s.image.is_file() for s in samples)
    assert {s.id for s in samples} == {f"{i}.jpg" for i in truth}
    same_country = sum(s.country == truth[s.id.removesuffix(".jpg")].country for s in samples)
    assert same_country == 600  # the shared labels used the same Natural Earth polygons
    assert dataset_status(get_spec("im2gps3k"), tmp_path).ready
