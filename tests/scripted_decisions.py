"""The LLM planner's JSON replies (`geosleuth.run.reasoning.Reasoning`), as scripted replies for tests."""

from __future__ import annotations

from typing import Any


def place(name: str, country_code: str, *, region: str = "", reason: str = "on the sign") -> dict[str, str]:
    """One proposed place, with every schema key."""
    return {"place": name, "region": region, "country_code": country_code, "reason": reason}


def propose(*places: dict[str, str]) -> dict[str, Any]:
    """A locate run's reply: the places only (its schema has no other key)."""
    return {"places": list(places)}


def reply(rationale: str, *places: dict[str, str], tools: tuple[str, ...] = (),
          box: list[float] | None = None) -> dict[str, Any]:
    """A chat question's reply: places, the tools to call now, a zoom box and the rationale."""
    return {"places": list(places), "tools": list(tools), "box": box or [0, 0, 1, 1], "rationale": rationale}


PARIS = place("Paris", "FR", region="Île-de-France", reason="a Paris address")
"""The place read on the example café sign."""
