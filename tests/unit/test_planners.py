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
