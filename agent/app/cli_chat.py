"""`geosleuth chat PHOTO`: a terminal conversation with the agent about one photo.

The agent's steps stream as they happen; the user asks questions ("why not Portugal?", "read the sign
on the left again") and the agent answers with its tools. Commands: /guess, /trace, /quit. Sessions
are saved and resumed with `--session ID`.
"""

from __future__ import annotations

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

    from geosleuth.core.state import Guess
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

    return show


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
    try:
        talk = ChatSession(
            loaded,
            settings,
            session_id=session,
            traces=traces,
            on_event=_show_event(console),
            photo_path=str(photo),
            sessions_db=sessions,
        )
        console.print(
            f"[bold]geosleuth chat[/bold] · {photo.name} · {talk.planner.name} planner · "
            f"session {talk.session_id} (resume with --session {talk.session_id})"
        )
        resumed = talk.start()
    except (ChatError, PlannerError) as exc:
        fail(str(exc))
    console.print(("resumed: " if resumed else "answer: ") + f"[bold]{escape(_describe(talk.guess))}[/bold]")
    console.print(f"[dim]{HELP}[/dim]")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            break
        if line == "/guess":
            console.print(f"[bold]{escape(_describe(talk.guess))}[/bold]")
        elif line == "/trace":
            console.print(_trace_table(talk))
        elif line.startswith("/"):
            console.print(f"[yellow]unknown command {escape(line)}[/yellow]. {HELP}")
        else:
            reply = talk.ask(line)
            console.print(f"[bold magenta]geosleuth>[/bold magenta] {escape(reply)}")
            console.print(f"[dim]answer: {escape(_describe(talk.guess))}[/dim]")
    console.print(f"[dim]session {talk.session_id} saved[/dim]")


def register(app: typer.Typer) -> None:
    """Add the `chat` command to the CLI."""
    app.command("chat")(chat)
