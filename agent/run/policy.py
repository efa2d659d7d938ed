"""The policy planner: a fixed, deterministic sequence of tool calls fused by `geosleuth.run.fusion`.

It is the no-LLM baseline that the LLM agent is measured against, and it runs through the same
graph (`geosleuth.run.graph`) as the LLM planner, with the same tools, budgets and guard. Order:
`Settings.tools` (by default exif, only when metadata is allowed -> ocr -> text_clues -> gazetteer
-> osm). Each step sees what earlier steps found (OCR lines feed text_clues and the gazetteer; the
current Belief is the gazetteer's country hint; the best candidate point bounds the OSM search: see
`geosleuth.run.toolnode.tool_call`). A tool whose inputs are missing when its turn comes is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geosleuth.core.run_state import GeoState
from geosleuth.run.context import AgentContext
from geosleuth.run.fusion import commit, fusion_of
from geosleuth.run.toolnode import tool_call
from geosleuth.tools import registry


def next_tool(tools: tuple[str, ...], cursor: int, ready: Callable[[str], bool]) -> tuple[int, str] | None:
    """Return the policy's choice: the first tool at or after `cursor` in `tools` whose inputs are ready.

    Returns (its index, its name), or None when no tool is left. Tools passed over are not revisited.
    """
    for index in range(cursor, len(tools)):
        if ready(tools[index]):
            return index, tools[index]
    return None


def look_step(state: GeoState, ctx: AgentContext) -> dict[str, Any] | None:
    """Return the look-first pass's next step (the next ready tool of `Settings.tools`), None when done.

    Both planners run this pass, with no LLM call, so its fused answer is the floor of every run.
    """
    specs = registry()
    call = tool_call({}, state, photo=ctx.photo, settings=ctx.settings)
    choice = next_tool(ctx.settings.tools, state.get("cursor", 0), lambda t: specs[t].blocker(call) is None)
    if choice is None:
        return None
    index, tool = choice
    return {"pending": [{"tool": tool, "args": {}}], "cursor": index + 1}


class PolicyPlanner:
    """The deterministic planner: the next ready tool in `Settings.tools` order; commits by fusion."""

    name = "policy"
    model: str | None = None

    def decide(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Pick the next tool whose inputs are ready, or stop when none is left."""
        step = look_step(state, ctx)
        return step or {"pending": [], "stop": "policy: no tool left", "cursor": len(ctx.settings.tools)}

    def answer(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Commit to the fused Belief's answer."""
        return {"guess": commit(fusion_of(ctx.prior, state["evidence"])), "rationale": None}
