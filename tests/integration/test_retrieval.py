"""Retrieval index: build from labelled photos with a tiny random CLIP, query, memory-map, refuse a
mismatched model, far negatives, the `geosleuth index build` command with labels (model-free parts:
tests/unit; EfficientNet-Lite2 and folders without labels: test_index_build.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geosleuth.app.cli import app
from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.core.photo import load_photo
from geosleuth.tools.clip_models import load_clip, save_random_open_clip
from geosleuth.tools.embedders import load_embedder
from geosleuth.tools.retrieval import (
    Entry,
    RetrievalError,
    RetrievalIndex,
    build_index,
    prepared,
    read_labels,
    retrieve,
)

EXAMPLES = source_root() / "examples"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_random_open_clip(tmp_path_factory.mktemp("clip") / "tiny")


@pytest.fixture(scope="module")
def settings(model_dir, tmp_path_factory) -> Settings:
    return Settings(clip_model=str(model_dir), device="cpu", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def index_dir(settings, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("index") / "examples"
    build_index(read_labels(EXAMPLES / "labels.csv", EXAMPLES), load_embedder(settings), out, batch_size=4)
    return out


def labels() -> list[dict[str, str]]:
    with (EXAMPLES / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_index_folder_records_embedder_dim_version_and_points(index_dir, settings):
    meta = json.loads((index_dir / "meta.json").read_text())
    model = load_clip(settings)
    assert meta["embedder"] == model.name and meta["fingerprint"] == model.spec.fingerprint()
    assert meta["dim"] == model.dim == 64 and meta["format_version"] == 2
    assert meta["count"] == len(labels()) and meta["skipped"] == {} and meta["vectors"]["kind"] == "flat"
    with (index_dir / "points.csv").open(newline="") as handle:
        points = list(csv.DictReader(handle))
    assert [p["file"] for p in points] == [row["file"] for row in labels()]
    assert [p["country_code"] for p in points] == [row["country_code"] for row in labels()]


@pytest.mark.parametrize("row", labels(), ids=lambda row: row["file"])
def test_an_indexed_photo_finds_itself_first_with_its_coordinates(row, index_dir, settings):
    evidence = retrieve(
        load_photo(EXAMPLES / row["file"]).image,
        settings.model_copy(update={"retrieval_index": index_dir}),
        k=3,
        negatives=2,
    )
    assert evidence.ok, evidence.error
    first = evidence.observations["neighbours"][0]
    assert (first["lat"], first["lon"]) == (float(row["lat"]), float(row["lon"]))
    assert first["country_code"] == row["country_code"] and first["file"] == row["file"]
    assert first["similarity"] == pytest.approx(1.0, abs=1e-3)
    assert len(evidence.observations["neighbours"]) == 3 and len(evidence.observations["negatives"]) == 2
    near = evidence.observations["neighbours"]
    for point in evidence.candidates:  # only points most of the neighbours' weight agrees on
        assert any(point.lat == n["lat"] and point.lon == n["lon"] for n in near)
    assert evidence.country_likelihoods["NZ"] == 1.0  # a country the gallery lacks is left as it was


def test_negatives_are_the_least_similar_entries(index_dir, settings):
    embedder = load_embedder(settings)
    index = RetrievalIndex(index_dir, embedder=embedder)
    vector = embedder.encode_images([prepared(load_photo(EXAMPLES / labels()[0]["file"]).image)])[0]
    every = index.search(vector, k=100)
    far = index.farthest(vector, k=2)
    assert len(every) == len(labels())
    assert [n.file for n in far] == [n.file for n in every[::-1][:2]]
    assert [n.similarity for n in far] == pytest.approx([n.similarity for n in every[::-1][:2]], abs=1e-5)


def test_the_index_is_memory_mapped(index_dir, settings):
    RetrievalIndex(index_dir, embedder=load_embedder(settings))
    maps = Path("/proc/self/maps").read_text()
    assert str(index_dir / "index.faiss") in maps


def test_a_different_model_is_refused_with_a_clear_error(index_dir, settings, tmp_path):
    other = save_random_open_clip(tmp_path / "other", seed=1)
    other_settings = settings.model_copy(update={"clip_model": str(other), "retrieval_index": index_dir})
    with pytest.raises(RetrievalError, match="built with embedder open_clip:.* not this run's open_clip:"):
        RetrievalIndex(index_dir, embedder=load_embedder(other_settings))
    evidence = retrieve(load_photo(EXAMPLES / labels()[0]["file"]).image, other_settings)
    assert evidence.error.type == "bad_input" and "rebuild the index" in evidence.error.message


def test_without_an_index_retrieval_is_unavailable(settings):
    evidence = retrieve(load_photo(EXAMPLES / labels()[0]["file"]).image, settings)
    assert evidence.error.type == "unavailable" and evidence.strength == 0


def test_unreadable_photos_are_skipped_and_listed(settings, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    broken = Entry(tmp_path / "broken.jpg", "broken.jpg", (1.0, 2.0))
    rows = read_labels(EXAMPLES / "labels.csv", EXAMPLES)[:2] + [broken]
    meta = build_index(rows, load_embedder(settings), tmp_path / "index")
    assert meta["count"] == 2 and meta["skipped"] == {"unreadable": 1}
    with (tmp_path / "index" / "skipped.csv").open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["file"] == "broken.jpg" and row["reason"] == "unreadable" and "broken.jpg" in row["detail"]


def test_the_cli_builds_an_index_and_refuses_to_overwrite(model_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "idx"
    args = [
        "index",
        "build",
        str(EXAMPLES),
        str(EXAMPLES / "labels.csv"),
        "--out",
        str(out),
        "--model",
        str(model_dir),
        "--batch-size",
        "4",
        "--device",
        "cpu",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["count"] == 6 and summary["dim"] == 64 and summary["skipped"] == 0
    assert summary["embedder"].startswith("open_clip:local-dir:")  # --model: auto picks CLIP
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "exists; pass --force" in again.stderr
    assert (out / "index.faiss").is_file()  # nothing lost
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    bad = runner.invoke(
        app,
        [
            "index",
            "build",
            str(EXAMPLES),
            str(tmp_path / "none.csv"),
            "--out",
            str(tmp_path / "x"),
            "--model",
            str(model_dir),
        ],
    )
    assert bad.exit_code == 2 and bad.stderr.startswith("geosleuth: error: cannot read")


@pytest.mark.slow
def test_an_index_of_shared_street_photos_finds_each_photo(shared_data, settings, tmp_path):
    folder = shared_data / "streetscapes-sample"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"{folder} has no labels.csv")
    rows = read_labels(folder / "labels.csv", folder)
    build_index(rows, load_embedder(settings), tmp_path / "streets")
    index_settings = settings.model_copy(update={"retrieval_index": tmp_path / "streets"})
    for row in rows[:5]:
        first = retrieve(load_photo(row.path).image, index_settings, k=1).candidates[0]
        assert (first.lat, first.lon) == row.point
