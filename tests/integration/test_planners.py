"""Planner pieces: choosing the planner, tool inputs from the state and the specs, checking the places
an LLM proposes, zoom."""

from __future__ import annotations

import pytest

from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.core.photo import load_photo
from geosleuth.core.run_state import fresh_run
from geosleuth.core.state import Evidence
from geosleuth.run.context import run_spec
from geosleuth.run.fusion import Fusion, commit, prior_belief
from geosleuth.run.locate import PlannerError, make_planner, resolve_planner
from geosleuth.run.toolnode import execute, photo_lines, ready_tools

EXAMPLES = source_root() / "examples"
ATHENS = EXAMPLES / "gr_athens_pharmacy.jpg"


@pytest.fixture(scope="module")
def athens():
    """The Athens example read by OCR, text_clues and the gazetteer (real tools), fused."""
    from geosleuth.tools.gazetteer import find_places
    from geosleuth.tools.ocr import read_text
    from geosleuth.tools.text_clues import read_clues

    photo = load_photo(ATHENS)
    fusion = Fusion(prior=prior_belief("gdp"))
    ocr = read_text(photo.image)
    fusion.add(ocr)
    lines = [line["text"] for line in ocr.observations["lines"]]
    fusion.add(read_clues(lines))
    fusion.add(find_places(lines, country_hint=fusion.belief.probabilities()))
    return photo, fusion


def call_tool(name, args, state, *, photo, settings) -> Evidence:
    return execute(name, args, state, photo=photo, settings=settings, run_tool=run_spec)


def state_of(fusion: Fusion) -> dict:
    state = fresh_run(fusion.prior)
    state.update(evidence=[step.evidence for step in fusion.steps], belief=fusion.belief)
    return state


def test_auto_planner_is_policy_when_no_llm_answers():
    closed = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m")  # port 9: nothing listens
    assert resolve_planner("auto", closed) == "policy"
    assert resolve_planner("policy", closed) == "policy"
    assert resolve_planner("llm", closed) == "llm"  # asked for by name: used (and refused if absent)
    with pytest.raises(PlannerError, match="no LLM available"):
        make_planner("llm", closed)


def test_auto_picks_an_llm_only_once_it_is_measured_no_worse(monkeypatch):
    from openai_stub import OpenAIStub

    import geosleuth.run.locate as locate

    with OpenAIStub() as stub:
        answering = Settings(llm_base_url=stub.base_url, llm_model="stub-model")
        assert locate.auto_choice(answering)[0] == "policy"  # it answers, but nobody measured it
        monkeypatch.setitem(locate.AUTO_LLMS, "stub-model", "measured no worse")
        assert locate.auto_choice(answering) == ("llm", "stub-model: measured no worse")
    assert locate.auto_choice(answering)[0] == "policy"  # measured, but no longer answering


def test_a_proposed_place_is_checked_against_the_gazetteer_and_the_evidence(athens):
    photo, fusion = athens
    state = state_of(fusion)
    settings = Settings(use_metadata=False)

    def check(place, code, region=""):
        args = {"place": place, "region": region, "country_code": code, "reason": "r"}
        return call_tool("hypothesis", args, state, photo=photo, settings=settings)

    read = check("Athens", "GR")  # the sign says "Αθήνα": one of Athens' names, so read in the photo
    assert read.ok and read.observations["grounded"] is True and read.candidates[0].country_code == "GR"
    named = check("Thessaloniki", "GR")  # a real Greek city the sign does not name
    assert named.ok and named.observations["grounded"] is False and named.strength < read.strength
    assert abs(named.candidates[0].lat - 40.64) < 0.1
    for place, code, why in (
        ("Brasília", "BR", "Brazil is not supported by the evidence"),  # what a hostile sign might ask
        ("Athens", "XX", "unknown country code"),
        ("Atlantis", "GR", "no place of that name in Greece"),
        ("Thessaloniki", "CY", "is not supported"),
        ("Nafplio", "GR", "a small town no other evidence points to"),  # what small models invent
    ):
        refused = check(place, code)
        assert refused.error.type == "no_result" and why in refused.error.message, refused.error.message
        assert refused.strength == 0 and not refused.candidates
    fused = commit(fusion)
    with_read = Fusion(prior=fusion.prior)
    for item in [*state["evidence"], read]:
        with_read.add(item)
    assert commit(with_read).country_code == fused.country_code == "GR"
    assert commit(with_read).confidence > fused.confidence


