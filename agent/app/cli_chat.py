"""`geosleuth chat PHOTO`: a terminal conversation with the agent about one photo.

The agent's steps stream as they happen; the user asks questions ("why not Portugal?", "read the sign
on the left again") and the agent answers with its tools (why-nots from the evidence ledger).
Commands: /guess, /trace, /quit. Sessions are saved and resumed with `--session ID`.

The first analysis runs in a background thread while stdin is read: /guess shows the fused answer of
the evidence so far, /quit stops at once (the session resumes where it was cut), and anything else is
answered once the analysis is done. With the LLM planner the look-first answer is shown as soon as the
tools have run, before the model is asked (it loads meanwhile); the answer that follows adds what its
checked places found. Each answer's confidence comes with what it rests on (the ledger).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from geosleuth.app.cli_common import (
    ConfigOption,
    NoMetadataOption,
    fail,
    load_photo_or_fail,
    load_settings,
    open_traces,
    split_csv,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from geosleuth.core.state import Belief, Evidence, Guess
    from geosleuth.run.chat import ChatSession

HELP = "Ask about the photo, or: /guess (the answer), /trace (the evidence), /quit."


def _describe(guess: Guess | None) -> str:
    """One line naming the answer, its point and confidence."""
    if guess is None:
        return "no answer yet"
    where = ", ".join(p for p in (guess.place, guess.region, guess.country) if p) or "unknown"
    point = (
        f" at {guess.lat:.4f}, {guess.lon:.4f} (±{guess.radius_km:,.0f} km)" if guess.lat is not None else ""
    )
    return f"{where}{point}, {guess.confidence:.0%} sure of the country"


def _show_event(console: Console) -> Callable[[str, Any], None]:
    """Return a callback printing each graph event as a line."""
    from rich.markup import escape

    def show(kind: str, payload: Any) -> None:
        if kind == "decision" and payload["tools"]:
            console.print(f"[cyan]→ calling {', '.join(payload['tools'])}[/cyan]")
        elif kind == "evidence":
            style = "green" if payload.ok else "yellow"
            console.print(
                f"  [{style}]{payload.tool}[/{style}] ({payload.seconds:.1f} s): {escape(payload.summary)}"
            )
        elif kind == "guard":
            console.print(f"[dim]  stop: {escape(payload)}[/dim]")
        elif kind == "floor":
            console.print(f"answer so far (look-first): [bold]{escape(_describe(payload))}[/bold]")
            console.print("[dim]  the model now proposes places for the tools to check[/dim]")

    return show


def _rests_on(prior: Belief, evidence: list[Evidence], guess: Guess | None) -> str:
    """Return a dim line saying what the answer's confidence rests on (empty when there is no answer)."""
    from rich.markup import escape

    from geosleuth.run.ledger import rests_on

    if guess is None or guess.country_code is None:
        return ""
    line = rests_on(prior, evidence, guess.country_code)
    return f"[dim]  {escape(line)}[/dim]" if line else ""


def _so_far(prior: Belief, evidence: list[Evidence]) -> tuple[str, str]:
    """Return the fused answer so far and what it rests on, or "still looking (N tools run)"."""
    from geosleuth.run.fusion import commit, fusion_of

    count = f"{len(evidence)} tool{'' if len(evidence) == 1 else 's'} run"
    if not any(e.ok and e.strength > 0 and e.country_likelihoods for e in evidence):
        return f"still looking ({count})", ""
    guess = commit(fusion_of(prior, evidence))
    return f"so far ({count}): {_describe(guess)}", _rests_on(prior, evidence, guess)


class Analysis:
    """The first analysis (`ChatSession.start`) in a daemon thread, and the evidence it has found so far."""

    def __init__(self, show: Callable[[str, Any], None]) -> None:
        """Prepare; `show` prints each graph event (see `watch`)."""
        self.show = show
        self.evidence: list[Evidence] = []
        self.resumed = False
        self.error: BaseException | None = None
        self.done = threading.Event()

    def watch(self, kind: str, payload: Any) -> None:
        """Print a graph event and keep each Evidence of the analysis."""
        self.show(kind, payload)
        if kind == "evidence" and not self.done.is_set():
            self.evidence.append(payload)

    def start(self, talk: ChatSession) -> None:
        """Run `talk.start()` in a daemon thread (it never holds up the process's exit)."""
        self.evidence = list(talk.state.get("evidence", []))

        def run() -> None:
            try:
                self.resumed = talk.start()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.error = exc
            finally:
                self.done.set()

        threading.Thread(target=run, name="geosleuth-analysis", daemon=True).start()


def _stdin_lines() -> queue.Queue[str | None]:
    """Read stdin in a daemon thread; return the queue of its lines (stripped), None at the end."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        while line := sys.stdin.readline():
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=read, name="geosleuth-stdin", daemon=True).start()
    return lines


def _trace_table(session: ChatSession) -> Table:
    """Return a rich table of the session's evidence and usage."""
    from rich.markup import escape
    from rich.table import Table

    state = session.state
    table = Table(
        title=f"session {session.session_id}: {state.get('steps', 0)} tool calls, "
        f"{state.get('llm_calls', 0)} LLM calls, {state.get('tokens', 0):,} tokens",
        title_justify="left",
    )
    for column in ("#", "tool", "s", "finding"):
        table.add_column(column)
    for i, item in enumerate(state.get("evidence", []), 1):
        finding = (
            escape(item.summary)
            if item.error is None
            else f"[yellow]{item.error.type}[/yellow]: {escape(item.summary)}"
        )
        table.add_row(str(i), item.tool, f"{item.seconds:.1f}", finding)
    if session.trace_ids:
        table.caption = "traces: " + ", ".join(session.trace_ids)
    return table


