"""`locate` on a photo library: paths expanded, a bad file as a row, resume, metadata, the API, the CLI.

Real example photos through the real agent (the policy planner, a few text tools); the output files
themselves: test_outputs.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eval_runs import settings_for

from geosleuth.core.geo import distance_km
from geosleuth.core.paths import source_root
from geosleuth.core.photo import insert_jpeg_comment
from geosleuth.evals import tool_cache
from geosleuth.evals.batch import find_photos, locate_many
from geosleuth.evals.runner import RunError
from geosleuth.run.traces import TraceStore

EXAMPLES = source_root() / "examples"
GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))
TEXT_TOOLS = ("ocr", "text_clues", "gazetteer")
SYDNEY = (-33.8568, 151.2153)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache dir for the module, so a photo's OCR is computed once across its tests."""
    yield tmp_path_factory.mktemp("cache")
    tool_cache.activate(None)


def library(root: Path) -> Path:
    """A small photo folder: two photos (one in a subfolder), a text file named .jpg, and files to skip."""
    (root / "trip" / "day2").mkdir(parents=True)
    shutil.copy(EXAMPLES / "gr_athens_pharmacy.jpg", root / "trip" / "athens.JPG")
    shutil.copy(EXAMPLES / "jp_tokyo_shibuya.jpg", root / "trip" / "day2" / "tokyo.jpg")
    (root / "trip" / "day2" / "notes.jpg").write_text("not a photo\n")
    (root / "trip" / "readme.txt").write_text("not a photo either\n")
    (root / "trip" / ".thumbs").mkdir()
    shutil.copy(EXAMPLES / "kr_seoul_namsan.jpg", root / "trip" / ".thumbs" / "hidden.jpg")
    return root / "trip"


def test_paths_expand_to_photos_once_in_order(tmp_path: Path) -> None:
    folder = library(tmp_path)
    athens, tokyo, notes = folder / "athens.JPG", folder / "day2" / "tokyo.jpg", folder / "day2" / "notes.jpg"
    assert find_photos([folder]) == [athens, notes, tokyo]  # any-case suffix; hidden and .txt left out
    assert find_photos([folder], exclude=["notes*"]) == [athens, tokyo]
    assert find_photos([folder], exclude=["day2/*"]) == [athens]  # a glob on the path under the folder
    assert find_photos([folder], include=["*.txt"]) == [folder / "readme.txt"]
    pattern = str(folder / "**" / "*o*.jpg")
    assert find_photos([pattern]) == [notes, tokyo]
    missing = tmp_path / "gone.jpg"
    assert find_photos([tokyo, folder, pattern, missing]) == [tokyo, athens, notes, missing]  # each once
    with pytest.raises(RunError, match="no photos found"):
        find_photos([folder], include=["*.png"])
    with pytest.raises(RunError, match="no photos found"):
        find_photos([str(folder / "*.png")])


