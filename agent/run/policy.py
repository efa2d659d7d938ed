"""The policy planner: a fixed, deterministic sequence of tool calls fused by `geosleuth.run.fusion`.

It is the no-LLM baseline that the LLM agent is measured against, and it runs through the same
graph (`geosleuth.run.graph`) as the LLM planner, with the same tools, budgets and guard. Order:
exif (only when metadata is allowed) -> ocr -> text_clues -> gazetteer -> osm. Each step sees what
earlier steps found (OCR lines feed text_clues and the gazetteer; the current Belief is the
gazetteer's country hint; the best candidate point bounds the OSM search: see
`geosleuth.run.planners.call_tool`). A tool whose inputs are missing when its turn comes is skipped. Any
tool may be switched off through `Settings.tools`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from geosleuth.core.config import Settings
from geosleuth.run.fusion import Fusion
from geosleuth.core.photo import Photo
from geosleuth.core.state import Evidence, Guess, ToolError


@dataclass
class LocateResult:
    """What one `locate` run produced."""

    guess: Guess
    fusion: Fusion
    seconds: float
    planner: str = "policy"
    trace_id: str | None = None
    llm_calls: int = 0
    tool_calls: int = 0
    tokens: int = 0
    evidence: list[Evidence] = field(default_factory=list)
    rationale: str | None = None


def _safely(tool: str, call: Callable[[], Evidence]) -> Evidence:
    """Run one tool call; an unexpected exception becomes an `unknown` error Evidence, timed."""
    start = time.perf_counter()
    try:
        evidence = call()
    except Exception as exc:  # noqa: BLE001 - the safety net records every unexpected failure
        evidence = Evidence(
            tool=tool,
            summary=f"{type(exc).__name__}: {exc}",
            strength=0.0,
            error=ToolError(type="unknown", message=f"{type(exc).__name__}: {exc}"),
        )
    if not evidence.seconds:
        evidence = evidence.model_copy(update={"seconds": time.perf_counter() - start})
    return evidence


def next_tool(tools: tuple[str, ...], cursor: int, ready: Callable[[str], bool]) -> tuple[int, str] | None:
    """The policy's choice: the first tool at or after `cursor` in `tools` whose inputs are ready.

    Returns (its index, its name), or None when no tool is left. Tools passed over are not revisited.
    """
    for index in range(cursor, len(tools)):
        if ready(tools[index]):
            return index, tools[index]
    return None


def locate(
    photo: Photo,
    settings: Settings,
    on_evidence: Callable[[Evidence], None] | None = None,
) -> LocateResult:
    """Run the policy planner on a loaded photo and commit to a Guess.

    When `settings.use_metadata` is False the tools see `photo.without_metadata()`, so nothing from
    EXIF, XMP or comments can reach them. `on_evidence` is called after each tool, for live display.
    """
    from geosleuth.run.planners import run_planner

    return run_planner(photo, settings, planner="policy", on_evidence=on_evidence)
