"""Planner pieces without a photo: the zoom refusal rules (the planners on real tools: tests/integration)."""

from __future__ import annotations

from geosleuth.core.config import Settings
from geosleuth.core.state import Evidence


def test_zoom_must_look_at_a_new_part_of_the_photo():
    from geosleuth.run.llm_planner import zoom_refusal

    area = Settings().zoom_max_area
    assert "covers 100%" in zoom_refusal([0, 0, 1, 1], [], area)
    assert zoom_refusal([0, 0, 0.5, 0.5], [], area) is None
    assert "covers 25%" in zoom_refusal([0, 0, 0.5, 0.5], [], 0.2)  # the cap is a setting
    before = Evidence(tool="zoom", inputs={"box": [0.0, 0.0, 0.5, 0.5]})
    assert "already zoomed" in zoom_refusal([0, 0, 0.5, 0.5], [before], area)
    assert zoom_refusal([0.5, 0, 1, 0.5], [before], area) is None


def test_the_reply_shape_in_the_prompt_has_the_schema_keys_and_no_spaces():
    import json

    from geosleuth.run import prompts
    from geosleuth.run.reasoning import Reasoning, json_shape, omitted, reasoning_schema

    for tools, rationale in (([], False), (["zoom"], True)):
        shape = json_shape(Reasoning, omit=omitted(tools, rationale=rationale))
        schema = reasoning_schema(tools, max_places=2, max_tools=3, rationale=rationale)
        parsed = json.loads(shape)
        assert list(parsed) == schema["required"] and " " not in shape and "\n" not in shape
        place = schema["$defs"]["Hypothesis"]["required"]
        assert list(parsed["places"][0]) == place
    assert "{shape}" in prompts.SYSTEM