@pytest.mark.slow
def test_a_folder_is_a_resumable_batch_with_a_bad_file_as_a_row(tmp_path: Path, cache: Path) -> None:
    folder = library(tmp_path)
    settings = settings_for(cache, tools=TEXT_TOOLS)
    run_dir = tmp_path / "batch"
    first = locate_many([folder], settings, run_dir=run_dir, workers=2)
    by_name = {Path(r.path).name: r for r in first}
    assert list(by_name) == ["athens.JPG", "notes.jpg", "tokyo.jpg"]
    assert (first.new, first.resumed, first.interrupted) == (3, 0, False)
    bad = by_name["notes.jpg"]
    assert bad.failed and bad.error.startswith("bad_input: ") and "not a recognised image" in bad.error
    assert (bad.lat, bad.lon, bad.country_code, bad.trace_id) == (None, None, None, None)
    truths = {"athens.JPG": ((37.9838, 23.7275), "GR"), "tokyo.jpg": ((35.664, 139.6982), "JP")}
    for name, (truth, code) in truths.items():
        record = by_name[name]
        assert not record.failed and record.error is None and record.country_code == code
        assert distance_km(*truth, record.lat, record.lon) < 50
        assert record.evidence.startswith("gazetteer: ") and "\n" not in record.evidence
        assert record.planner == "policy" and 0 < record.confidence <= 1
        trace = TraceStore(run_dir / "traces.sqlite").get_run(record.trace_id)  # traces live in the batch
        assert trace["photo"] == record.path and trace["kind"] == "locate"
    header = json.loads((run_dir / "run.json").read_text())
    assert (header["kind"], header["status"], header["use_metadata"]) == ("locate", "success", True)

    start = time.perf_counter()
    again = locate_many([folder], settings, run_dir=run_dir)
    assert time.perf_counter() - start < 10  # nothing is located again
    assert (again.new, again.resumed) == (0, 3)
    assert [r.as_dict() for r in again] == [r.as_dict() for r in first]
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3

    shutil.copy(EXAMPLES / "gr_athens_pharmacy.jpg", folder / "day2" / "athens-copy.jpg")
    grown = locate_many([folder], settings, run_dir=run_dir)  # a new photo in the folder: only it is done
    assert (grown.new, grown.resumed) == (1, 3) and len(grown.records) == 4

    with pytest.raises(RunError, match=r"tools=.*--run-dir.*--force-new"):
        locate_many([folder], settings.model_copy(update={"tools": ("ocr",)}), run_dir=run_dir)
    fresh = locate_many([folder / "day2" / "notes.jpg"], settings.model_copy(update={"tools": ("ocr",)}),
                        run_dir=run_dir, force_new=True)
    assert (fresh.new, fresh.resumed) == (1, 0)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("batch.replaced-")]


@pytest.mark.slow
def test_metadata_follows_the_setting(tmp_path: Path, cache: Path) -> None:
    """A JPEG comment with a location (Sydney) places a batch photo only when metadata is allowed."""
    planted = tmp_path / "planted.jpg"
    clean = (EXAMPLES / "fr_paris_cafe_de_flore.jpg").read_bytes()
    planted.write_bytes(insert_jpeg_comment(clean, f"lat={SYDNEY[0]}, lon={SYDNEY[1]}"))
    settings = settings_for(cache, tools=("exif",))
    seeing = locate_many([planted], settings)
    blind = locate_many([planted], settings.model_copy(update={"use_metadata": False}))
    assert seeing.run_dir != blind.run_dir  # the metadata choice is part of the default batch folder
    assert seeing.run_dir.parent == cache / "cache" / "batches"  # settings_for: cache_dir is cache/cache
    assert distance_km(*SYDNEY, seeing.records[0].lat, seeing.records[0].lon) < 1
    assert seeing.records[0].country_code == "AU" and seeing.records[0].evidence.startswith("exif: ")
    assert blind.records[0].country_code != "AU"
    assert json.loads((blind.run_dir / "run.json").read_text())["use_metadata"] is False


