"""What the agent graph's nodes need besides the state: the run's context, planner and trace writer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from geosleuth.core.config import Settings
from geosleuth.core.photo import Photo
from geosleuth.core.run_state import GeoState
from geosleuth.core.state import Belief, Evidence
from geosleuth.tools.spec import ToolCall, ToolSpec

if TYPE_CHECKING:
    from geosleuth.run.traces import TraceStore

ToolRunner = Callable[[ToolSpec, ToolCall], Evidence]
"""Runs one ready tool call; the eval harness passes one that caches results by photo hash."""


def run_spec(spec: ToolSpec, call: ToolCall) -> Evidence:
    """Run a tool call directly (the default ToolRunner)."""
    return spec.run(call)


class Planner(Protocol):
    """Chooses tools and commits; `PolicyPlanner` and `LLMPlanner` implement it."""

    name: str
    model: str | None

    def decide(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Return a state update: `pending` calls to run, or none (with `stop`) to commit."""

    def answer(self, state: GeoState, ctx: AgentContext) -> dict[str, Any]:
        """Return a state update holding the committed `guess` and its `rationale`."""


@dataclass
class Tracer:
    """Writes a run's steps to a TraceStore; does nothing without one."""

    store: TraceStore | None = None
    run_id: str | None = None

    def step(self, **fields: Any) -> None:
        """Append one step (the arguments of `TraceStore.add_step`) to the run, if it is traced."""
        if self.store is not None and self.run_id is not None:
            self.store.add_step(self.run_id, **fields)


@dataclass
class AgentContext:
    """What the nodes need besides the state; never checkpointed."""

    photo: Photo
    """The photo as the tools may see it (without metadata when metadata is withheld)."""
    settings: Settings
    planner: Planner
    prior: Belief
    tracer: Tracer
    run_tool: ToolRunner = run_spec
    """Runs each ready tool call (the eval harness caches through it)."""
    on_event: Callable[[str, Any], None] | None = None
    """Called with ("decision", dict), ("evidence", Evidence), ("guard", str), ("floor", Guess): the
    look-first answer, just before the LLM planner's first call, and ("commit", dict)."""

    def emit(self, kind: str, payload: Any) -> None:
        """Report progress to the caller (live display), if it asked for it."""
        if self.on_event is not None:
            self.on_event(kind, payload)
