"""The LLM planner's JSON decisions and answers, as scripted replies for tests."""

from __future__ import annotations

from typing import Any


def decide(*tools: str, reason: str = "read the clues", box: list[float] | None = None) -> dict[str, Any]:
    """A decision to call `tools` (all schema fields present, as the JSON schema requires)."""
    box = box or [0, 0, 1, 1]
    return {"action": "call_tool", "tools": list(tools), "text": "", "box": box, "reason": reason}


def commit_decision(reason: str = "clear") -> dict[str, Any]:
    """A decision to commit."""
    return {"action": "commit", "tools": [], "text": "", "box": [0, 0, 1, 1], "reason": reason}


def paris_answer(**overrides: Any) -> dict[str, Any]:
    """A structured answer in Paris; `overrides` replace fields."""
    return {
        "country_code": "FR", "region": "Île-de-France", "city": "Paris", "lat": 48.8534, "lon": 2.3488,
        "confidence": 0.9, "radius_km": 10, "rationale": "French text and a Paris address.", **overrides,
    }
