"""A chat session about one photo: the agent locates it, then answers the user's questions with its tools.

Each user message is one turn of the agent graph (`geosleuth.run.graph`) on the session's thread; LangGraph's
SQLite checkpointer keeps the state (evidence, Belief, answer, conversation) in
`<cache_dir>/chat.sqlite`, so a session can be resumed with its id. Every turn is also written to the
trace store as a run of kind "chat" (the user's message first). "Why not X?" and "what would change
your mind?" are answered from the evidence ledger (`geosleuth.run.ledger`) without the LLM or any tool,
so they work with the policy planner too; other questions need the LLM.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from langchain_core.messages import AIMessage, HumanMessage

from geosleuth.core.config import Settings
from geosleuth.core.photo import Photo
from geosleuth.core.run_state import GeoState, InputState, fresh_run, next_turn
from geosleuth.core.state import Guess
from geosleuth.run.budget import recursion_limit
from geosleuth.run.fusion import fusion_of, prior_belief
from geosleuth.run.graph import build_graph
from geosleuth.run.ledger import QuestionKind, parse_question, resolve_country, what_would_change, why_not
from geosleuth.run.locate import ChatPair, Turn, make_planner, resolve_planner, run_turn
from geosleuth.run.traces import TraceStore

STATE_TYPES = [
    ("geosleuth.core.state", name) for name in ("Evidence", "Belief", "Guess", "Candidate", "ToolError")
]
"""Project types the checkpointer may restore from a saved session."""


class ChatError(RuntimeError):
    """A session cannot be started or resumed (e.g. its id belongs to another photo)."""


def checkpointer(path: Path) -> Any:
    """Return a LangGraph SqliteSaver on `path` that may restore the agent's state types."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    return SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES))


