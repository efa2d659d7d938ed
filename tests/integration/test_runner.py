"""The eval runner on real photos: kill -9 and resume, errors and timeouts as rows, metadata withheld,
tool results reused by photo hash (its bookkeeping alone: tests/unit)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eval_runs import settings_for
from PIL import Image

from geosleuth.core.geo import distance_km
from geosleuth.core.paths import source_root
from geosleuth.core.photo import insert_jpeg_comment
from geosleuth.evals import tool_cache
from geosleuth.evals.datasets import Sample, get_spec, load_samples
from geosleuth.evals.runner import (
    EvalJob,
    EvalOptions,
    evaluate_one,
    run_eval,
)
from geosleuth.run.traces import TraceStore

REPO = source_root()
EXAMPLES = REPO / "examples"
CLI = [str(Path(sys.executable).with_name("geosleuth"))]
SYDNEY = (-33.8688, 151.2093)


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "geosleuth.toml"
    path.write_text(f'cache_dir = "{tmp_path / "cache"}"\n')
    return path


def example_csv(tmp_path: Path, rows: list[tuple[str, float, float, str]]) -> Path:
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "lat", "lon", "country"])
        writer.writerows(rows)
    return path


def ids_in(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_a_bad_photo_is_a_row_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    labels = example_csv(tmp_path, [
        (str(broken), 10.0, 10.0, "NG"),
        (str(EXAMPLES / "gr_athens_pharmacy.jpg"), 37.9755, 23.7348, "GR"),
    ])
    options = EvalOptions(dataset=str(labels), out=tmp_path / "run", backend="thread", progress=False)
    summary = run_eval(options, settings_for(tmp_path, tools=("ocr", "text_clues", "gazetteer")))
    rows = {r["id"]: r for r in summary.rows}
    assert set(rows) == {"broken", "gr_athens_pharmacy"}
    assert rows["broken"]["error"]["type"] == "bad_input" and rows["broken"]["guess"] is None
    assert rows["broken"]["country_correct"] is False and rows["broken"]["error_km"] is None
    good = rows["gr_athens_pharmacy"]
    assert good["error"] is None and good["guess"]["country"] == "GR" and good["country_correct"] is True
    assert good["tools_used"] == ["ocr", "text_clues", "gazetteer"] and good["trace_id"]
    assert good["error_km"] < 25
    assert 0.5 < good["localizability"] <= 1  # Greek text and a placed name: a locatable photo
    assert summary.metrics["n"] == 2 and summary.metrics["unanswered"] == 1
    header = json.loads((tmp_path / "run" / "run.json").read_text())
    assert header["status"] == "success" and header["allow_metadata"] is False
    assert header["tools"] == ["ocr", "text_clues", "gazetteer"] and header["planner"] == "policy"
    assert header["settings_sources"]["use_metadata"] == "code"  # the eval withheld metadata itself
    trace = TraceStore(tmp_path / "run" / "traces.sqlite").get_run(good["trace_id"])
    assert trace["config"]["settings_sources"] == header["settings_sources"]


@pytest.mark.slow
def test_past_the_time_limit_is_a_timeout_row(tmp_path: Path) -> None:
    sample = Sample("athens", EXAMPLES / "gr_athens_pharmacy.jpg", 37.9755, 23.7348, "GR")
    job = EvalJob("t", str(tmp_path), settings_for(tmp_path), "policy", 0.001, None)
    row = evaluate_one(job, sample)  # the main thread: the limit interrupts the photo itself
    assert row["error"]["type"] == "timeout" and row["guess"] is None
    assert row["truth"] == {"lat": 37.9755, "lon": 23.7348, "country": "GR"}


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_repeats_nothing(shared_data: Path, tmp_path: Path) -> None:
    expected = [s.id for s in load_samples(get_spec("im2gps3k-dev"), limit=10)]
    run_dir = tmp_path / "run"
    command = [*CLI, "eval", "im2gps3k-dev", "--limit", "10", "--planner", "policy", "--tools", "ocr",
               "--workers", "2", "--backend", "process", "--out", str(run_dir), "--no-progress",
               "--no-tool-cache", "--config", str(config_file(tmp_path))]
    results = run_dir / "results.jsonl"
    first = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if results.is_file() and results.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.1)
    assert first.poll() is None, "the first run ended before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)  # the runner and its worker processes
    first.wait()
    before = results.read_bytes()
    kept = before[: before.rfind(b"\n") + 1]
    assert 3 <= kept.count(b"\n") < 10
    with results.open("ab") as handle:  # as if killed in the middle of a write
        handle.write(b'{"id": "' + expected[-1].encode() + b'", "guess": {"lat": 1')
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = results.read_bytes()
    assert after.startswith(kept)  # rows written before the kill are kept as they were
    ids = ids_in(results)
    assert len(ids) == len(set(ids)) == 10 and set(ids) == set(expected)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "success"


@pytest.mark.slow
def test_metadata_is_withheld_unless_allowed(shared_data: Path, tmp_path: Path) -> None:
    """A copy of an Im2GPS3k photo gets a JPEG comment with a wrong location (Sydney)."""
    source = sorted((shared_data / "im2gps3k-dev" / "images").glob("*.jpg"))[0]
    with (shared_data / "im2gps3k-dev" / "labels.csv").open(newline="") as handle:
        truth = next(r for r in csv.DictReader(handle) if r["file"].endswith(source.name))
    buffer = io.BytesIO()
    Image.open(source).save(buffer, "JPEG")
    planted = tmp_path / "photo.jpg"
    planted.write_bytes(insert_jpeg_comment(buffer.getvalue(), f"lat={SYDNEY[0]}, lon={SYDNEY[1]}"))
    labels = example_csv(tmp_path, [(str(planted), truth["lat"], truth["lon"], truth["country_code"])])
    base = [*CLI, "eval", str(labels), "--planner", "policy", "--tools", "exif,ocr", "--no-progress",
            "--backend", "thread", "--config", str(config_file(tmp_path))]
    rows = {}
    for name, extra in (("withheld", []), ("allowed", ["--allow-metadata"])):
        done = subprocess.run([*base, "--out", str(tmp_path / name), *extra], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        rows[name] = json.loads((tmp_path / name / "results.jsonl").read_text())
    withheld, allowed = rows["withheld"], rows["allowed"]
    assert "exif" not in withheld["tools_used"]
    assert distance_km(*SYDNEY, withheld["guess"]["lat"], withheld["guess"]["lon"]) > 1000
    assert "exif" in allowed["tools_used"] and allowed["guess"]["country"] == "AU"
    assert distance_km(*SYDNEY, allowed["guess"]["lat"], allowed["guess"]["lon"]) < 5


@pytest.mark.slow
def test_second_run_reuses_tool_results(tmp_path: Path) -> None:
    labels = example_csv(tmp_path, [
        (str(EXAMPLES / "gr_athens_pharmacy.jpg"), 37.9755, 23.7348, "GR"),
        (str(EXAMPLES / "jp_tokyo_shibuya.jpg"), 35.6595, 139.7005, "JP"),
    ])
    settings = settings_for(tmp_path)
    common = {"dataset": str(labels), "backend": "thread", "progress": False}
    first = run_eval(EvalOptions(out=tmp_path / "a", **common),
                     settings.model_copy(update={"tools": ("ocr",)}))
    assert tool_cache.stats() == {"hits": 0, "misses": 2}
    second = run_eval(EvalOptions(out=tmp_path / "b", **common),
                      settings.model_copy(update={"tools": ("ocr", "text_clues")}))
    assert tool_cache.stats() == {"hits": 2, "misses": 2}  # OCR reused; text_clues computed
    assert [r["tools_used"] for r in second.rows] == [["ocr", "text_clues"]] * 2
    for summary, hit in ((first, False), (second, True)):  # the traces show where OCR came from
        store = TraceStore(summary.run_dir / "traces.sqlite")
        for row in summary.rows:
            ocr = next(s for s in store.steps(row["trace_id"]) if s["kind"] == "tool" and s["name"] == "ocr")
            assert ocr["output"]["observations"].get("cache_hit", False) is hit
        store.close()
    entries = list((tmp_path / "cache" / "tool-cache" / "ocr").rglob("*.json"))
    assert len(entries) == 2
    shutil.rmtree(tmp_path / "cache" / "tool-cache")
    tool_cache.activate(None)


@pytest.mark.slow
def test_ctrl_c_keeps_rows_and_the_rerun_finishes(shared_data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = [*CLI, "eval", "streetscapes-sample", "--limit", "6", "--planner", "policy", "--tools", "ocr",
               "--out", str(run_dir), "--no-progress", "--config", str(config_file(tmp_path))]
    results = run_dir / "results.jsonl"
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        if results.is_file() and results.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 130 and "rerun the same command to continue" in stderr
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    kept = ids_in(results)
    assert 1 <= len(kept) < 6
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ids = ids_in(results)
    assert ids[: len(kept)] == kept and len(ids) == len(set(ids)) == 6


@pytest.mark.slow
def test_a_country_only_folder_is_scored_on_its_countries(tmp_path: Path) -> None:
    """The 6 examples labelled as country-level studies do: a folder of labels.csv, 4 rows with no point."""
    study = tmp_path / "study"
    (study / "images").mkdir(parents=True)
    with (EXAMPLES / "labels.csv").open(newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    with (study / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "lat", "lon", "country_code"])
        for i, label in enumerate(labels):
            (study / "images" / label["file"]).symlink_to(EXAMPLES / label["file"])
            point = (label["lat"], label["lon"]) if i < 2 else ("", "")
            writer.writerow([label["file"], *point, label["country_code"]])
    command = [*CLI, "eval", str(study), "--planner", "policy", "--tools", "ocr,text_clues,gazetteer",
               "--no-progress", "--config", str(config_file(tmp_path))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "runs" / "study-policy"  # named after the folder
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in rows}  # rows come in the order the 2 workers finish them
    assert sorted(by_id) == sorted(Path(label["file"]).stem for label in labels) and len(rows) == 6
    assert all(r["error"] is None and r["guess"]["lat"] is not None for r in rows)
    for label in labels[2:]:
        row = by_id[Path(label["file"]).stem]
        assert row["truth"] == {"lat": None, "lon": None, "country": label["country_code"]}  # never (0, 0)
        assert row["error_km"] is None
        assert row["country_correct"] == (row["guess"]["country"] == label["country_code"])
    right = sum(r["country_correct"] for r in rows)
    assert right >= 4  # the rendered signs name their places
    output = " ".join(done.stdout.split())
    assert "Distance metrics over 2 of 6 rows with coordinates" in output and "macro-F1" in output
    assert f"{right / 6:.1%}" in output

    report = subprocess.run([*CLI, "eval", "report", str(run_dir)], capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0, report.stderr
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    for text in ("## Country classification", "## Country confusion matrix", "Distance metrics over 2 of 6",
                 "| FR | 1 | 1 | 1 |", "country_confusion.csv"):
        assert text in md, text
    metrics = json.loads((run_dir / "country_metrics.json").read_text(encoding="utf-8"))
    assert metrics["rows"] == 6 and metrics["country_accuracy"] == pytest.approx(right / 6)
    assert {c["country"] for c in metrics["countries"] if c["support"]} == {r["country_code"] for r in labels}
    with (run_dir / "country_confusion.csv").open(newline="", encoding="utf-8") as handle:
        matrix = list(csv.reader(handle))
    assert len(matrix) == 7 and sum(int(cell) for row in matrix[1:] for cell in row[1:]) == 6
    assert "country_confusion.csv" in report.stdout