QUIT = ("/quit", "/exit", "/q")


def _show_answer(console: Console, talk: ChatSession, label: str) -> None:
    """Print the session's answer after `label` and what its confidence rests on."""
    from rich.markup import escape

    console.print(f"{label}[bold]{escape(_describe(talk.guess))}[/bold]")
    if line := _rests_on(talk.prior, talk.state.get("evidence", []), talk.guess):
        console.print(line)


def _reply(console: Console, talk: ChatSession, line: str) -> bool:
    """Act on one line typed after the analysis; return False when it asks to quit."""
    from rich.markup import escape

    if line in QUIT:
        return False
    if line == "/guess":
        _show_answer(console, talk, "")
    elif line == "/trace":
        console.print(_trace_table(talk))
    elif line.startswith("/"):
        console.print(f"[yellow]unknown command {escape(line)}[/yellow]. {HELP}")
    else:
        before = talk.guess
        console.print(f"[bold magenta]geosleuth>[/bold magenta] {escape(talk.ask(line))}")
        if talk.guess != before:
            _show_answer(console, talk, "[dim]answer now:[/dim] ")
    return True


def _while_analysing(
    console: Console, talk: ChatSession, analysis: Analysis, lines: queue.Queue[str | None]
) -> list[str] | None:
    """Read lines while the analysis runs: answer /guess, stop on /quit or Ctrl-C (None), queue the rest."""
    from rich.markup import escape

    queued: list[str] = []
    try:
        while not analysis.done.is_set():
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:  # stdin ended: let the analysis finish, then end
                lines.put(None)
                while not analysis.done.wait(0.2):
                    pass
            elif line in QUIT:
                return None
            elif line == "/guess":
                answer, rests = _so_far(talk.prior, list(analysis.evidence))
                console.print(f"[bold]{escape(answer)}[/bold]")
                if rests:
                    console.print(rests)
            elif line:
                queued.append(line)
    except KeyboardInterrupt:
        return None
    return queued


def chat(
    photo: Annotated[Path, typer.Argument(help="The photo to talk about.")],
    session: Annotated[str | None, typer.Option(help="Resume this session id.")] = None,
    planner: Annotated[str | None, typer.Option(help="llm, policy or auto.")] = None,
    tools: Annotated[str | None, typer.Option(help="Comma-separated tools the agent may use.")] = None,
    sessions: Annotated[
        Path | None, typer.Option(help="SQLite file of saved sessions (default: <cache_dir>/chat.sqlite).")
    ] = None,
    no_metadata: NoMetadataOption = False,
    config: ConfigOption = None,
) -> None:
    """Talk with the agent about a photo: watch it work, ask why, make it look again."""
    from rich.console import Console
    from rich.markup import escape

    from geosleuth.run.chat import ChatError, ChatSession
    from geosleuth.run.locate import PlannerError

    settings = load_settings(
        config, use_metadata=False if no_metadata else None, planner=planner, tools=split_csv(tools)
    )
    loaded = load_photo_or_fail(photo, settings)
    console = Console(highlight=False)
    traces = open_traces(settings, console)
    analysis = Analysis(_show_event(console))
    try:
        talk = ChatSession(
            loaded,
            settings,
            session_id=session,
            traces=traces,
            on_event=analysis.watch,
            photo_path=str(photo),
            sessions_db=sessions,
        )
    except PlannerError as exc:
        fail(str(exc))
    console.print(
        f"[bold]geosleuth chat[/bold] · {photo.name} · {talk.planner.name} planner · "
        f"session {talk.session_id} (resume with --session {talk.session_id})"
    )
    analysis.start(talk)
    lines = _stdin_lines()
    queued = _while_analysing(console, talk, analysis, lines)
    if queued is None:
        console.print(
            f"[dim]stopped during the analysis; session {talk.session_id} saved "
            f"(resume with --session {talk.session_id})[/dim]"
        )
        sys.stdout.flush()
        os._exit(0)  # the analysis thread may be inside a tool or an LLM call: do not wait for it
    if isinstance(analysis.error, ChatError | PlannerError):
        fail(str(analysis.error))
    if analysis.error is not None:
        raise analysis.error
    _show_answer(console, talk, "resumed: " if analysis.resumed else "answer: ")
    console.print(f"[dim]{HELP}[/dim]")
    for early in queued:  # never a quit: that ends the analysis at once
        console.print(f"[dim]you (during the analysis)> {escape(early)}[/dim]")
        _reply(console, talk, early)
    while True:
        console.print("you> ", end="")
        line: str | None
        try:
            line = lines.get()
        except KeyboardInterrupt:
            line = None
        if line is None:
            console.print()
            break
        if line and not _reply(console, talk, line):
            break
    console.print(f"[dim]session {talk.session_id} saved[/dim]")


def register(app: typer.Typer) -> None:
    """Add the `chat` command to the CLI."""
    app.command("chat")(chat)
