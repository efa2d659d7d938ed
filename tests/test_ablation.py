"""`eval ablate`: the configurations (tool chains), and a real ablation on the example photos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from geosleuth.core.config import resolve_settings
from geosleuth.evals.ablation import configurations, run_ablation, tool_chain

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_text_tools_run_after_ocr_and_osm_after_the_gazetteer() -> None:
    assert tool_chain("ocr") == ("ocr",)
    assert tool_chain("text_clues") == ("ocr", "text_clues")
    assert tool_chain("osm") == ("ocr", "gazetteer", "osm")
    settings, _ = resolve_settings({}, env={})
    labels = [c.label for c in configurations(settings, allow_metadata=False, include_agent=True)]
    assert labels == ["ocr", "ocr+text_clues", "ocr+gazetteer", "ocr+gazetteer+osm", "policy (all tools)",
                      "agent (llm)"]
    with_metadata = configurations(settings, allow_metadata=True, include_agent=False)
    assert with_metadata[0].tools == ("exif",) and with_metadata[-1].tools == settings.tools


@pytest.mark.slow
def test_ablation_on_the_examples(tmp_path: Path) -> None:
    settings, _ = resolve_settings(
        {"cache_dir": tmp_path / "cache", "tools": ("ocr", "gazetteer"),
         "llm_base_url": "http://127.0.0.1:9/v1"},  # nothing listens there: the agent row is unavailable
        env={},
    )
    console = Console(record=True, width=200)
    rows = run_ablation(str(EXAMPLES / "labels.csv"), settings, out=tmp_path / "ablation", limit=3,
                        console=console)
    assert [r.config.label for r in rows] == ["ocr", "ocr+gazetteer", "policy (all tools)", "agent (llm)"]
    assert all(r.metrics and r.metrics["n"] == 3 for r in rows[:3])
    assert rows[3].metrics is None and "127.0.0.1:9" in rows[3].unavailable
    by_label = {r.config.label: r.metrics for r in rows[:3]}
    assert by_label["ocr+gazetteer"]["country_accuracy"] >= by_label["ocr"]["country_accuracy"]
    assert by_label["ocr+gazetteer"] == by_label["policy (all tools)"]  # the same tools, the same answers
    ocr_entries = list((tmp_path / "cache" / "tool-cache" / "ocr").rglob("*.json"))
    assert len(ocr_entries) == 3  # three configurations, each photo read once
    text = console.export_text()
    assert "country" in text and "≤25 km" in text and "unavailable" in text
    saved = json.loads((tmp_path / "ablation" / "ablation.json").read_text())
    assert [s["label"] for s in saved] == [r.config.label for r in rows]
    assert (tmp_path / "ablation" / "ablation.md").read_text().count("\n| ") == 5
