"""The agent graph on real photos and real tools, with a scripted chat model for exact paths."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from scripted_chat import backend, scripted
from scripted_decisions import commit_decision, decide, paris_answer

from geosleuth.core.config import Settings
from geosleuth.core.geo import distance_km
from geosleuth.core.paths import source_root
from geosleuth.core.photo import load_photo
from geosleuth.run.fusion import Fusion, commit, prior_belief
from geosleuth.run.locate import locate_photo
from geosleuth.run.traces import TraceStore

EXAMPLES = source_root() / "examples"
OFFLINE_TOOLS = ("ocr", "text_clues", "gazetteer")  # osm needs the network


def label(file: str) -> dict[str, str]:
    with (EXAMPLES / "labels.csv").open(newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["file"] == file)


def settings(**overrides: Any) -> Settings:
    return Settings(**{"use_metadata": False, "tools": OFFLINE_TOOLS, "stop_confidence": 1.0, **overrides})


PARIS = "fr_paris_cafe_de_flore.jpg"
DECIDE_TEXT = decide("text_clues", "gazetteer")
COMMIT = commit_decision()


def test_policy_through_the_graph_equals_the_tools_run_by_hand():
    """The policy planner calls ocr -> text_clues -> gazetteer and commits to the fused Belief."""
    from geosleuth.tools.gazetteer import find_places
    from geosleuth.tools.ocr import read_text
    from geosleuth.tools.text_clues import read_clues

    photo = load_photo(EXAMPLES / PARIS)
    s = settings(stop_confidence=0.9)
    result = locate_photo(photo, s, planner="policy")
    assert [e.tool for e in result.evidence] == list(OFFLINE_TOOLS)
    assert result.planner == "policy" and result.llm_calls == 0 and result.tokens == 0
    assert result.tool_calls == 3

    by_hand = Fusion(prior=prior_belief(s.prior))
    ocr = read_text(photo.image, engines=s.ocr_engines, max_side=s.ocr_max_side)
    by_hand.add(ocr)
    lines = [line["text"] for line in ocr.observations["lines"]]
    by_hand.add(read_clues(lines))
    by_hand.add(find_places(lines, country_hint=by_hand.belief.probabilities()))
    expected = commit(by_hand)
    assert result.guess.country_code == expected.country_code == "FR"
    assert (result.guess.lat, result.guess.lon) == (expected.lat, expected.lon)
    assert result.guess.confidence == pytest.approx(expected.confidence)


def test_llm_json_decisions_follow_the_script_and_commit_a_checked_answer():
    model = scripted(DECIDE_TEXT, COMMIT, paris_answer())
    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend()))
    # ocr runs first without asking (the only tool that can run), then the model's choices
    assert [e.tool for e in result.evidence] == ["ocr", "text_clues", "gazetteer"]
    assert result.planner == "llm" and result.llm_calls == 3 and result.tool_calls == 3
    assert result.guess.country_code == "FR" and result.rationale == "French text and a Paris address."
    row = label(PARIS)
    assert distance_km(float(row["lat"]), float(row["lon"]), result.guess.lat, result.guess.lon) < 25
    # each decision was constrained by a JSON schema offering only the tools that can run now
    _, kwargs = model.seen[0]
    schema = kwargs["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]["tools"]["items"]["enum"]) == {"text_clues", "gazetteer", "zoom"}
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["properties"]["action"]["const"] == "call_tool"  # text read: clues first, then commit
    later = model.seen[1][1]["response_format"]["json_schema"]["schema"]
    assert later["properties"]["action"]["enum"] == ["call_tool", "commit"]
    answer_schema = model.seen[2][1]["response_format"]["json_schema"]["schema"]
    assert set(answer_schema["required"]) == {
        "country_code",
        "region",
        "city",
        "lat",
        "lon",
        "confidence",
        "radius_km",
        "rationale",
    }


def test_unparsable_answers_fall_back_to_the_fused_commit_never_zero():
    model = scripted(COMMIT, "not json", '{"country_code": "FR"}', "```json\n{oops}\n```")
    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend()))
    assert result.llm_calls == 1 + 3  # the decision, then the answer and its two retries
    assert result.guess == commit(result.fusion)
    assert result.guess.lat is not None and (result.guess.lat, result.guess.lon) != (0.0, 0.0)
    assert "failed" in (result.rationale or "")


def test_the_guard_stops_on_the_step_budget_and_on_confidence(tmp_path):
    store = TraceStore(tmp_path / "traces.sqlite")
    capped = locate_photo(load_photo(EXAMPLES / PARIS), settings(max_steps=1), planner="policy", traces=store)
    assert [e.tool for e in capped.evidence] == ["ocr"]
    guard = [s for s in store.steps(capped.trace_id) if s["kind"] == "guard"]
    assert len(guard) == 1 and "max_steps" in guard[0]["output"]["why"]

    sure = locate_photo(
        load_photo(EXAMPLES / PARIS),
        settings(stop_confidence=0.5, tools=(*OFFLINE_TOOLS, "osm")),
        planner="policy",
        traces=store,
    )
    assert sure.evidence[-1].tool == "gazetteer"  # confident with a located point in France: osm is skipped
    assert "confident" in [s for s in store.steps(sure.trace_id) if s["kind"] == "guard"][0]["output"]["why"]


def test_native_tool_calls_and_an_unknown_tool_is_answered_not_dropped():
    calls = AIMessage(
        "",
        tool_calls=[
            {"name": "teleport", "args": {}, "id": "1"},
            {"name": "text_clues", "args": {}, "id": "2"},
        ],
    )
    done = AIMessage("", tool_calls=[{"name": "commit", "args": {"reason": "enough"}, "id": "3"}])
    model = scripted(calls, done, paris_answer())
    result = locate_photo(
        load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend(tools=True))
    )
    assert [e.tool for e in result.evidence] == ["ocr", "teleport", "text_clues"]
    teleport = result.evidence[1]
    assert teleport.error.type == "bad_input" and "you may call: text_clues" in teleport.error.message
    offered = [t["function"]["name"] for t in model.seen[0][1]["tools"]]
    assert offered == ["text_clues", "gazetteer", "zoom"]  # no commit before the text is read for clues
    # gazetteer has not run yet, so commit is still not offered; a model that commits anyway ends the turn
    assert [t["function"]["name"] for t in model.seen[1][1]["tools"]] == ["gazetteer", "zoom"]
    assert result.guess.country_code == "FR"


def test_calls_past_the_per_decision_cap_are_answered_not_dropped():
    calls = AIMessage("", tool_calls=[
        {"name": "text_clues", "args": {}, "id": "1"}, {"name": "gazetteer", "args": {}, "id": "2"},
    ])
    done = AIMessage("", tool_calls=[{"name": "commit", "args": {"reason": "enough"}, "id": "3"}])
    model = scripted(calls, done, paris_answer())
    result = locate_photo(
        load_photo(EXAMPLES / PARIS), settings(max_tools_per_decision=1), planner="llm",
        chat=(model, backend(tools=True)),
    )
    assert [e.tool for e in result.evidence] == ["ocr", "text_clues", "gazetteer"]
    capped = result.evidence[2]
    assert capped.error.type == "bad_input" and "max_tools_per_decision" in capped.error.message


def test_a_trace_records_every_step_and_no_secret(tmp_path, monkeypatch):
    secret = "sk-test-" + "x" * 40
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    store = TraceStore(tmp_path / "traces.sqlite")
    model = scripted(DECIDE_TEXT, COMMIT, paris_answer())
    truth = {"lat": 48.8541, "lon": 2.3326, "country": "FR"}
    result = locate_photo(
        load_photo(EXAMPLES / PARIS),
        settings(),
        planner="llm",
        chat=(model, backend()),
        traces=store,
        truth=truth,
        photo_path=str(EXAMPLES / PARIS),
    )
    run = store.get_run(result.trace_id)
    assert run["status"] == "ok" and run["planner"] == "llm" and run["model"] == "scripted"
    assert (run["llm_calls"], run["tool_calls"]) == (3, 3) and run["country_correct"] is True
    kinds = [(s["kind"], s["name"]) for s in store.steps(result.trace_id)]
    assert kinds == [
        ("tool", "ocr"),
        ("llm", "scripted"),
        ("tool", "text_clues"),
        ("tool", "gazetteer"),
        ("llm", "scripted"),
        ("llm", "scripted"),
        ("commit", "llm"),
    ]
    llm = store.steps(result.trace_id)[1]
    assert llm["input"][0]["role"] == "system" and llm["output"]["parsed"]["tools"] == [
        "text_clues",
        "gazetteer",
    ]
    assert all(s["belief_top"] for s in store.steps(result.trace_id))
    store.close()
    for path in tmp_path.iterdir():
        assert secret.encode() not in path.read_bytes()


def test_a_vision_model_gets_the_photo_and_the_trace_keeps_no_pixels(tmp_path):
    store = TraceStore(tmp_path / "traces.sqlite")
    model = scripted(COMMIT, paris_answer())
    result = locate_photo(
        load_photo(EXAMPLES / PARIS),
        settings(),
        planner="llm",
        chat=(model, backend(vision=True)),
        traces=store,
    )
    parts = model.seen[0][0][-1].content
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert "You can see the photo" in model.seen[0][0][0].content
    llm = next(s for s in store.steps(result.trace_id) if s["kind"] == "llm")
    assert "base64" not in json.dumps(llm["input"]) and "[inline image" in json.dumps(llm["input"])


def test_a_refused_call_is_withdrawn_so_asking_again_ends_the_tool_rounds():
    """A model that asks again to zoom into the whole photo is not refused twice: it is stopped."""
    whole = {"action": "call_tool", "tools": ["zoom"], "text": "", "box": [0, 0, 1, 1], "reason": "look"}
    model = scripted(whole, whole, paris_answer())
    result = locate_photo(
        load_photo(EXAMPLES / PARIS), settings(max_steps=8), planner="llm", chat=(model, backend())
    )
    assert [e.tool for e in result.evidence] == ["ocr", "zoom"]
    assert "covers 100%" in result.evidence[1].error.message
    assert result.tool_calls == 2 and result.llm_calls == 3 and result.guess.country_code == "FR"


def test_a_refused_call_repeated_beside_a_new_one_is_answered_and_the_new_one_runs():
    whole = {"action": "call_tool", "tools": ["zoom"], "text": "", "box": [0, 0, 1, 1], "reason": "look"}
    both = {**whole, "tools": ["zoom", "text_clues"]}
    model = scripted(whole, both, COMMIT, paris_answer())
    result = locate_photo(
        load_photo(EXAMPLES / PARIS), settings(max_steps=8, max_tools_per_decision=2), planner="llm",
        chat=(model, backend()),
    )
    assert [e.tool for e in result.evidence] == ["ocr", "zoom", "zoom", "text_clues"]
    again = result.evidence[2]
    assert again.error.type == "bad_input" and again.error.message.startswith("refused before, so withdrawn")
    assert "you may call:" in again.error.message and result.evidence[3].ok


def test_guard_commits_when_a_photo_without_text_leaves_only_zoom(tmp_path):
    """On a real photo with no writing (scikit-image's coffee cup) the agent spends no LLM call on zooming."""
    from PIL import Image
    from skimage import data

    from geosleuth.tools.localizability import localizability

    photo_path = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(photo_path)
    store = TraceStore(tmp_path / "traces.sqlite")
    model = scripted(paris_answer())
    result = locate_photo(
        load_photo(photo_path), settings(), planner="llm", chat=(model, backend()), traces=store
    )
    assert [e.tool for e in result.evidence] == ["ocr"]
    assert not result.evidence[0].observations.get("lines")
    guard = [s for s in store.steps(result.trace_id) if s["kind"] == "guard"]
    assert len(guard) == 1 and guard[0]["output"]["why"].startswith("nothing to go on")
    assert localizability(result.evidence, result.fusion.belief) < 0.05
    assert result.llm_calls == 1  # the answer only: no decision round asked for a zoom

    text = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="policy", traces=store)
    assert [e.tool for e in text.evidence] == ["ocr", "text_clues", "gazetteer"]  # text keeps it going
