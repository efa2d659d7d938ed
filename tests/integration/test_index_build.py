"""`geosleuth index build` on a photo folder without labels, with the real EfficientNet-Lite2 embedder.

Photos are made here (scikit-image's sample pictures) with GPS written into their EXIF by Pillow;
the ONNX model is exported once per session into one temporary cache folder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from skimage import data
from typer.testing import CliRunner

from geosleuth.app.cli import app
from geosleuth.core.config import Settings
from geosleuth.core.photo import load_photo
from geosleuth.tools import scene
from geosleuth.tools.clip_models import resolve_spec, save_random_open_clip
from geosleuth.tools.embedders import EfficientNetEmbedder, load_embedder
from geosleuth.tools.retrieval import (
    FORMAT_VERSION,
    RetrievalError,
    RetrievalIndex,
    build_index,
    folder_entries,
    retrieve,
)

GEOTAGGED = {
    "paris.jpg": (data.astronaut, (48.8584, 2.2945)),
    "trips/tokyo.jpg": (data.coffee, (35.6586, 139.7454)),
    "trips/2019/sydney.png": (data.rocket, (-33.8568, 151.2153)),
    "nyc.webp": (data.chelsea, (40.6892, -74.0445)),
}
COUNTRIES = {"paris.jpg": "FR", "trips/tokyo.jpg": "JP", "trips/2019/sydney.png": "AU", "nyc.webp": "US"}


def rational_dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 1000)
    return IFDRational(degrees), IFDRational(minutes), IFDRational(seconds, 1000)


def save_photo(path: Path, pixels: np.ndarray, gps: dict[int, object] | None = None) -> Path:
    """Write `pixels` to `path` with `gps` (a GPS IFD) in its EXIF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if gps is not None:
        exif[0x8825] = gps
    Image.fromarray(pixels).save(path, exif=exif)
    return path


def gps_ifd(lat: float, lon: float) -> dict[int, object]:
    return {1: "N" if lat >= 0 else "S", 2: rational_dms(abs(lat)), 3: "E" if lon >= 0 else "W",
            4: rational_dms(abs(lon))}


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """CPU settings whose cache holds the ONNX model, exported once for the session."""
    settings = Settings(cache_dir=tmp_path_factory.mktemp("index-cache"), device="cpu")
    scene.build_model(settings)
    return settings


@pytest.fixture(scope="session")
def library(tmp_path_factory) -> Path:
    """A photo folder: four geotagged photos (two in subfolders), three without a valid fix, junk."""
    folder = tmp_path_factory.mktemp("library")
    for name, (pixels, (lat, lon)) in GEOTAGGED.items():
        save_photo(folder / name, pixels(), gps_ifd(lat, lon))
    save_photo(folder / "no_gps.jpg", data.immunohistochemistry())
    save_photo(folder / "null_island.jpg", data.colorwheel(), gps_ifd(0.0, 0.0))
    bad = gps_ifd(48.0, 2.0) | {2: (IFDRational(95), IFDRational(0), IFDRational(0))}  # latitude 95
    save_photo(folder / "trips/bad_fix.png", data.hubble_deep_field()[:400, :400], bad)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("not a photo")
    save_photo(folder / ".thumbnails/paris.jpg", data.astronaut(), gps_ifd(1.0, 1.0))  # hidden: left out
    return folder


