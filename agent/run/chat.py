"""A chat session about one photo: the agent locates it, then answers the user's questions with its tools.

Each user message is one turn of the agent graph (`geosleuth.run.graph`) on the session's thread; LangGraph's
SQLite checkpointer keeps the state (evidence, Belief, answer, conversation) in
`<cache_dir>/chat.sqlite`, so a session can be resumed with its id. Every turn is also written to the
trace store as a run of kind "chat" (the user's message first). Questions need an LLM; with the policy
planner the session can still show the answer and the evidence.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geosleuth.core.config import Settings
from geosleuth.core.photo import Photo
from geosleuth.core.run_state import GeoState, InputState, fresh_run, next_turn
from geosleuth.core.state import Guess
from geosleuth.run.budget import recursion_limit
from geosleuth.run.fusion import prior_belief
from geosleuth.run.graph import build_graph
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

        Raises:
            ChatError: the session id belongs to a session about another photo.
        """
        saved = self.state
        if saved:
            if saved.get("photo_sha256") not in (None, self.photo.sha256):
                raise ChatError(f"session {self.session_id} is about another photo")
            return True
        self._turn({**fresh_run(self.prior), "photo_sha256": self.photo.sha256}, None)
        return False

    def ask(self, question: str) -> str:
        """Answer a question with the agent (tools included); return the reply."""
        if not self.can_answer:
            return "Questions need an LLM; this session runs the policy planner (try /guess or /trace)."
        final = self._turn(next_turn(self.state, question), question)
        return final.get("rationale") or "I have nothing to add."

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
