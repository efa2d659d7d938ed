"""One tool call inside a run: its inputs built from the state, its readiness, and the safety net.

A planner only names tools (and, for the LLM, may pick lines of text or a zoom box); `execute`
builds the `ToolCall` from the run's state, the photo as the tools may see it and the run's
settings, asks the tool's spec whether it can run, and runs it through the context's ToolRunner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from geosleuth.core.config import Settings
from geosleuth.core.photo import Photo
from geosleuth.core.run_state import GeoState
from geosleuth.core.state import Belief, Candidate, Evidence, ToolError
from geosleuth.run.context import ToolRunner
from geosleuth.tools import registry, text_readers
from geosleuth.tools.spec import ToolCall


def photo_lines(evidence: Sequence[Evidence]) -> list[str]:
    """Return the distinct lines of text read from the photo so far (by ocr and zoom), in reading order."""
    readers = text_readers()
    lines = [
        line["text"]
        for item in evidence
        if item.tool in readers and item.ok
        for line in item.observations.get("lines", [])
    ]
    return list(dict.fromkeys(lines))


def chosen_lines(lines: list[str], text: str | None) -> list[str]:
    """Return the photo lines a planner picked by quoting them in `text`; all lines when it picked none.

    Only text actually read from the photo reaches the tools, so a planner cannot invent evidence.
    """
    wanted = [
        part.strip().casefold() for part in (text or "").replace(";", "\n").splitlines() if part.strip()
    ]
    picked = [line for line in lines if any(w in line.casefold() or line.casefold() in w for w in wanted)]
    return picked or lines


def anchor(belief: Belief) -> Candidate | None:
    """Return the Belief's heaviest candidate point, None when there is none."""
    return max(belief.candidates, key=lambda c: c.weight) if belief.candidates else None


def tool_call(args: dict[str, Any], state: GeoState, *, photo: Photo, settings: Settings) -> ToolCall:
    """Build a tool call's inputs in this state: the photo, the chosen lines, the best point, the Belief."""
    evidence, belief = state["evidence"], state["belief"]
    return ToolCall(
        settings=settings,
        photo=photo,
        lines=tuple(chosen_lines(photo_lines(evidence), args.get("text"))),
        point=anchor(belief),
        candidates=tuple(belief.candidates),
        country_hint=belief.probabilities(),
        args=args,
        called=tuple(item.tool for item in evidence),
    )


def execute(
    name: str, args: dict[str, Any], state: GeoState, *, photo: Photo, settings: Settings,
    run_tool: ToolRunner,
) -> Evidence:
    """Run the registered tool `name` in this state; a missing input gives a `bad_input` Evidence."""
    spec = registry().get(name)
    if spec is None:
        known = ", ".join(registry())
        return Evidence.failure(name, "bad_input", f"unknown tool {name!r}; known: {known}", inputs=args)
    call = tool_call(args, state, photo=photo, settings=settings)
    why = spec.blocker(call)
    if why:
        return Evidence.failure(name, "bad_input", why, inputs=args)
    return run_tool(spec, call)


def safely(tool: str, call: Callable[[], Evidence]) -> Evidence:
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


def usable_tools(settings: Settings) -> list[str]:
    """Tools a planner may call in a run: `Settings.tools`, and the repeatable readers (zoom).

    Metadata tools count only when metadata is allowed; a repeatable tool joins once the tools it
    follows are in use.
    """
    specs = registry()
    names = [t for t in settings.tools if not specs[t].metadata or settings.use_metadata]
    for name, spec in specs.items():
        if spec.repeatable and name not in names and all(t in names for t in spec.after):
            names.append(name)
    return names


def ready_tools(state: GeoState, settings: Settings, photo: Photo) -> list[str]:
    """Usable tools that can run now and have not run yet this session.

    A repeatable tool (zoom) may run again: up to `max_zooms` times in a locate run, and on every
    chat question.
    """
    specs = registry()
    called = [e.tool for e in state["evidence"]]
    repeat_ok = bool(state.get("question"))
    call = tool_call({}, state, photo=photo, settings=settings)  # one state view for every readiness check

    def fresh(tool: str) -> bool:
        if specs[tool].repeatable:
            return repeat_ok or called.count(tool) < settings.max_zooms
        return tool not in called

    return [
        t
        for t in usable_tools(settings)
        if fresh(t) and specs[t].blocker(call) is None
    ]
