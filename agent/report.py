"""How a `locate` result is shown: one JSON object, or a rich panel for the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.policy import LocateResult


def _country_name(code: str) -> str:
    from agent.countries import get_country

    return get_country(code).name


def locate_json(result: LocateResult) -> dict[str, Any]:
    """Return the `--json` object: guess, top countries, evidence, planner, seconds."""
    return {
        "guess": result.guess.model_dump(),
        "top_countries": [
            {"country_code": code, "country": _country_name(code), "probability": round(p, 6)}
            for code, p in result.fusion.belief.top(5)
        ],
        "evidence": [step.evidence.model_dump(mode="json") for step in result.fusion.steps],
        "planner": result.planner,
        "seconds": round(result.seconds, 3),
    }


def locate_panel(result: LocateResult, photo: Path) -> Any:
    """Return a rich renderable: the answer, the top-5 countries, the evidence that moved it, timing."""
    from rich.console import Group
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
        status = ev.summary if ev.ok else f"[yellow]{ev.error.type}[/yellow]: {ev.summary}"  # type: ignore[union-attr]
        evidence.add_row(ev.tool, f"{delta:+.1%}", f"{ev.seconds:.1f}", status)

    body = Group(head, "", countries, "", evidence)
    subtitle = f"{result.planner} planner · {result.seconds:.1f} s"
    return Panel(body, title=f"geosleuth · {photo.name}", subtitle=subtitle)
