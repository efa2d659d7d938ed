"""`eval ablate`: the configurations (tool chains); the real ablation is in tests/integration."""

from __future__ import annotations

from geosleuth.core.config import resolve_settings
from geosleuth.evals.ablation import configurations, tool_chain


def test_text_tools_run_after_ocr_and_osm_after_the_gazetteer() -> None:
    assert tool_chain("ocr") == ("ocr",)
    assert tool_chain("text_clues") == ("ocr", "text_clues")
    assert tool_chain("osm") == ("ocr", "gazetteer", "osm")
    settings, _ = resolve_settings({}, env={})
    labels = [c.label for c in configurations(settings, allow_metadata=False, include_agent=True)]
    assert labels == ["scene", "ocr", "ocr+text_clues", "ocr+gazetteer", "ocr+gazetteer+osm",
                      "policy (all tools)", "agent (llm)"]
    with_metadata = configurations(settings, allow_metadata=True, include_agent=False)
    assert with_metadata[0].tools == ("exif",) and with_metadata[-1].tools == settings.tools