def test_tools_get_their_inputs_from_the_state(athens):
    photo, fusion = athens
    settings = Settings(use_metadata=False)
    empty = fresh_run(fusion.prior)
    for tool in ("text_clues", "gazetteer", "zoom"):
        refused = call_tool(tool, {}, empty, photo=photo, settings=settings)
        assert refused.error.type == "bad_input" and "ocr" in refused.error.message
    assert call_tool("exif", {}, empty, photo=photo, settings=settings).error.message == (
        "metadata is withheld in this run"
    )
    state = state_of(fusion)
    assert "ΦΑΡΜΑΚΕΙΟ" in photo_lines(state["evidence"])
    assert ready_tools(
        state, Settings(use_metadata=False, tools=("ocr", "text_clues", "gazetteer", "osm")), photo
    ) == ["osm", "zoom"]
    # a planner picks lines by quoting them; text not read from the photo never reaches a tool
    picked = call_tool("gazetteer", {"text": "Αθήνα"}, state, photo=photo, settings=settings)
    assert picked.inputs["texts"] == ["Αθήνα"] and picked.candidates[0].country_code == "GR"
    invented = call_tool("text_clues", {"text": "Paris, France"}, state, photo=photo, settings=settings)
    assert invented.inputs["texts"] == photo_lines(state["evidence"])  # all photo lines, not the invention
    assert "FR" not in invented.country_likelihoods and "GR" in invented.country_likelihoods


def test_zoom_reads_a_crop_and_refuses_a_bad_box(athens):
    from geosleuth.tools.zoom import zoom

    photo, fusion = athens
    ocr = fusion.steps[0].evidence
    sign = next(line for line in ocr.observations["lines"] if line["text"] == "ΦΑΡΜΑΚΕΙΟ")
    x0, y0, x1, y1 = sign["box"]
    w, h = photo.image.size
    box = [max(0, x0 - 60) / w, max(0, y0 - 60) / h, min(w, x1 + 60) / w, min(h, y1 + 60) / h]
    seen = zoom(photo.image, box)
    assert seen.ok and seen.tool == "zoom"
    assert any(line["text"] == "ΦΑΡΜΑΚΕΙΟ" for line in seen.observations["lines"])
    read = next(line for line in seen.observations["lines"] if line["text"] == "ΦΑΡΜΑΚΕΙΟ")
    assert abs(read["box"][0] - x0) < 25 and abs(read["box"][2] - x1) < 25  # boxes in the full photo's pixels
    for bad in ([0.5, 0, 0.2, 1], [0, 0, 1], [0, 0, 1.5, 1], [0, 0, 0.001, 1]):
        refused = zoom(photo.image, bad)
        assert refused.error.type == "bad_input"


def test_zoom_is_offered_at_most_max_zooms_per_locate_but_on_every_chat_question(athens):
    photo, fusion = athens
    settings = Settings(use_metadata=False, tools=("ocr", "text_clues", "gazetteer"))
    state = state_of(fusion)
    assert ready_tools(state, settings, photo) == ["zoom"]
    zoomed = [Evidence(tool="zoom", inputs={"box": [0.0, 0.0, 0.5, 0.5]})] * 2
    state["evidence"] = [*state["evidence"], *zoomed]
    assert ready_tools(state, settings, photo) == []
    assert ready_tools(state, settings.model_copy(update={"max_zooms": 3}), photo) == ["zoom"]
    state["question"] = "read the sign on the left again"
    assert ready_tools(state, settings, photo) == ["zoom"]


def test_vision_tools_get_the_runs_own_settings(tmp_path, monkeypatch):
    """clip_zero_shot runs with the model named in the run's Settings, not one from env or a config file."""
    from geosleuth.run.locate import locate_photo
    from geosleuth.tools.clip_models import save_random_open_clip

    monkeypatch.delenv("GEOSLEUTH_CLIP_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)  # no geosleuth.toml here
    model = save_random_open_clip(tmp_path / "tiny")
    settings = Settings(
        use_metadata=False, tools=("clip_zero_shot",), clip_model=str(model), device="cpu",
        cache_dir=tmp_path / "cache",
    )
    result = locate_photo(load_photo(ATHENS), settings, planner="policy")
    clip = next(e for e in result.evidence if e.tool == "clip_zero_shot")
    assert clip.ok, clip.error
    assert abs(sum(clip.country_likelihoods.values()) - 1) < 1e-6
    assert "tiny" in clip.inputs["model"]
