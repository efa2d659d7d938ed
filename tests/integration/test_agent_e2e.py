"""End to end: `geosleuth locate` with the real embedded LLM served on loopback, traced to SQLite."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geosleuth.core.geo import distance_km
from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"
GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))


@pytest.mark.slow
def test_locate_with_the_local_llm_agent(tmp_path):
    from geosleuth.core.config import Settings
    from geosleuth.run.llm import llm_available
    from geosleuth.run.traces import TraceStore

    available = llm_available(Settings())
    if available is not True:
        pytest.skip(f"the embedded LLM is not installed: {available}")
    with (EXAMPLES / "labels.csv").open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["file"] == "kr_seoul_namsan.jpg")
    traces = tmp_path / "traces.sqlite"
    env = {**os.environ, "GEOSLEUTH_TRACE_DB": str(traces), "GEOSLEUTH_STOP_CONFIDENCE": "1.0"}
    env.pop("GEOSLEUTH_LLM_BASE_URL", None)
    done = subprocess.run(
        [
            GEOSLEUTH,
            "locate",
            "--json",
            "--no-metadata",
            "--planner",
            "llm",
            "--tools",
            "ocr,text_clues,gazetteer",
            str(EXAMPLES / row["file"]),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["planner"] == "llm"
    assert out["guess"]["country_code"] == "KR"
    error = distance_km(float(row["lat"]), float(row["lon"]), out["guess"]["lat"], out["guess"]["lon"])
    assert error < 200, out["guess"]

    store = TraceStore(traces)
    (run,) = store.list_runs()
    assert run["status"] == "ok" and run["planner"] == "llm" and run["llm_calls"] >= 1 and run["tokens"] > 0
    assert (out["trace_id"], out["llm_calls"], out["tokens"]) == (run["id"], run["llm_calls"], run["tokens"])
    steps = store.steps(run["id"])
    llm = [s for s in steps if s["kind"] == "llm"]
    assert llm and all(s["tokens_in"] > 0 and s["tokens_out"] > 0 and s["seconds"] > 0 for s in llm)
    assert [s["kind"] for s in steps][-1] == "commit"
    assert {"ocr", "text_clues"} <= {s["name"] for s in steps if s["kind"] == "tool"}
    assert "hypotheses" in out and all(h["checked"] in (True, False) for h in out["hypotheses"])
    assert "rationale_flags" in out


@pytest.mark.slow
def test_the_embedded_model_on_every_example_lands_within_25_km_and_never_below_the_floor():
    """Look first, then the real 1.5B model proposes places that tools check (issue 15, item 4)."""
    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.llm import llm_available, make_chat_model
    from geosleuth.run.locate import locate_photo

    settings = Settings(use_metadata=False)
    available = llm_available(settings)
    if available is not True:
        pytest.skip(f"the embedded LLM is not installed: {available}")
    chat = make_chat_model(settings)
    with (EXAMPLES / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        photo = load_photo(EXAMPLES / row["file"])
        floor = locate_photo(photo, settings, planner="policy")
        agent = locate_photo(photo, settings, planner="llm", chat=chat)
        truth = float(row["lat"]), float(row["lon"])
        error = distance_km(*truth, agent.guess.lat, agent.guess.lon)
        assert agent.guess.country_code == row["country_code"] and error < 25, (row["file"], agent.guess)
        assert error <= distance_km(*truth, floor.guess.lat, floor.guess.lon) + 1.0, row["file"]
        if agent.llm_calls:  # the model was asked: what it proposed was checked by the hypothesis tool
            assert agent.hypotheses and all(h["checked"] is not None for h in agent.hypotheses)
            assert agent.rationale
