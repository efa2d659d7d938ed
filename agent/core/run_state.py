"""The state of one agent run: what LangGraph checkpoints between the nodes of the graph.

It holds only data (messages, Evidence, Belief, counters), so a chat session can be saved by
LangGraph's SQLite checkpointer and resumed; what a run needs but must not checkpoint travels in
the run's context (`geosleuth.run.context.AgentContext`). Kept apart from `geosleuth.core.state` so
that the tools, which need only the vocabulary, do not import LangGraph.
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph.message import add_messages

from geosleuth.core.state import Belief, Evidence, Guess


class InputState(TypedDict, total=False):
    """What a caller sends to start a turn."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation with the user (chat questions, the agent's answers); appended, or updated by id."""
    question: str | None
    """The user's message this turn (chat); None for a plain locate run. Replaced each turn."""
    base: dict[str, float]
    """Counters at the start of this turn ({"steps", "tokens", "started"}): budgets count from them."""
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
    rounds: int
    """LLM reasoning rounds this turn (hypotheses proposed, tools asked for); reset each turn."""
    more: bool
    """Whether the last reasoning round asked for tools, so another round may read what they found."""
    rationale: str | None
    """The LLM's explanation as it last gave it (checked against the evidence at commit); reset each turn."""


class GeoState(InputState, total=False):
    """The whole state of a run: what a turn's input may carry, and the committed answer."""

    guess: Guess | None
    """The committed answer of the last turn."""
    rationale_flags: list[str]
    """Claims of the LLM's rationale that the evidence does not back (dropped from the rationale)."""


def fresh_run(prior: Belief) -> InputState:
    """Return the input of a new run (one locate, or a chat session's first turn) starting from `prior`."""
    return InputState(
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
        rounds=0,
        more=False,
        rationale=None,
        base={"steps": 0, "tokens": 0, "started": time.time()},
    )


def next_turn(state: GeoState, question: str) -> InputState:
    """Return the input of a chat turn after `state`: the user's question; budgets restart from here."""
    base = {"steps": state.get("steps", 0), "tokens": state.get("tokens", 0), "started": time.time()}
    return InputState(
        messages=[HumanMessage(question)], question=question, base=base, pending=[], stop=None, rounds=0,
        more=False, rationale=None,
    )
