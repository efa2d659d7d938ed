"""The agent as a LangGraph `StateGraph`: guard -> reason -> tools -> guard ... -> commit.

One graph serves both planners. The *reason* node asks the run's planner (the fixed policy or an
LLM, `geosleuth.run.planners`) for the next tool calls or to commit; the *tools* node runs them with the
safety net of `geosleuth.run.policy` and folds each Evidence into the Belief; the *guard* ends a turn on a
budget (steps, seconds, tokens) or once the Belief is confident; the *commit* node asks the planner
for the answer. What a run needs but must not be checkpointed (the photo, the planner, the trace
writer, callbacks) travels in the runtime context, `AgentContext`; the state holds only data, so
chat sessions can be saved by LangGraph's SQLite checkpointer and resumed.

A turn is one `invoke`: `geosleuth.run.planners.run_planner` runs one (locate); `geosleuth chat` runs one
per user message on the same thread, with `question` set and the budgets counted from `base`.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime

from geosleuth.core.config import Settings
from geosleuth.run.fusion import Fusion, best_point
from geosleuth.core.photo import Photo
from geosleuth.run.policy import _safely
from geosleuth.core.state import Belief, Evidence, Guess

if TYPE_CHECKING:
    from geosleuth.run.traces import TraceStore


class InputState(TypedDict, total=False):
    """What a caller sends to start a turn."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation with the user (chat questions, the agent's answers); appended, or updated by id."""
    question: str | None
    """The user's message this turn (chat); None for a plain locate run. Replaced each turn."""
    base: dict[str, float]
    """Counters at the start of this turn ({"steps", "tokens", "started"}): budgets count from them."""


class GeoState(InputState, total=False):
    """The whole state of a run."""

    photo_sha256: str | None
    """The photo this run (or chat session) is about; set once."""
    evidence: Annotated[list[Evidence], operator.add]
    """Every tool observation, in order; each turn appends."""
    belief: Belief
    """The current Belief: the prior with every Evidence folded in; replaced by the tools node."""
    steps: int
    """Tool calls made so far in the session (refused ones included); the tools node adds its calls."""
    llm_calls: int
    """LLM calls so far; the reason and commit nodes add theirs."""
    tokens: int
    """LLM tokens (prompt + completion) so far."""
    cursor: int
    """The policy planner's position in `Settings.tools`."""
    pending: list[dict[str, Any]]
    """Calls chosen by the reason node ({"tool", "args"}, and "refusal" for one that must not run),
    consumed by the tools node."""
    stop: str | None
    """Why this turn stopped calling tools (a budget, confidence, or the planner's choice)."""
    guess: Guess | None
    """The committed answer of the last turn."""
    rationale: str | None
    """The planner's explanation of the committed answer (the reply to the user in chat)."""


class Planner(Protocol):
    """Chooses tools and commits; `geosleuth.run.planners.PolicyPlanner` and `LLMPlanner` implement it."""

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
    call_tool: Callable[[str, dict[str, Any], GeoState], Evidence]
    """Runs one registered tool in the context of the state (see `geosleuth.run.planners.call_tool`)."""
    tracer: Tracer
    on_event: Callable[[str, Any], None] | None = None
    """Called with ("decision", dict), ("evidence", Evidence), ("guard", str), ("commit", dict)."""

    def emit(self, kind: str, payload: Any) -> None:
        """Report progress to the caller (live display), if it asked for it."""
        if self.on_event is not None:
            self.on_event(kind, payload)


def fusion_of(prior: Belief, evidence: list[Evidence]) -> Fusion:
    """Rebuild the Fusion (prior plus one step per Evidence) of a run's evidence."""
    fusion = Fusion(prior=prior)
    for item in evidence:
        fusion.add(item)
    return fusion


def fresh_run(prior: Belief) -> GeoState:
    """The input of a new run (one locate, or a chat session's first turn) starting from `prior`."""
    return GeoState(
        messages=[],
        question=None,
        evidence=[],
        belief=prior,
        steps=0,
        llm_calls=0,
        tokens=0,
        cursor=0,
        pending=[],
        stop=None,
        guess=None,
        rationale=None,
        base={"steps": 0, "tokens": 0, "started": time.time()},
    )


def next_turn(state: GeoState, question: str) -> GeoState:
    """The input of a chat turn after `state`: the user's question; budgets restart from here."""
    from langchain_core.messages import HumanMessage

    base = {"steps": state.get("steps", 0), "tokens": state.get("tokens", 0), "started": time.time()}
    return GeoState(messages=[HumanMessage(question)], question=question, base=base, pending=[], stop=None)


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


LOW_LOCALIZABILITY = 0.05
"""Below this localizability (tools/localizability.py), with only zoom left to try, the guard commits."""


