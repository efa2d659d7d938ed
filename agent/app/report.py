"""How a `locate` result is shown: one JSON object, or a rich panel for the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geosleuth.run.locate import LocateResult


def _country_name(code: str) -> str:
    from geosleuth.core.countries import get_country

    return get_country(code).name


def locate_json(result: LocateResult) -> dict[str, Any]:
    """Return the `--json` object: the guess, top countries, evidence, planner and rationale, and more.

    Also: the rationale's claims the evidence did not back, the places the LLM proposed and how they
    were checked, LLM calls, tool calls, tokens and the trace id.
    """
    return {
        "guess": result.guess.model_dump(),
        "top_countries": [
            {"country_code": code, "country": _country_name(code), "probability": round(p, 6)}
            for code, p in result.fusion.belief.top(5)
        ],
        "evidence": [step.evidence.model_dump(mode="json") for step in result.fusion.steps],
        "planner": result.planner,
        "rationale": result.rationale,
        "rationale_flags": result.rationale_flags,
        "hypotheses": result.hypotheses,
        "seconds": round(result.seconds, 3),
        "llm_calls": result.llm_calls,
        "tool_calls": result.tool_calls,
        "tokens": result.tokens,
        "trace_id": result.trace_id,
    }


def locate_panel(result: LocateResult, photo: Path) -> Any:
    """Return a rich renderable: the answer, the top-5 countries, the evidence that moved it, timing."""
    from rich.console import Group
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    guess = result.guess
    where = ", ".join(part for part in (guess.place, guess.region, guess.country) if part) or "unknown"
    head = f"[bold]{where}[/bold]"
    if guess.lat is not None and guess.lon is not None:
        head += f"\n{guess.lat:.4f}, {guess.lon:.4f}  (±{guess.radius_km:,.0f} km)"
    head += f"\nconfidence in the country: {guess.confidence:.0%}"

    countries = Table(title="Top countries", title_justify="left", box=None, pad_edge=False)
    countries.add_column("country")
    countries.add_column("p", justify="right")
    for code, p in result.fusion.belief.top(5):
        countries.add_row(f"{_country_name(code)} ({code})", f"{p:.1%}")

    evidence = Table(title="Evidence", title_justify="left", box=None, pad_edge=False)
    evidence.add_column("tool")
    evidence.add_column(f"Δp({guess.country_code})", justify="right")
    evidence.add_column("s", justify="right")
    evidence.add_column("finding")
    for ev, delta in result.fusion.influence(guess.country_code) if guess.country_code else []:
        status = (
            escape(ev.summary)
            if ev.error is None
            else f"[yellow]{ev.error.type}[/yellow]: {escape(ev.summary)}"
        )
        evidence.add_row(ev.tool, f"{delta:+.1%}", f"{ev.seconds:.1f}", status)

    parts: list[Any] = [head, "", countries, "", evidence]
    if result.rationale:
        parts += ["", f"[bold]why:[/bold] {escape(result.rationale)}"]
    for flag in result.rationale_flags:
        parts.append(f"[yellow]dropped from the rationale:[/yellow] {escape(flag)}")
    if result.trace_id:
        parts += ["", f"[dim]trace {result.trace_id} (geosleuth trace show {result.trace_id[:8]})[/dim]"]
    body = Group(*parts)
    usage = f" · {result.llm_calls} LLM calls, {result.tokens:,} tokens" if result.planner == "llm" else ""
    subtitle = f"{result.planner} planner{usage} · {result.tool_calls} tool calls · {result.seconds:.1f} s"
    return Panel(body, title=f"geosleuth · {photo.name}", subtitle=subtitle)