class ChatSession:
    """One photo, one planner, one checkpointed thread; `start` locates, `ask` answers a question."""

    def __init__(
        self,
        photo: Photo,
        settings: Settings,
        *,
        session_id: str | None = None,
        traces: TraceStore | None = None,
        planner: str | None = None,
        chat: ChatPair | None = None,
        on_event: Callable[[str, Any], None] | None = None,
        photo_path: str | None = None,
        sessions_db: Path | None = None,
    ) -> None:
        """Prepare a session; nothing runs until `start`.

        Args:
            photo: The photo talked about.
            settings: Run settings.
            session_id: Resume this session (a new id is made when None).
            traces: Where each turn is recorded.
            planner: "llm", "policy" or "auto" (None: settings.planner).
            chat: A ready (chat model, backend) pair for the LLM planner.
            on_event: Called with each graph event, for live display.
            photo_path: The photo's path as the user gave it, for traces.
            sessions_db: The checkpoint file (default `<cache_dir>/chat.sqlite`).
        """
        self.photo, self.settings, self.traces = photo, settings, traces
        self.photo_path = photo_path or str(photo.path)
        self.session_id = session_id or uuid.uuid4().hex[:10]
        self.planner = make_planner(resolve_planner(planner or settings.planner, settings), settings, chat)
        self.prior = prior_belief(settings.prior)
        self.on_event = on_event
        self.graph = build_graph(checkpointer(sessions_db or Path(settings.cache_dir) / "chat.sqlite"))
        self.trace_ids: list[str] = []

    @property
    def _config(self) -> dict[str, Any]:
        return {
            "configurable": {"thread_id": self.session_id},
            "recursion_limit": recursion_limit(self.settings),
        }

    @property
    def state(self) -> GeoState:
        """The session's saved state (empty before the first turn)."""
        state: GeoState = self.graph.get_state(self._config).values
        return state

    @property
    def can_answer(self) -> bool:
        """Whether questions can be answered (they need the LLM planner)."""
        return self.planner.name == "llm"

    def start(self) -> bool:
        """Locate the photo, or pick up the saved session; return True when it was resumed.

        A saved session whose first analysis was cut short (the user quit while it ran) finishes it,
        keeping the evidence already in, with its time budget counted from now.

        Raises:
            ChatError: the session id belongs to a session about another photo.
        """
        saved = self.state
        if saved:
            if saved.get("photo_sha256") not in (None, self.photo.sha256):
                raise ChatError(f"session {self.session_id} is about another photo")
            if saved.get("guess") is None:
                self._finish_cut_short()
            return True
        self._turn({**fresh_run(self.prior), "photo_sha256": self.photo.sha256}, None)
        return False

    def _finish_cut_short(self) -> None:
        """Run the rest of an interrupted first analysis from its last checkpoint, timed from now."""
        self.graph.update_state(self._config, {"base": {"steps": 0, "tokens": 0, "started": time.time()}})
        self._turn(cast(InputState, None), None)  # None: LangGraph resumes the pending nodes

    def ask(self, question: str) -> str:
        """Answer a question and return the reply: from the ledger for a why-not, else with the agent."""
        parsed = parse_question(question)
        if parsed is not None:
            return self._from_ledger(question, *parsed)
        if not self.can_answer:
            return "Questions need an LLM; this session runs the policy planner (try /guess or /trace)."
        final = self._turn(next_turn(self.state, question), question)
        return final.get("rationale") or "I have nothing to add."

    def _from_ledger(self, question: str, kind: QuestionKind, asked: str | None) -> str:
        """Answer a why-not or change-your-mind question from the ledger; record it like a turn."""
        start = time.perf_counter()
        evidence = self.state.get("evidence", [])
        guess = self.guess
        answer = (
            guess.country_code if guess and guess.country_code
            else fusion_of(self.prior, evidence).belief.top(1)[0][0]
        )
        if kind == "change_mind":
            reply = what_would_change(self.prior, evidence, answer)
        elif asked is not None and (code := resolve_country(asked)) is not None:
            reply = why_not(self.prior, evidence, answer, code)
        else:
            reply = f"{asked} is not a known country; ask about a country by name or ISO code."
        self._record(question, reply, time.perf_counter() - start)
        self.graph.update_state(
            self._config, {"messages": [HumanMessage(question), AIMessage(reply)]}, as_node="commit"
        )
        return reply

    def _record(self, question: str, reply: str, seconds: float) -> None:
        """Trace a ledger answer as a chat run: the user's message, then a "ledger" commit step."""
        if self.traces is None:
            return
        belief = (self.state.get("belief") or self.prior).probabilities()
        guess = self.guess
        run_id = self.traces.start_run(
            kind="chat", planner=self.planner.name, photo=self.photo_path, photo_sha256=self.photo.sha256,
            config={**self.settings.model_dump(mode="json"), "session": self.session_id,
                    "settings_sources": self.settings.sources()},
            model=self.planner.model, prior=belief,
        )
        self.traces.add_step(run_id, kind="user", name="user", input=question)
        self.traces.add_step(
            run_id, kind="commit", name="ledger", belief=belief,
            output={"guess": guess.model_dump(mode="json") if guess else None, "rationale": reply},
        )
        self.traces.finish_run(run_id, guess=guess, seconds=seconds)
        self.trace_ids.append(run_id)

    @property
    def guess(self) -> Guess | None:
        """The latest committed answer."""
        return self.state.get("guess")

    def _turn(self, update: InputState, question: str | None) -> GeoState:
        """Run one turn of the graph on the session's thread, traced as one run of kind "chat"."""
        turn = Turn(
            photo=self.photo, settings=self.settings, planner=self.planner, prior=self.prior, kind="chat",
            traces=self.traces, photo_path=self.photo_path, on_event=self.on_event,
            trace_config={"session": self.session_id},
        )
        final, trace_id, _ = run_turn(
            turn, update, compiled=self.graph, config=self._config, question=question, before=self.state
        )
        if trace_id:
            self.trace_ids.append(trace_id)
        return final
