"""Tool specs: one per tool module, read by the registry, the run, the cache, fusion, ablation and README."""

from __future__ import annotations

import sys

import pytest

from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.core.photo import load_photo
from geosleuth.core.run_state import fresh_run
from geosleuth.core.state import Evidence
from geosleuth.evals import tool_cache
from geosleuth.evals.ablation import configurations
from geosleuth.run.context import run_spec
from geosleuth.run.fusion import Fusion, prior_belief
from geosleuth.run.locate import check_tools
from geosleuth.run.toolnode import execute, ready_tools, tool_call
from geosleuth.tools import check_tool_name, fusion_weight, get_spec, registry, tool_table
from geosleuth.tools.spec import ToolCall, ToolSpec, _module_hash

ROOT = source_root()
EXAMPLES = ROOT / "examples"


def test_every_tool_module_declares_its_spec_once():
    specs = registry()
    assert set(specs) == {
        "exif", "ocr", "text_clues", "gazetteer", "osm", "geocode", "zoom", "clip_zero_shot", "retrieval",
        "geoclip", "scene", "hypothesis", "web_search",
    }
    for name, spec in specs.items():
        assert spec.name == name and len(spec.description) > 40  # the text an LLM reads
        assert spec.what and spec.offline_source  # the README's row
        tool = spec.langchain_tool(Settings())
        assert tool.name == name and tool.description == spec.description


def test_unknown_names_get_a_did_you_mean_when_a_run_starts():
    with pytest.raises(ValueError, match="Did you mean 'gazetteer'"):
        check_tool_name("gazeteer")
    with pytest.raises(ValueError, match="Did you mean 'gazetteer'"):
        check_tools(Settings(tools=("ocr", "gazeteer")))


def test_the_readme_tool_table_is_rendered_from_the_specs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert tool_table() in readme, "README's tool table is stale: paste geosleuth.tools.tool_table()"


def test_fusion_weights_and_ablation_rows_come_from_the_specs():
    assert fusion_weight("exif") == get_spec("exif").weight == 3.0
    assert fusion_weight("not-a-tool") == 1.0
    rows = {c.label: c.tools for c in configurations(
        Settings(tools=("exif", "ocr", "text_clues", "gazetteer", "osm", "zoom")),
        allow_metadata=False, include_agent=False,
    )}
    assert rows["ocr+gazetteer+osm"] == ("ocr", "gazetteer", "osm")
    assert not any("zoom" in label or label.startswith("exif") for label in rows)  # no rows of their own


def test_the_cache_key_holds_each_tools_own_source_and_declared_inputs():
    geoclip, zoom, ocr = get_spec("geoclip"), get_spec("zoom"), get_spec("ocr")
    # GeoCLIP lives in geoclip_tool.py: its own module is hashed (editing it invalidates its results)
    assert geoclip.function.__module__ == "geosleuth.tools.geoclip_tool"
    assert geoclip.source_hash() != "no-source"
    # zoom reads with OCR: OCR's modules are in its key, so editing OCR invalidates cached zooms
    parts = zoom.source_hash().split("+")
    assert set(ocr.source_hash().split("+")) < set(parts)
    # text_clues's key holds every clue module it imports (and nonplace_text): editing one invalidates it
    clue_modules = [m for m in sys.modules if m.startswith("geosleuth.tools.clues.")]
    text_parts = set(get_spec("text_clues").source_hash().split("+"))
    assert len(clue_modules) >= 8 and {_module_hash(m) for m in clue_modules} <= text_parts
    settings = Settings()
    call = ToolCall(settings=settings, lines=("Αθήνα",), country_hint={"GR": 0.5, "CY": 1e-9})
    assert get_spec("gazetteer").cache_key(call) == [None, {}, ["Αθήνα"], {"GR": 0.5}, []]
    moved = ToolCall(settings=settings.model_copy(update={"ocr_max_side": 800}))
    assert ocr.cache_key(moved) != ocr.cache_key(ToolCall(settings=settings))


def test_a_newcomers_tool_is_offered_called_cached_and_weighted_from_its_spec_alone(monkeypatch, tmp_path):
    """Adding a tool means declaring a spec: the planner, the tool node, the cache and fusion follow."""

    def shout(lines: list[str]) -> Evidence:
        return Evidence(tool="shout", country_likelihoods={"FR": 1.0, "DE": 0.1}, strength=1.0,
                        observations={"n": len(lines)})

    spec = ToolSpec(
        name="shout", function=shout, run=lambda call: shout(list(call.lines)), description="x" * 50,
        needs=("lines",), weight=0.5, key=("lines",), what="test", offline_source="test",
    )
    monkeypatch.setitem(registry(), "shout", spec)
    settings = Settings(use_metadata=False, tools=("ocr", "shout"))
    photo = load_photo(EXAMPLES / "fr_paris_cafe_de_flore.jpg")
    state = fresh_run(prior_belief("gdp"))
    blocked = execute("shout", {}, state, photo=photo, settings=settings, run_tool=run_spec)
    assert blocked.error.type == "bad_input" and "call ocr first" in blocked.error.message
    read = Evidence(tool="ocr", observations={"lines": [{"text": "CAFÉ DE FLORE"}]})
    state = {**state, "evidence": [read]}
    assert ready_tools(state, settings, photo) == ["shout", "zoom"]
    tool_cache.activate(tmp_path / "cache")
    try:
        first = execute("shout", {}, state, photo=photo, settings=settings, run_tool=tool_cache.cached_run)
        again = execute("shout", {}, state, photo=photo, settings=settings, run_tool=tool_cache.cached_run)
    finally:
        tool_cache.activate(None)
    assert first.observations == {"n": 1} and again.observations["cache_hit"] is True
    assert tool_call({}, state, photo=photo, settings=settings).lines == ("CAFÉ DE FLORE",)
    prior = prior_belief("gdp")
    half = Fusion(prior=prior).add(first).probabilities()["FR"]
    full = prior.update(first, 1.0).probabilities()["FR"]
    assert prior.probabilities()["FR"] < half < full  # its spec's weight, 0.5, is what fusion used
