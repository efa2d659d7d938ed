"""The agent graph on real photos and real tools, with a scripted chat model for exact paths."""

from __future__ import annotations

import csv
import json
from concurrent.futures import Future
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from scripted_chat import Scripted, backend, scripted
from scripted_decisions import PARIS as PARIS_SIGN
from scripted_decisions import place, propose

from geosleuth.core.config import Settings
from geosleuth.core.geo import distance_km
from geosleuth.core.paths import source_root
from geosleuth.core.photo import load_photo
from geosleuth.run.fusion import Fusion, commit, prior_belief
from geosleuth.run.llm_planner import LLMPlanner
from geosleuth.run.locate import locate_photo
from geosleuth.run.policy import look_step
from geosleuth.run.traces import TraceStore
from geosleuth.tools.hypothesis import NAMED_STRENGTH, READ_STRENGTH

EXAMPLES = source_root() / "examples"
OFFLINE_TOOLS = ("ocr", "text_clues", "gazetteer")  # osm needs the network


def label(file: str) -> dict[str, str]:
    with (EXAMPLES / "labels.csv").open(newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["file"] == file)


def settings(**overrides: Any) -> Settings:
    return Settings(**{"use_metadata": False, "tools": OFFLINE_TOOLS, "stop_confidence": 1.0, **overrides})


PARIS = "fr_paris_cafe_de_flore.jpg"


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


def policy_answer(file: str = PARIS, **overrides: Any):
    return locate_photo(load_photo(EXAMPLES / file), settings(**overrides), planner="policy").guess


def test_the_look_first_pass_runs_without_the_llm_then_a_read_place_is_checked():
    model = scripted(propose(PARIS_SIGN))
    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend()))
    assert [e.tool for e in result.evidence] == ["ocr", "text_clues", "gazetteer", "hypothesis"]
    assert result.planner == "llm" and result.llm_calls == 1 and len(model.seen) == 1
    checked = result.evidence[-1]
    assert checked.ok and checked.observations["grounded"] is True
    assert checked.strength == READ_STRENGTH and checked.candidates[0].country_code == "FR"
    assert result.hypotheses[0]["checked"] is True and result.hypotheses[0]["label"].startswith("Paris")
    assert result.rationale == "Paris, Île-de-France (FR): a Paris address."
    row = label(PARIS)
    assert distance_km(float(row["lat"]), float(row["lon"]), result.guess.lat, result.guess.lon) < 25
    # the model saw the look-first pass's findings, and could only reply with places (no coordinates)
    messages, kwargs = model.seen[0]
    assert "Café de Flore" in messages[-1].content or "CAFE" in messages[-1].content.upper()
    schema = kwargs["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["places"] and schema["properties"]["places"]["maxItems"] == 2
    item = schema["$defs"]["Hypothesis"]
    assert set(item["required"]) == {"place", "region", "country_code", "reason"}
    assert "lat" not in item["properties"]


def test_the_system_prompt_is_one_fixed_prefix_for_every_photo():
    """llama.cpp reuses the cached prefix, so each decision pays only for its own state."""
    model = scripted(propose(PARIS_SIGN), propose(place("Athens", "GR")))
    for file in (PARIS, "gr_athens_pharmacy.jpg"):
        locate_photo(load_photo(EXAMPLES / file), settings(), planner="llm", chat=(model, backend()))
    first, second = (seen[0][0] for seen in model.seen)
    assert first.content == second.content and "{" not in first.content.split("keys:")[0]


def test_an_invented_place_and_one_the_evidence_rules_out_have_no_effect():
    model = scripted(propose(place("Atlantis", "FR"), place("Tokyo", "JP")))
    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend()))
    invented, ruled_out = result.evidence[-2:]
    assert invented.error.type == "no_result" and "no place of that name in France" in invented.error.message
    assert ruled_out.error.type == "no_result" and "Japan is not supported" in ruled_out.error.message
    assert [h["checked"] for h in result.hypotheses] == [False, False]
    assert result.guess == policy_answer()  # exactly the look-first answer
    assert any("Tokyo" in flag or "Japan" in flag for flag in result.rationale_flags)


def test_a_real_place_the_model_knows_adds_to_its_country_but_not_over_the_place_read():
    """Lyon was never read: a supported, checked place named by the model counts, at the lower strength."""
    model = scripted(propose(place("Lyon", "FR", reason="French text")))
    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend()))
    named = result.evidence[-1]
    assert named.ok and named.observations["grounded"] is False and named.strength == NAMED_STRENGTH
    floor = policy_answer()
    assert result.guess.country_code == "FR" and result.guess.confidence > floor.confidence
    assert (result.guess.lat, result.guess.lon) == (floor.lat, floor.lon)  # the Paris read on the sign wins


