"""`geosleuth eval compare RUN_A RUN_B`: two eval runs side by side, with per-photo wins and losses.

Only photo ids that both runs have are compared; how many are not shared is said, never hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geosleuth.evals.metrics import METRICS, Scored, per_continent, summarize
from geosleuth.evals.report import METRIC_LABELS, format_km, format_metric, load_run

if TYPE_CHECKING:
    from rich.console import Console

TIE_KM = 1.0
"""Two errors closer than this are a tie (geocoders round; 1 km is below any threshold that matters)."""
SWINGS = 5
"""How many of the photos with the largest difference in error each side lists."""
CONTINENT_METRICS = {"country_accuracy": "country", "within_2500km": "≤2,500 km", "median_km_all": "median"}
"""The metrics the per-continent table shows for A and B, with their short column names."""


@dataclass(frozen=True)
class Tally:
    """Per-photo outcome counts between run A and run B."""

    a_better: int
    b_better: int
    ties: int


@dataclass(frozen=True)
class Comparison:
    """Two runs compared over the photo ids they share."""

    name_a: str
    name_b: str
    shared: int
    only_a: int
    only_b: int
    summary_a: dict[str, float | int]
    summary_b: dict[str, float | int]
    by_error: Tally
    by_country: Tally
    a_wins: list[tuple[str, float, float]]  # (id, error A, error B): where A was most better
    b_wins: list[tuple[str, float, float]]
    continents: dict[str, tuple[dict[str, float | int], dict[str, float | int]]]
    """Per continent of the truth (largest first): A's and B's summaries over the shared photos."""


def compare_runs(a: Path, b: Path) -> Comparison:
    """Compare two eval run folders over the photo ids both have.

    Raises:
        ValueError: a run folder is missing or corrupt, or the runs share no photo id.
    """
    run_a, run_b = load_run(Path(a)), load_run(Path(b))
    scores_a = {str(row["id"]): s for row, s in zip(run_a.rows, run_a.scored, strict=True)}
    scores_b = {str(row["id"]): s for row, s in zip(run_b.rows, run_b.scored, strict=True)}
    shared = [i for i in scores_a if i in scores_b]
    if not shared:
        raise ValueError(f"{run_a.name} and {run_b.name} share no photo id; nothing to compare")
    pairs = [(i, scores_a[i], scores_b[i]) for i in shared]
    gaps = sorted(((i, sa.error_km, sb.error_km) for i, sa, sb in pairs), key=_gap)
    return Comparison(
        name_a=run_a.name,
        name_b=run_b.name,
        shared=len(shared),
        only_a=len(scores_a) - len(shared),
        only_b=len(scores_b) - len(shared),
        summary_a=summarize(sa for _, sa, _ in pairs),
        summary_b=summarize(sb for _, _, sb in pairs),
        by_error=_tally([_error_outcome(sa, sb) for _, sa, sb in pairs]),
        by_country=_tally([int(sa.country_correct) - int(sb.country_correct) for _, sa, sb in pairs]),
        a_wins=[g for g in gaps if _gap(g) < -TIE_KM][:SWINGS],
        b_wins=[g for g in reversed(gaps) if _gap(g) > TIE_KM][:SWINGS],
        continents={
            name: (summary, per_continent(sb for _, _, sb in pairs)[name])
            for name, summary in per_continent(sa for _, sa, _ in pairs).items()
        },
    )


def _error_outcome(a: Scored, b: Scored) -> int:
    """Return 1 when A's error is smaller (by more than TIE_KM), -1 when B's is, 0 for a tie."""
    ea, eb = a.error_km, b.error_km
    if ea == eb or abs(ea - eb) <= TIE_KM:
        return 0
    return 1 if ea < eb else -1


def _gap(item: tuple[str, float, float]) -> float:
    """Return error A - error B (negative: A better), with misses beyond any real error."""
    _, ea, eb = item
    if math.isinf(ea) and math.isinf(eb):
        return 0.0
    return max(min(ea - eb, 1e9), -1e9)


def _tally(outcomes: list[int]) -> Tally:
    return Tally(outcomes.count(1), outcomes.count(-1), outcomes.count(0))


def print_comparison(c: Comparison, console: Console) -> None:
    """Print the side-by-side metric table with deltas and the per-photo wins and losses.

    Args:
        c: the comparison.
        console: a rich Console.
    """
    from rich.table import Table

    title = f"A = {c.name_a}   B = {c.name_b}   ({c.shared} shared photos)"
    metrics = Table(title=title, title_justify="left")
    for column in ("metric", "A", "B", "B − A"):
        metrics.add_column(column, justify="left" if column == "metric" else "right")
    metrics.add_row("misses", str(c.summary_a["unanswered"]), str(c.summary_b["unanswered"]),
                    f"{c.summary_b['unanswered'] - c.summary_a['unanswered']:+d}")
    for name in METRICS:
        va, vb = float(c.summary_a[name]), float(c.summary_b[name])
        metrics.add_row(METRIC_LABELS[name], format_metric(name, va), format_metric(name, vb),
                        _delta(name, va, vb))
    console.print(metrics)

    continents = Table(title="Per continent (truth)", title_justify="left")
    continents.add_column("continent")
    continents.add_column("photos", justify="right")
    for short in CONTINENT_METRICS.values():
        for side in ("A", "B"):
            continents.add_column(f"{short} {side}", justify="right")
    for continent, (sa, sb) in c.continents.items():
        cells = [format_metric(m, float(s[m])) for m in CONTINENT_METRICS for s in (sa, sb)]
        continents.add_row(continent, str(sa["n"]), *cells)
    console.print(continents)

    wins = Table(title="Per-photo outcomes", title_justify="left")
    for column in ("judged by", "A better", "B better", "tie"):
        wins.add_column(column, justify="left" if column == "judged by" else "right")
    for label, t in ((f"error km (tie within {TIE_KM:g} km)", c.by_error), ("country correct", c.by_country)):
        wins.add_row(label, str(t.a_better), str(t.b_better), str(t.ties))
    console.print(wins)
    for side, swings in (("A", c.a_wins), ("B", c.b_wins)):
        if swings:
            listed = ", ".join(f"{i} ({format_km(ea)} vs {format_km(eb)})"
                               for i, ea, eb in swings)
            console.print(f"Largest wins for {side}: {listed}")
    if c.only_a or c.only_b:
        console.print(f"[yellow]Not shared, left out: {c.only_a} photo(s) only in A, "
                      f"{c.only_b} only in B.[/yellow]")
    else:
        console.print("Both runs have the same photo ids.")


def _delta(name: str, a: float, b: float) -> str:
    """Format B - A: percentage points for accuracies, km for the median, points for GeoScore."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return "n/a"
    if name == "median_km_all":
        return f"{b - a:+,.0f} km"
    if name == "geoscore_all":
        return f"{b - a:+,.0f}"
    return f"{(b - a) * 100:+.1f} pp"