@pytest.fixture(scope="session")
def index_dir(library, settings, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("indexes") / "library"
    build_index(folder_entries(library), EfficientNetEmbedder(settings), out, batch_size=3)
    return out


def test_a_folder_without_labels_is_indexed_at_each_photos_own_gps_fix(index_dir, library):
    meta = json.loads((index_dir / "meta.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert (meta["embedder"], meta["dim"]) == ("efficientnet-lite2", 1280)
    assert meta["fingerprint"] == scene.weights_sha256()[:16]
    assert meta["vectors"]["kind"] == "flat" and meta["count"] == 4
    assert meta["skipped"] == {"invalid GPS": 2, "no GPS": 1, "unreadable": 1}
    with (index_dir / "points.csv").open(newline="") as handle:
        points = {row["file"]: row for row in csv.DictReader(handle)}
    assert set(points) == set(GEOTAGGED)
    for name, (_, (lat, lon)) in GEOTAGGED.items():
        assert float(points[name]["lat"]) == pytest.approx(lat, abs=1e-5)
        assert float(points[name]["lon"]) == pytest.approx(lon, abs=1e-5)
        assert points[name]["country_code"] == COUNTRIES[name]
    with (index_dir / "skipped.csv").open(newline="") as handle:
        skipped = {row["file"]: row["reason"] for row in csv.DictReader(handle)}
    assert skipped == {"no_gps.jpg": "no GPS", "null_island.jpg": "invalid GPS",
                       "trips/bad_fix.png": "invalid GPS", "broken.jpg": "unreadable"}


def test_an_indexed_photo_finds_itself_first_and_the_others_as_negatives(index_dir, library, settings):
    run = settings.model_copy(update={"retrieval_index": index_dir})
    for name, (_, (lat, lon)) in GEOTAGGED.items():
        evidence = retrieve(load_photo(library / name).image, run, k=2, negatives=1)
        assert evidence.ok, evidence.error
        near = evidence.observations["neighbours"]
        assert near[0]["file"] == name and near[0]["similarity"] == pytest.approx(1.0, abs=1e-3)
        assert near[1]["similarity"] < 0.9  # the other pictures really are other pictures
        assert (evidence.candidates[0].lat, evidence.candidates[0].lon) == pytest.approx((lat, lon), abs=1e-5)
        assert evidence.observations["embedder"] == "efficientnet-lite2"
        assert evidence.observations["negatives"][0]["file"] != name


def test_an_index_built_by_efficientnet_refuses_a_clip_query(index_dir, settings, tmp_path):
    tiny = save_random_open_clip(tmp_path / "tiny")
    clip_run = settings.model_copy(update={"clip_model": str(tiny), "retrieval_index": index_dir})
    assert clip_run.retrieval_embedder == "auto" and load_embedder(clip_run).name.startswith("open_clip:")
    evidence = retrieve(Image.new("RGB", (64, 64)), clip_run)
    assert evidence.error.type == "bad_input"
    message = evidence.error.message
    assert "\n" not in message and "was built with embedder efficientnet-lite2" in message
    assert "rebuild the index" in message and 'retrieval_embedder = "efficientnet-lite2"' in message
    with pytest.raises(RetrievalError, match="not this run's open_clip:"):
        RetrievalIndex(index_dir, embedder=load_embedder(clip_run))
    back = clip_run.model_copy(update={"retrieval_embedder": "efficientnet-lite2"})
    assert retrieve(Image.new("RGB", (64, 64)), back).ok  # the fix the message names works


def test_the_same_name_with_other_weights_is_refused(index_dir, settings):
    other = EfficientNetEmbedder(settings)
    other.fingerprint = "0" * 16
    with pytest.raises(RetrievalError, match="not this run's efficientnet-lite2 .fingerprint 0{16}"):
        RetrievalIndex(index_dir, embedder=other)


def test_an_old_or_missing_index_gets_a_clear_answer(index_dir, settings, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "meta.json").write_text(json.dumps({"format_version": 1, "model": "open_clip:x", "dim": 64}))
    evidence = retrieve(Image.new("RGB", (64, 64)), settings.model_copy(update={"retrieval_index": old}))
    assert evidence.error.type == "bad_input"
    assert "index format 1 is not 2; rebuild it" in evidence.error.message
    empty = settings.model_copy(update={"retrieval_index": tmp_path / "never-built"})
    evidence = retrieve(Image.new("RGB", (64, 64)), empty)
    assert evidence.error.type == "unavailable" and "no index at" in evidence.error.message


def untagged_folder(tmp: Path) -> Path:
    return save_photo(tmp / "plain" / "a.jpg", data.coffee()).parent


def invoke(*args: str):
    return CliRunner().invoke(app, ["index", "build", *args, "--device", "cpu"])


def test_the_cli_indexes_a_folder_and_counts_what_it_skipped(library, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(settings.cache_dir))
    out = tmp_path / "idx"
    result = invoke(str(library), "--out", str(out), "--embedder", "efficientnet-lite2", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {
        "embedder": "efficientnet-lite2", "dim": 1280, "count": 4, "skipped": 4,
        "skipped_reasons": {"invalid GPS": 2, "no GPS": 1, "unreadable": 1},
        "layout": "flat", "out": str(out),
    }
    assert "indexed 4 photos (flat); skipped 4 (2 invalid GPS, 1 no GPS, 1 unreadable" in result.stderr
    auto = invoke(str(library), "--out", str(out), "--force")  # auto, no CLIP configured
    assert auto.exit_code == 0, auto.output
    assert json.loads(auto.stdout.splitlines()[-1])["embedder"] == "efficientnet-lite2"


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda tmp: tmp / "nowhere", (), "is not a folder"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", (), "holds no photos"),
        (untagged_folder, (), "no photo could be indexed (1 no GPS)"),
        (lambda tmp: tmp, ("--embedder", "resnet"), "retrieval_embedder"),
        (untagged_folder, ("--embedder", "clip"), "no CLIP model configured"),
    ],
    ids=["missing", "empty", "untagged", "unknown-embedder", "no-clip"],
)
def test_bad_input_gets_one_line_and_exit_code_2(make, args, message, settings, tmp_path, monkeypatch):
    if "clip" in args and resolve_spec(Settings()) is not None:
        pytest.skip("../shared/models holds a CLIP model, so one is configured")
    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(settings.cache_dir))
    result = invoke(str(make(tmp_path)), *args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("geosleuth: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
