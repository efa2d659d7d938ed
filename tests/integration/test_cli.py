"""The command line, run as a user runs it: a subprocess of the installed `geosleuth` script."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geosleuth.core.geo import distance_km
from geosleuth.core.paths import shared_dir, source_root

REPO = source_root()
EXAMPLES = REPO / "examples"
SHARED_DATA = shared_dir() / "data"
GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {"GEOSLEUTH_PLANNER": "policy", **os.environ}  # the LLM agent: test_agent_e2e.py
    return subprocess.run([GEOSLEUTH, *args], capture_output=True, text=True, timeout=timeout, env=env)


def example_labels() -> list[dict[str, str]]:
    with (EXAMPLES / "labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_help_lists_the_commands():
    done = run("--help")
    assert done.returncode == 0
    assert "locate" in done.stdout and "bench" in done.stdout


def bad_inputs(tmp: Path) -> dict[str, Path]:
    """Files a user might pass by mistake, each of which must be refused with one line."""
    text = tmp / "notes.jpg"
    text.write_text("this is not an image\n")
    empty = tmp / "empty.png"
    empty.write_bytes(b"")
    real = next(EXAMPLES.glob("*.jpg"))
    truncated = tmp / "truncated.jpg"
    truncated.write_bytes(real.read_bytes()[: real.stat().st_size // 3])
    bomb = tmp / "bomb.png"
    # A valid PNG signature and IHDR declaring 100000 x 100000 pixels, no image data.
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
                     + struct.pack(">I", zlib.crc32(chunk)))
    return {"missing": tmp / "nope.jpg", "directory": tmp, "not an image": text, "empty": empty,
            "truncated": truncated, "bomb": bomb}


@pytest.mark.parametrize("kind", ["missing", "directory", "not an image", "empty", "truncated", "bomb"])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, kind):
    path = bad_inputs(tmp_path)[kind]
    before = sorted(p.name for p in tmp_path.iterdir())
    done = run("locate", "--json", str(path), timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geosleuth: error:"), done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written


def test_bad_setting_is_one_line(tmp_path):
    photo = next(EXAMPLES.glob("*.jpg"))
    done = run("locate", "--tools", "ocr,gazeteer", str(photo), timeout=120)
    assert done.returncode == 2
    assert "Did you mean 'gazetteer'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_locate_json_on_every_example():
    for row in example_labels():
        done = run("locate", "--json", "--no-metadata", str(EXAMPLES / row["file"]))
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert set(out) == {"guess", "top_countries", "evidence", "planner", "rationale", "rationale_flags",
                            "hypotheses", "seconds", "llm_calls", "tool_calls", "tokens", "trace_id"}
        assert (out["llm_calls"], out["tokens"], out["rationale"]) == (0, 0, None)  # the policy asks no LLM
        assert (out["hypotheses"], out["rationale_flags"]) == ([], [])
        assert out["tool_calls"] == len(out["evidence"])
        assert isinstance(out["trace_id"], str) and out["trace_id"]
        assert set(out["guess"]) == {"country_code", "country", "region", "place", "lat", "lon",
                                     "confidence", "radius_km"}
        assert out["planner"] == "policy"
        assert [e["tool"] for e in out["evidence"]][:2] == ["scene", "ocr"]  # --no-metadata: no exif call
        assert out["guess"]["country_code"] == row["country_code"], (row["file"], out["guess"])
        error = distance_km(float(row["lat"]), float(row["lon"]), out["guess"]["lat"], out["guess"]["lon"])
        assert error < 200, (row["file"], error, out["guess"])
        probs = [c["probability"] for c in out["top_countries"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


@pytest.mark.slow
def test_locate_panel_names_the_answer(tmp_path):
    row = example_labels()[0]
    photo = tmp_path / "copy.jpg"
    shutil.copy(EXAMPLES / row["file"], photo)
    done = run("locate", str(photo))
    assert done.returncode == 0, done.stderr
    assert "Top countries" in done.stdout and "Evidence" in done.stdout
    assert "policy planner" in done.stdout


@pytest.mark.slow
def test_no_metadata_withholds_a_planted_location(tmp_path):
    """A JPEG comment with a wrong location moves the answer only when metadata is allowed."""
    from geosleuth.core.photo import insert_jpeg_comment

    row = example_labels()[0]
    clean = EXAMPLES / row["file"]
    planted = tmp_path / "planted.jpg"
    planted.write_bytes(insert_jpeg_comment(clean.read_bytes(), "lat=-33.8568, lon=151.2153"))  # Sydney

    def answer(*args: str) -> dict:
        done = run("locate", "--json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    blind = answer("--no-metadata", str(planted))
    assert blind["guess"] == answer("--no-metadata", str(clean))["guess"]
    assert "exif" not in [e["tool"] for e in blind["evidence"]]
    seeing = answer(str(planted))
    exif = [e for e in seeing["evidence"] if e["tool"] == "exif"]
    assert exif and exif[0]["candidates"][0]["lat"] == pytest.approx(-33.8568)
    assert "AU" in [c["country_code"] for c in seeing["top_countries"]]


@pytest.mark.slow
def test_bench_prints_its_figures():
    """Speed figures always; accuracy on the shared research photos, or a clear skip when absent."""
    photo = EXAMPLES / example_labels()[0]["file"]
    done = run("bench", str(photo), "--repeat", "1", "--accuracy", "3")
    assert done.returncode == 0, done.stderr
    for figure in ("help_s", "warm_locate_s", "peak_rss_gb", photo.name):
        assert figure in done.stdout
    if SHARED_DATA.is_dir():
        assert "first 3 photos" in done.stdout and "median_km" in done.stdout
    else:
        assert "skipped accuracy" in done.stdout


@pytest.mark.slow
def test_locate_uses_camera_gps_when_metadata_is_allowed(shared_data):
    """A real HEIC with an EXIF GPS fix: answer at the fix; with --no-metadata the fix is not used."""
    with (shared_data / "exif-gps" / "labels.csv").open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == "eg_001")
    photo = shared_data / "exif-gps" / row["file"]
    seeing = json.loads(run("locate", "--json", str(photo)).stdout)
    assert seeing["guess"]["country_code"] == row["country_code"]
    error = distance_km(float(row["lat"]), float(row["lon"]), seeing["guess"]["lat"], seeing["guess"]["lon"])
    assert error < 0.1
    blind = json.loads(run("locate", "--json", "--no-metadata", str(photo)).stdout)
    assert all(e["tool"] != "exif" for e in blind["evidence"])
    assert blind["guess"]["lat"] != seeing["guess"]["lat"]
