"""When a turn stops calling tools: spent budgets, a confident Belief, or a photo with nothing to go on."""

from __future__ import annotations

import time

from geosleuth.core.config import Settings
from geosleuth.core.photo import Photo
from geosleuth.core.run_state import GeoState
from geosleuth.core.state import Belief, Evidence
from geosleuth.run.fusion import best_point
from geosleuth.run.toolnode import ready_tools
from geosleuth.tools import registry
from geosleuth.tools.localizability import localizability


def steps_left(state: GeoState, settings: Settings) -> int:
    """Tool calls this turn may still make."""
    return settings.max_steps - (state.get("steps", 0) - int(state["base"]["steps"]))


def budget_spent(state: GeoState, settings: Settings) -> str | None:
    """Name the budget this turn has used up, or None."""
    if steps_left(state, settings) <= 0:
        return f"max_steps ({settings.max_steps} tool calls)"
    if time.time() - state["base"]["started"] >= settings.max_seconds:
        return f"max_seconds ({settings.max_seconds:g} s)"
    if state.get("tokens", 0) - int(state["base"]["tokens"]) >= settings.max_tokens:
        return f"max_tokens ({settings.max_tokens} tokens)"
    return None


def nothing_to_go_on(state: GeoState, settings: Settings, photo: Photo) -> str | None:
    """Why to stop when the photo has shown nothing locatable and only re-reading crops is left, else None.

    This is how localizability saves the LLM's zoom rounds on photos with no text: after the readers
    and any vision tools have run, a score under `settings.low_localizability` means zooming is
    unlikely to help.
    """
    specs = registry()
    if any(not specs[tool].repeatable for tool in ready_tools(state, settings, photo)):
        return None
    score = localizability(state["evidence"], state["belief"])
    if score >= settings.low_localizability:
        return None
    return f"nothing to go on (localizability {score:.2f} < {settings.low_localizability:g})"


def is_confident(belief: Belief, evidence: list[Evidence], threshold: float) -> bool:
    """Whether the Belief is sure enough to stop: top country at `threshold` and a point located in it.

    A confident country alone is not enough (the point would fall back to the capital), so the
    guard also wants an evidence-backed candidate point inside that country.
    """
    code, probability = belief.top(1)[0]
    if probability < threshold:
        return False
    strengths = {item.id: item.strength for item in evidence}
    return best_point(belief, code, strengths) is not None


def recursion_limit(settings: Settings) -> int:
    """Graph steps a turn may take: three nodes per tool call, plus the guard and commit."""
    return 3 * settings.max_steps + 8