@pytest.mark.parametrize(
    "replies",
    [
        pytest.param(("not json", '{"places": [{"place": 3}]}', "```json\n{oops}\n```"), id="errs"),
        pytest.param((propose(),), id="proposes-nothing"),
        pytest.param((AIMessage("I cannot help with locating photos."),) * 3, id="refuses"),
    ],
)
def test_the_look_first_answer_is_the_floor_when_the_model_errs_or_refuses(replies):
    model = scripted(*replies)
    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend()))
    assert result.guess == policy_answer() and result.guess.lat is not None
    assert [e.tool for e in result.evidence] == ["ocr", "text_clues", "gazetteer"]
    assert result.llm_calls == len(replies)


class TimesOut(Scripted):
    """A chat model whose every call times out."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: D102
        self.seen.append((messages, kwargs))
        raise TimeoutError("Request timed out.")


class Crashes(LLMPlanner):
    """A planner whose reasoning crashes after the look-first pass."""

    def decide(self, state, ctx):  # noqa: D102
        if (look := look_step(state, ctx)) is not None:
            return look
        raise RuntimeError("boom")


def test_the_floor_holds_when_the_model_times_out_or_the_planner_crashes(monkeypatch):
    model = TimesOut(messages=iter([]))
    result = locate_photo(
        load_photo(EXAMPLES / PARIS), settings(max_seconds=30), planner="llm", chat=(model, backend())
    )
    assert result.guess == policy_answer() and "timed out" in result.rationale
    assert result.llm_calls == 1 and model.seen[0][1]["timeout"] <= 30  # the time left, not a fixed wait

    import geosleuth.run.locate as locate_module

    monkeypatch.setattr(locate_module, "LLMPlanner", Crashes)
    crashed = locate_photo(
        load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(scripted(), backend())
    )
    assert crashed.guess == policy_answer()


def embedded_starting(monkeypatch, started: list | None = None) -> Future:
    """Make `make_planner` build the embedded planner on a future that the test resolves itself."""
    import geosleuth.run.locate as locate_module

    starting: Future = Future()

    def start(_settings):
        (started if started is not None else []).append(starting)
        return starting

    monkeypatch.setattr(locate_module, "llm_available", lambda _settings: True)
    monkeypatch.setattr(locate_module, "start_chat_model", start)
    monkeypatch.setattr(locate_module, "embedded_backend", lambda _settings: backend())
    return starting


def test_the_look_first_pass_runs_and_its_answer_shows_while_the_embedded_model_starts(monkeypatch):
    starting, events = embedded_starting(monkeypatch), []
    model = scripted(propose(PARIS_SIGN))

    def watch(kind, payload):
        events.append((kind, payload.tool if kind == "evidence" else payload))
        if kind == "floor":  # the model becomes ready only now: the tools did not wait for it
            starting.set_result((model, backend()))

    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm", on_event=watch)
    tools_then_floor = [p for k, p in events if k == "evidence"][:3] + [k for k, _ in events if k == "floor"]
    assert tools_then_floor == ["ocr", "text_clues", "gazetteer", "floor"]
    floor = next(p for k, p in events if k == "floor")
    assert floor == policy_answer()
    assert result.llm_calls == 1 and result.evidence[-1].tool == "hypothesis" and result.evidence[-1].ok


def test_a_photo_with_no_text_never_starts_the_embedded_model(monkeypatch, tmp_path):
    from PIL import Image

    started: list = []
    embedded_starting(monkeypatch, started)
    Image.new("RGB", (640, 480), (90, 140, 200)).save(tmp_path / "sky.jpg")
    result = locate_photo(load_photo(tmp_path / "sky.jpg"), settings(), planner="llm")
    assert started == [] and result.llm_calls == 0 and result.evidence[0].tool == "ocr"
    started_on_text: list = []
    embedded_starting(monkeypatch, started_on_text).set_result((scripted(propose(PARIS_SIGN)), backend()))
    locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm")
    assert len(started_on_text) == 1


def test_an_embedded_model_that_fails_to_start_leaves_the_look_first_answer(monkeypatch):
    from geosleuth.run.llm import LLMError

    embedded_starting(monkeypatch).set_exception(LLMError("the embedded LLM did not load from m.gguf"))
    result = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="llm")
    assert result.guess == policy_answer() and result.llm_calls == 0
    assert "did not load" in result.rationale


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


def test_native_tool_calls_propose_places_and_a_tool_not_offered_is_answered_not_dropped():
    calls = AIMessage("", tool_calls=[
        {"name": "propose_place", "args": PARIS_SIGN, "id": "1"},
        {"name": "teleport", "args": {}, "id": "2"},
        {"name": "answer", "args": {"rationale": "The sign gives a Paris address."}, "id": "3"},
    ])
    model = scripted(calls)
    result = locate_photo(
        load_photo(EXAMPLES / PARIS), settings(), planner="llm", chat=(model, backend(tools=True))
    )
    assert [e.tool for e in result.evidence] == ["ocr", "text_clues", "gazetteer", "hypothesis", "teleport"]
    teleport = result.evidence[-1]
    assert teleport.error.type == "bad_input" and "cannot be called now" in teleport.error.message
    offered = [t["function"]["name"] for t in model.seen[0][1]["tools"]]
    assert offered == ["propose_place", "answer"]  # a locate run offers no tool after the look-first pass
    assert result.evidence[3].ok and result.guess.country_code == "FR"


def test_a_trace_records_every_step_and_no_secret(tmp_path, monkeypatch):
    secret = "sk-test-" + "x" * 40
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    store = TraceStore(tmp_path / "traces.sqlite")
    model = scripted(propose(PARIS_SIGN))
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
    assert (run["llm_calls"], run["tool_calls"]) == (1, 4) and run["country_correct"] is True
    kinds = [(s["kind"], s["name"]) for s in store.steps(result.trace_id)]
    assert kinds == [
        ("tool", "ocr"),
        ("tool", "text_clues"),
        ("tool", "gazetteer"),
        ("llm", "scripted"),
        ("tool", "hypothesis"),
        ("commit", "llm"),
    ]
    llm = store.steps(result.trace_id)[3]
    assert llm["input"][0]["role"] == "system" and llm["output"]["parsed"]["places"][0]["place"] == "Paris"
    assert all(s["belief_top"] for s in store.steps(result.trace_id))
    store.close()
    for path in tmp_path.iterdir():
        assert secret.encode() not in path.read_bytes()


def test_a_vision_model_gets_the_photo_and_the_trace_keeps_no_pixels(tmp_path):
    store = TraceStore(tmp_path / "traces.sqlite")
    model = scripted(propose(PARIS_SIGN))
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
    assert "You can also see the photo" in model.seen[0][0][0].content
    assert result.evidence[-1].inputs["seen"] is True
    llm = next(s for s in store.steps(result.trace_id) if s["kind"] == "llm")
    assert "base64" not in json.dumps(llm["input"]) and "[inline image" in json.dumps(llm["input"])


def test_a_refused_call_is_withdrawn_for_the_photo_and_calls_past_the_cap_are_answered():
    from geosleuth.core.state import Evidence
    from geosleuth.run.llm_planner import tool_calls
    from geosleuth.run.reasoning import Reasoning

    s = settings(max_tools_per_decision=2)
    whole = Reasoning(tools=["zoom"], box=[0, 0, 1, 1])
    first = tool_calls(whole, ["zoom"], [], s)
    assert "covers 100%" in first[0]["refusal"]
    seen = [Evidence.failure("zoom", "bad_input", first[0]["refusal"], inputs=first[0]["args"])]
    again = tool_calls(Reasoning(tools=["zoom", "zoom", "ocr"], box=[0, 0, 1, 1]), ["zoom"], seen, s)
    assert again[0]["refusal"].startswith("refused before, so withdrawn")
    assert "you may call: zoom" in again[0]["refusal"]
    assert "max_tools_per_decision" in again[2]["refusal"]
    part = tool_calls(Reasoning(tools=["zoom"], box=[0, 0, 0.5, 0.5]), ["zoom"], seen, s)
    assert "refusal" not in part[0] or part[0]["refusal"] is None


def test_a_photo_without_text_is_committed_without_asking_the_model(tmp_path):
    """On a real photo with no writing (scikit-image's coffee cup) the agent spends no LLM call."""
    from PIL import Image
    from skimage import data

    from geosleuth.tools.localizability import localizability

    photo_path = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(photo_path)
    store = TraceStore(tmp_path / "traces.sqlite")
    model = scripted(propose(PARIS_SIGN))
    result = locate_photo(
        load_photo(photo_path), settings(), planner="llm", chat=(model, backend()), traces=store
    )
    assert [e.tool for e in result.evidence] == ["ocr"]
    assert not result.evidence[0].observations.get("lines")
    guard = [s for s in store.steps(result.trace_id) if s["kind"] == "guard"]
    assert len(guard) == 1 and guard[0]["output"]["why"].startswith("nothing to go on")
    assert localizability(result.evidence, result.fusion.belief) < 0.05
    assert result.llm_calls == 0 and model.seen == []  # nothing read: the model is never asked

    text = locate_photo(load_photo(EXAMPLES / PARIS), settings(), planner="policy", traces=store)
    assert [e.tool for e in text.evidence] == ["ocr", "text_clues", "gazetteer"]  # text keeps it going
