"""`eval ablate`: a real ablation on the example photos (the configurations: tests/unit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from geosleuth.core.config import resolve_settings
from geosleuth.core.paths import source_root
from geosleuth.evals.ablation import run_ablation

EXAMPLES = source_root() / "examples"


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