def nothing_to_go_on(state: GeoState, settings: Settings) -> str | None:
    """Why to stop when the photo has shown nothing locatable and only re-reading crops is left, else None.

    This is how localizability saves the LLM's zoom rounds on photos with no text: after the readers
    and any vision tools have run, a score under LOW_LOCALIZABILITY means zooming is unlikely to help.
    """
    from geosleuth.run.planners import ready_tools
    from geosleuth.tools.localizability import localizability

    if set(ready_tools(state, settings)) - {"zoom"}:
        return None
    score = localizability(state["evidence"], state["belief"])
    if score >= LOW_LOCALIZABILITY:
        return None
    return f"nothing to go on (localizability {score:.2f} < {LOW_LOCALIZABILITY})"


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


# nodes ---------------------------------------------------------------------------------------------


def guard(state: GeoState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Stop the turn on a spent budget, on a confident Belief, or when nothing is locatable.

    The last two apply outside chat questions; see `is_confident` and `nothing_to_go_on`.
    """
    ctx = runtime.context
    why = budget_spent(state, ctx.settings)
    if why is None and not state.get("question") and state["evidence"]:
        if is_confident(state["belief"], state["evidence"], ctx.settings.stop_confidence):
            why = f"confident (top country >= {ctx.settings.stop_confidence:g})"
        else:
            why = nothing_to_go_on(state, ctx.settings)
    if why is not None:
        ctx.tracer.step(
            kind="guard", name="stop", output={"why": why}, belief=state["belief"].probabilities()
        )
        ctx.emit("guard", why)
    return {"stop": why}


def reason(state: GeoState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Ask the planner for the next tool calls (or for none, to commit)."""
    ctx = runtime.context
    update = ctx.planner.decide(state, ctx)
    ctx.emit("decision", {"tools": [c["tool"] for c in update.get("pending", [])], "why": update.get("stop")})
    return update


def tools(state: GeoState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Run the pending calls, within the step budget; fold each Evidence into the Belief.

    Every call the planner makes counts against the budget, refused ones too, so a planner that keeps
    asking for calls that cannot run still reaches the end of its budget.
    """
    ctx = runtime.context
    left = steps_left(state, ctx.settings)
    belief, new, ran = state["belief"], [], 0
    for call in state.get("pending", []):
        name, args = call["tool"], call.get("args", {})
        if ran >= left:
            evidence = Evidence.failure(
                name,
                "bad_input",
                f"not run: over the step budget (max_steps={ctx.settings.max_steps})",
                inputs=args,
            )
        elif call.get("refusal"):  # a planner's call that cannot run: answered, not dropped
            evidence = Evidence.failure(name, "bad_input", call["refusal"], inputs=args)
            ran += 1
        else:
            seen = GeoState(**{**state, "evidence": [*state["evidence"], *new], "belief": belief})
            evidence = _safely(name, lambda n=name, a=args, s=seen: ctx.call_tool(n, a, s))
            ran += 1
        belief = Fusion(prior=belief).add(evidence)
        new.append(evidence)
        ctx.tracer.step(
            kind="tool",
            name=name,
            input=args or evidence.inputs,
            output=evidence,
            error=None if evidence.error is None else f"{evidence.error.type}: {evidence.error.message}",
            seconds=evidence.seconds,
            belief=belief.probabilities(),
        )
        ctx.emit("evidence", evidence)
    return {"evidence": new, "belief": belief, "steps": state.get("steps", 0) + ran, "pending": []}


def commit(state: GeoState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Ask the planner for the answer; in chat, its rationale is the reply to the user."""
    ctx = runtime.context
    update = ctx.planner.answer(state, ctx)
    guess: Guess = update["guess"]
    ctx.tracer.step(
        kind="commit",
        name=ctx.planner.name,
        output={
            "guess": guess.model_dump(mode="json"),
            "rationale": update.get("rationale"),
        },
        belief=state["belief"].probabilities(),
    )
    ctx.emit("commit", {"guess": guess, "rationale": update.get("rationale")})
    if state.get("question"):
        update["messages"] = [AIMessage(update.get("rationale") or "I have nothing to add.")]
    return update


# routing -------------------------------------------------------------------------------------------


def after_guard(state: GeoState) -> Literal["reason", "commit"]:
    """Commit when the guard stopped the turn, else let the planner reason."""
    return "commit" if state.get("stop") else "reason"


def after_reason(state: GeoState) -> Literal["tools", "commit"]:
    """Run tools when the planner chose some, else commit."""
    return "tools" if state.get("pending") else "commit"


def build_graph(checkpointer: Any = None) -> Any:
    """Compile the agent graph, optionally with a checkpointer (chat sessions)."""
    builder = StateGraph(GeoState, context_schema=AgentContext)
    builder.add_node("guard", guard)
    builder.add_node("reason", reason)
    builder.add_node("tools", tools)
    builder.add_node("commit", commit)
    builder.add_edge(START, "guard")
    builder.add_conditional_edges("guard", after_guard)
    builder.add_conditional_edges("reason", after_reason)
    builder.add_edge("tools", "guard")
    builder.add_edge("commit", END)
    return builder.compile(checkpointer=checkpointer)


def recursion_limit(settings: Settings) -> int:
    """Graph steps a turn may take: three nodes per tool call, plus the guard and commit."""
    return 3 * settings.max_steps + 8


graph = build_graph()
"""The compiled agent graph (no checkpointer), used by `geosleuth.run.planners.run_planner`."""