def test_import_geosleuth_stays_light() -> None:
    code = ("import sys, geosleuth; heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('langgraph', 'torch', 'rich', 'numpy', 'PIL') or m.startswith('geosleuth.')]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.slow
def test_the_python_api_locates_one_photo_and_many(tmp_path: Path, cache: Path) -> None:
    from geosleuth import LocateResult, PhotoRecord, locate
    from geosleuth import locate_many as api_locate_many

    settings = settings_for(cache, tools=TEXT_TOOLS)
    result = locate(EXAMPLES / "gr_athens_pharmacy.jpg", settings)
    assert isinstance(result, LocateResult) and result.guess.country_code == "GR"
    assert result.fusion.belief.top(1)[0][0] == "GR"
    assert list(dict.fromkeys(e.tool for e in result.evidence)) == list(TEXT_TOOLS)
    assert TraceStore.for_settings(settings).get_run(result.trace_id)["kind"] == "locate"
    assert locate(EXAMPLES / "gr_athens_pharmacy.jpg", settings, traces=None).trace_id is None
    batch = api_locate_many(str(EXAMPLES / "gr_athens_pharmacy.jpg"), settings, run_dir=tmp_path / "b")
    [record] = batch
    assert isinstance(record, PhotoRecord) and record.country_code == "GR"
    assert distance_km(record.lat, record.lon, result.guess.lat, result.guess.lon) < 1


@pytest.mark.slow
def test_the_cli_runs_a_folder_with_progress_and_resumes(tmp_path: Path, cache: Path) -> None:
    folder = library(tmp_path)
    config = tmp_path / "geosleuth.toml"
    config.write_text(f'cache_dir = "{cache / "cache"}"\nplanner = "policy"\n')
    command = [GEOSLEUTH, "locate", str(folder), "--tools", ",".join(TEXT_TOOLS), "--config", str(config)]
    env = {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "200"}  # a terminal: the progress bar is drawn
    first = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert first.returncode == 0, first.stderr
    assert "locate · policy" in first.stderr and "eta" in first.stderr and "3/3" in first.stderr
    assert "3 photos: 2 located, 1 failed (0 from an earlier run)" in first.stderr
    for shown in ("athens.JPG", "Athens", "tokyo.jpg", "Japan", "notes.jpg", "bad_input"):
        assert shown in first.stdout
    again = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "(3 from an earlier run)" in again.stderr
    rows = [json.loads(line) for line in again.stdout.splitlines()]
    assert [Path(r["path"]).name for r in rows] == ["athens.JPG", "notes.jpg", "tokyo.jpg"]
    assert rows[1]["lat"] is None and rows[1]["error"].startswith("bad_input")
    assert list((cache / "cache" / "batches").glob("trip-*/results.jsonl"))


def test_the_cli_refuses_an_unknown_output_format_before_any_work(tmp_path: Path) -> None:
    done = subprocess.run([GEOSLEUTH, "locate", str(EXAMPLES), "--out", str(tmp_path / "a.shp")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"geosleuth: error: {tmp_path / 'a.shp'}: unknown output format '.shp'; use one of .csv, .geojson, "
        ".kml, .gpx"]
    assert list(tmp_path.iterdir()) == []


def test_the_cli_writes_sidecars_only_with_yes(tmp_path: Path, cache: Path) -> None:
    folder = library(tmp_path)
    config = tmp_path / "geosleuth.toml"
    config.write_text(f'cache_dir = "{cache / "cache"}"\nplanner = "policy"\n')
    command = [GEOSLEUTH, "locate", str(folder), "--tools", ",".join(TEXT_TOOLS), "--config", str(config),
               "--write", "xmp"]
    env = {**os.environ, "COLUMNS": "200"}
    before = sorted(folder.rglob("*"))
    dry = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was written; add --yes to write" in dry.stderr
    assert "athens.JPG.xmp" in dry.stderr and sorted(folder.rglob("*")) == before
    done = subprocess.run([*command, "--yes"], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "written" in done.stderr and "(3 from an earlier run)" in done.stderr
    sidecars = sorted(p.name for p in folder.rglob("*.xmp"))
    assert sidecars == ["athens.JPG.xmp", "tokyo.jpg.xmp"]  # notes.jpg has no answer: no sidecar
    if shutil.which("exiftool"):
        read = subprocess.run(["exiftool", "-n", "-j", "-GPSLatitude", "-GPSLongitude",
                               str(folder / "athens.JPG.xmp")], capture_output=True, text=True, check=True)
        tags = json.loads(read.stdout)[0]
        assert distance_km(tags["GPSLatitude"], tags["GPSLongitude"], 37.98, 23.73) < 25  # Athens


def test_the_cli_refuses_write_options_that_do_not_go_together(tmp_path: Path) -> None:
    for extra, message in (
        (["--write", "exif"], "--write exif changes the photos themselves: add --in-place"),
        (["--write", "xmp", "--in-place"], "--in-place goes with --write exif"),
        (["--yes"], "go with --write xmp|exif"),
    ):
        done = subprocess.run([GEOSLEUTH, "locate", str(EXAMPLES), *extra], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr
