"""The one entry point of a run: pick the planner, run a turn of the agent graph, trace it, report it.

`locate_photo` locates one photo (`geosleuth locate`, the eval runner, the bench suites); a chat
session (`geosleuth.run.chat`) runs its turns through the same `run_turn` on a checkpointed graph.
The eval harness passes its caching ToolRunner as `run_tool`; nothing here imports the evals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from geosleuth.core.config import Settings
from geosleuth.core.photo import Photo
from geosleuth.core.run_state import GeoState, InputState, fresh_run
from geosleuth.core.state import Belief, Evidence, Guess
from geosleuth.run.budget import recursion_limit
from geosleuth.run.context import AgentContext, Planner, ToolRunner, Tracer, run_spec
from geosleuth.run.fusion import Fusion, fusion_of, prior_belief
from geosleuth.run.graph import graph
from geosleuth.run.llm import (
    LLMBackend,
    LLMError,
    describe_backend,
    embedded_backend,
    llm_available,
    make_chat_model,
    start_chat_model,
)
from geosleuth.run.llm_planner import LLMPlanner
from geosleuth.run.policy import PolicyPlanner
from geosleuth.run.traces import TraceStore
from geosleuth.tools import check_tool_name
from geosleuth.tools.hypothesis import TOOL as HYPOTHESIS_TOOL

ChatPair = tuple[Any, LLMBackend]
"""A ready (chat model, backend) pair from `geosleuth.run.llm.make_chat_model`."""


class PlannerError(RuntimeError):
    """The requested planner cannot run (e.g. `--planner llm` with no LLM available)."""


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
    rationale_flags: list[str] = field(default_factory=list)
    """Claims of the LLM's rationale the evidence did not back (dropped from `rationale`)."""

    @property
    def hypotheses(self) -> list[dict[str, Any]]:
        """The places the LLM proposed, each with whether the tools checked it and why (see `hypothesis`)."""
        return [
            {key: e.observations.get(key) for key in
             ("place", "region", "country_code", "reason", "checked", "grounded", "label", "point", "why")}
            for e in self.evidence if e.tool == HYPOTHESIS_TOOL
        ]


def check_tools(settings: Settings) -> None:
    """Raise ValueError (with a did-you-mean hint) when `settings.tools` names an unknown tool."""
    for name in settings.tools:
        check_tool_name(name)


AUTO_LLMS: dict[str, str] = {}
"""The LLMs `auto` may pick, by model name, each with the measurement that found it no worse than the
policy overall and on the text slice of im2gps3k-dev, and better on that slice (docs/agent.md).
None is yet, so `auto` runs the policy; `--planner llm` runs any LLM."""


def auto_choice(settings: Settings) -> tuple[str, str]:
    """Return the planner "auto" picks and why: the LLM only when it is measured no worse and answers."""
    try:
        model = describe_backend(settings).model  # the endpoint's first listed model when none is set
    except LLMError as exc:
        return "policy", f"no LLM available: {exc}"
    if model not in AUTO_LLMS:
        why = f"{model} is not measured no worse than the policy (docs/agent.md); --planner llm runs it"
        return "policy", why
    available = llm_available(settings)
    if available is not True:
        return "policy", f"no LLM available: {available}"
    return "llm", f"{model}: {AUTO_LLMS[model]}"


def resolve_planner(requested: str, settings: Settings) -> str:
    """Turn "auto" into the planner `auto_choice` picks; other names pass through."""
    return auto_choice(settings)[0] if requested == "auto" else requested


def make_planner(name: str, settings: Settings, chat: ChatPair | None = None) -> Planner:
    """Build the planner `name` ("policy" or "llm"); `chat` is a ready (chat model, backend) pair.

    Without `chat` and with no `llm_base_url`, the embedded model is started in the background once the
    look-first pass has read text (`LLMPlanner.while_starting`), so it loads while the pass's other
    tools run, and a photo with no text never loads it; a model that then fails to start fails the
    planner's decisions, and the run keeps its look-first answer.

    Raises:
        PlannerError: "llm" was asked for and no LLM can be built.
    """
    if name == "policy":
        return PolicyPlanner()
    if chat is None:
        available = llm_available(settings)
        if available is not True:
            raise PlannerError(f"no LLM available: {available}")
        if not settings.llm_base_url:  # the embedded model starts once the look-first pass reads text
            return LLMPlanner.while_starting(partial(start_chat_model, settings), embedded_backend(settings),
                                             settings)
        try:
            chat = make_chat_model(settings)
        except RuntimeError as exc:  # geosleuth.run.llm.LLMError: the endpoint or model cannot be used
            raise PlannerError(f"no LLM available: {exc}") from exc
    return LLMPlanner.from_backend(chat[0], chat[1], settings)


@dataclass
class Turn:
    """Everything one turn of the graph needs besides its input state."""

    photo: Photo
    """The loaded photo; tools see it without metadata when `settings.use_metadata` is False."""
    settings: Settings
    planner: Planner
    prior: Belief
    kind: str = "locate"
    """The trace's kind of run: "locate", "eval" or "chat"."""
    traces: TraceStore | None = None
    photo_path: str | None = None
    truth: dict[str, Any] | None = None
    """{"lat", "lon", "country"}, written to the trace only; it never reaches tools or the LLM."""
    eval_run: str | None = None
    run_tool: ToolRunner = run_spec
    on_event: Callable[[str, Any], None] | None = None
    trace_config: Mapping[str, Any] = field(default_factory=dict)
    """Extra keys for the trace header's config (a chat session's id)."""


def run_turn(
    turn: Turn, update: InputState, *, compiled: Any = graph, config: Mapping[str, Any] | None = None,
    question: str | None = None, before: GeoState | None = None,
) -> tuple[GeoState, str | None, float]:
    """Run one turn of `compiled` (the agent graph) from `update`, traced; return (state, trace id, s).

    `config` is LangGraph's run config (a chat session's thread); `before` is the state before the
    turn (chat), so the trace counts only this turn's calls; `question` is the user's message.
    """
    start = time.perf_counter()
    before = before or {}
    seen = turn.photo if turn.settings.use_metadata else turn.photo.without_metadata()
    tracer = Tracer(turn.traces)
    if turn.traces is not None:
        tracer.run_id = turn.traces.start_run(
            kind=turn.kind,
            planner=turn.planner.name,
            photo=turn.photo_path or str(turn.photo.path),
            photo_sha256=turn.photo.sha256,
            config={**turn.settings.model_dump(mode="json"), **turn.trace_config,
                    "settings_sources": turn.settings.sources()},
            model=turn.planner.model,
            eval_run=turn.eval_run,
            truth=turn.truth,
            prior=(before.get("belief") or turn.prior).probabilities(),
        )
        if question is not None:
            tracer.step(kind="user", name="user", input=question)
    ctx = AgentContext(
        photo=seen, settings=turn.settings, planner=turn.planner, prior=turn.prior, tracer=tracer,
        run_tool=turn.run_tool, on_event=turn.on_event,
    )
    run_config = {"recursion_limit": recursion_limit(turn.settings), **(config or {})}
    try:
        final: GeoState = compiled.invoke(update, context=ctx, config=run_config)
    except BaseException as exc:
        if turn.traces is not None and tracer.run_id:
            turn.traces.finish_run(
                tracer.run_id, guess=None, error=f"{type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - start,
            )
        raise
    seconds = time.perf_counter() - start
    if turn.traces is not None and tracer.run_id:
        guess = final.get("guess")
        turn.traces.finish_run(
            tracer.run_id,
            guess=guess.model_dump(mode="json") if guess else None,
            seconds=seconds,
            llm_calls=final.get("llm_calls", 0) - before.get("llm_calls", 0),
            tool_calls=final.get("steps", 0) - before.get("steps", 0),
            tokens=final.get("tokens", 0) - before.get("tokens", 0),
        )
    return final, tracer.run_id, seconds


def locate_photo(
    photo: Photo,
    settings: Settings,
    *,
    planner: str | None = None,
    traces: TraceStore | None = None,
    truth: dict[str, Any] | None = None,
    eval_run: str | None = None,
    on_evidence: Callable[[Evidence], None] | None = None,
    photo_path: str | None = None,
    chat: ChatPair | None = None,
    on_event: Callable[[str, Any], None] | None = None,
    run_tool: ToolRunner = run_spec,
) -> LocateResult:
    """Locate one photo with a planner through the agent graph, tracing the run when `traces` is given.

    Args:
        photo: The loaded photo. Tools see `photo.without_metadata()` when `settings.use_metadata` is False.
        settings: The run's settings (tools, budgets, LLM).
        planner: "policy", "llm" or "auto" (LLM when one is available); None means `settings.planner`.
        traces: Where to record the run (header, each LLM and tool step, the commit).
        truth: {"lat", "lon", "country"}, written to the trace only; it never reaches tools or the LLM.
        eval_run: Name of the eval run this photo belongs to (trace header).
        on_evidence: Called after each tool call, for live display.
        photo_path: The photo's path as the caller names it, for the trace header.
        chat: A ready (chat model, backend) pair for the LLM planner (default: `make_chat_model`).
        on_event: Called with each graph event (see `geosleuth.run.context.AgentContext.on_event`).
        run_tool: Runs each ready tool call (the eval harness passes its cache).

    Raises:
        PlannerError: the LLM planner was asked for and no LLM is available.
        ValueError: `settings.tools` names an unknown tool.
    """
    check_tools(settings)
    chosen = make_planner(resolve_planner(planner or settings.planner, settings), settings, chat)
    prior = prior_belief(settings.prior)

    def event(kind: str, payload: Any) -> None:
        if kind == "evidence" and on_evidence is not None:
            on_evidence(payload)
        if on_event is not None:
            on_event(kind, payload)

    turn = Turn(
        photo=photo, settings=settings, planner=chosen, prior=prior, kind="eval" if eval_run else "locate",
        traces=traces, photo_path=photo_path, truth=truth, eval_run=eval_run, run_tool=run_tool,
        on_event=event,
    )
    final, trace_id, seconds = run_turn(turn, fresh_run(prior))
    guess = final.get("guess")
    if guess is None:
        raise RuntimeError("the agent graph ended without a committed answer")
    return LocateResult(
        guess=guess,
        fusion=fusion_of(prior, final["evidence"]),
        seconds=seconds,
        planner=chosen.name,
        trace_id=trace_id,
        llm_calls=final.get("llm_calls", 0),
        tool_calls=final.get("steps", 0),
        tokens=final.get("tokens", 0),
        evidence=list(final["evidence"]),
        rationale=final.get("rationale"),
        rationale_flags=list(final.get("rationale_flags") or []),
    )
