"""The agent as a LangGraph `StateGraph`: guard -> reason -> tools -> guard ... -> commit (nodes and routing).

One graph serves both planners. The *reason* node asks the run's planner for the next tool calls or
to commit: the fixed policy walks `Settings.tools`; the LLM planner first walks the same look-first
pass, with no LLM call, then asks the model for places, which the `hypothesis` tool checks
(`geosleuth.run.llm_planner`); the *tools* node runs them through the safety net of
`geosleuth.run.toolnode` and folds each Evidence into the Belief; the *guard* ends a turn on a budget
(steps, seconds, tokens), once the Belief is confident, or when nothing is locatable
(`geosleuth.run.budget`); the *commit* node asks the planner for the answer. The state
(`geosleuth.core.run_state`) holds only data; the photo, planner, trace writer and callbacks travel in
the runtime context (`geosleuth.run.context.AgentContext`).

A turn is one `invoke`: `geosleuth.run.locate.run_turn` runs it for locate, eval and chat (one turn per
user message on the same thread, with `question` set and the budgets counted from `base`).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from geosleuth.core.run_state import GeoState, InputState
from geosleuth.core.state import Evidence, Guess
from geosleuth.run.budget import budget_spent, is_confident, nothing_to_go_on, steps_left
from geosleuth.run.context import AgentContext
from geosleuth.run.fusion import Fusion
from geosleuth.run.policy import PolicyPlanner
from geosleuth.run.toolnode import execute, safely

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
            why = nothing_to_go_on(state, ctx.settings, ctx.photo)
    if why is not None:
        ctx.tracer.step(
            kind="guard", name="stop", output={"why": why}, belief=state["belief"].probabilities()
        )
        ctx.emit("guard", why)
    return {"stop": why}


def reason(state: GeoState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Ask the planner for the next tool calls (or for none, to commit)."""
    ctx = runtime.context
    try:
        update = ctx.planner.decide(state, ctx)
    except Exception as exc:  # noqa: BLE001 - a failing planner ends the turn; the fused answer stands
        update = {"pending": [], "stop": f"planner failed: {type(exc).__name__}: {exc}"}
    ctx.emit("decision", {"tools": [c["tool"] for c in update.get("pending", [])], "why": update.get("stop")})
    return update


def tools(state: GeoState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Run the pending calls, within the step budget; fold each Evidence into the Belief.

    Every call the planner makes counts against the budget, refused ones too, so a planner that keeps
    asking for calls that cannot run still reaches the end of its budget.
    """
    ctx = runtime.context
    left = steps_left(state, ctx.settings)
    belief, ran = state["belief"], 0
    new: list[Evidence] = []
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
            evidence = safely(name, partial(
                execute, name, args, seen, photo=ctx.photo, settings=ctx.settings, run_tool=ctx.run_tool
            ))
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
    try:
        update = ctx.planner.answer(state, ctx)
    except Exception as exc:  # noqa: BLE001 - the floor: the policy's answer, the fused evidence so far
        why = f"fused evidence (the planner failed: {type(exc).__name__})"
        update = {**PolicyPlanner().answer(state, ctx), "rationale": why}
    guess: Guess = update["guess"]
    ctx.tracer.step(
        kind="commit",
        name=ctx.planner.name,
        output={
            "guess": guess.model_dump(mode="json"),
            "rationale": update.get("rationale"),
            "rationale_flags": update.get("rationale_flags", []),
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
    builder = StateGraph(GeoState, context_schema=AgentContext, input_schema=InputState)
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


graph = build_graph()
"""The compiled agent graph (no checkpointer), used by `geosleuth.run.locate.locate_photo`."""
