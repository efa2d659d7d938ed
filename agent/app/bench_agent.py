"""`geosleuth bench --suite agent`: the LLM agent against the policy planner, per photo.

For each planner (the LLM agent on the configured or embedded model, and the policy), on the
examples/ photos and the first `SHARED_PHOTOS` photos of each ../shared/data set with labels.csv (all
metadata withheld, file names included): seconds, LLM calls, tool calls and tokens per photo, and
accuracy (country, within 25/200/750 km, median error). Seconds are reported apart for photos where
text was read (the agent asks the model once) and photos without (it never does). Targets on a 2-core
CPU (issue 15): a median of `TEXT_TARGET_S` s per photo with text and `NO_TEXT_TARGET_S` s without.
These are development figures, never fitted to.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings
from geosleuth.core.paths import shared_dir, source_root

if TYPE_CHECKING:
    from geosleuth.run.locate import ChatPair

EXAMPLES = source_root() / "examples"
SHARED_DATA = shared_dir() / "data"
SHARED_PHOTOS = 12
"""Photos taken from the start of each shared data set."""
TEXT_TARGET_S = 12.0
"""Target median seconds per photo with text for the local LLM agent on a 2-core CPU."""
NO_TEXT_TARGET_S = 3.0
"""Target median seconds per photo without text."""


def photo_sets(limit: int = SHARED_PHOTOS) -> dict[str, list[dict[str, Any]]]:
    """Return the benchmark photos by set: examples/ and the first `limit` of each ../shared/data set present.

    Each photo is {"path", "lat", "lon", "country"}.
    """
    sets: dict[str, list[dict[str, Any]]] = {}
    sources: list[tuple[str, Path, int | None]] = [("examples", EXAMPLES / "labels.csv", None)]
    if SHARED_DATA.is_dir():
        sources += [(p.parent.name, p, limit) for p in sorted(SHARED_DATA.glob("*/labels.csv"))]
    for name, labels, count in sources:
        with labels.open(newline="") as handle:  # photos without a known place cannot be scored
            rows = [r for r in csv.DictReader(handle) if r.get("lat") and r.get("lon")][:count]
        sets[name] = [
            {
                "path": labels.parent / row["file"],
                "lat": float(row["lat"]),
                "lon": float(row["lon"]),
                "country": row["country_code"] or None,
            }
            for row in rows
        ]
    return sets


def measure(
    planner: str, photos: list[dict[str, Any]], settings: Settings, chat: ChatPair | None = None
) -> dict[str, Any]:
    """Run one planner on the photos (metadata withheld) and return its per-photo figures and accuracy.

    `chat` is the (chat model, backend) the LLM planner uses, made once so its set-up is not timed.
    """
    from geosleuth.core.photo import PhotoError, load_photo
    from geosleuth.evals.metrics import Scored, summarize
    from geosleuth.run.locate import locate_photo
    from geosleuth.run.toolnode import photo_lines

    blind = settings.model_copy(update={"use_metadata": False})
    seconds, llm_calls, tool_calls, tokens, scored, errors = [], [], [], [], [], 0
    by_text: dict[bool, list[float]] = {True: [], False: []}
    for photo in photos:
        answer: tuple[float | None, float | None, str | None, float] = (None, None, None, 0.0)
        try:
            result = locate_photo(load_photo(photo["path"]), blind, planner=planner, chat=chat)
        except PhotoError:  # an unreadable photo counts as unanswered, never as (0, 0)
            errors += 1
        else:
            seconds.append(result.seconds)
            by_text[bool(photo_lines(result.evidence))].append(result.seconds)
            llm_calls.append(result.llm_calls)
            tool_calls.append(result.tool_calls)
            tokens.append(result.tokens)
            guess = result.guess
            answer = (guess.lat, guess.lon, guess.country_code, guess.confidence)
        scored.append(Scored(photo["lat"], photo["lon"], photo["country"], *answer))
    return {
        "photos": len(photos),
        "unreadable": errors,
        "s_median": statistics.median(seconds) if seconds else float("nan"),
        "s_mean": statistics.fmean(seconds) if seconds else float("nan"),
        "s_text": statistics.median(by_text[True]) if by_text[True] else float("nan"),
        "s_no_text": statistics.median(by_text[False]) if by_text[False] else float("nan"),
        "with_text": len(by_text[True]),
        "llm_calls": statistics.fmean(llm_calls) if llm_calls else 0.0,
        "tool_calls": statistics.fmean(tool_calls) if tool_calls else 0.0,
        "tokens": statistics.fmean(tokens) if tokens else 0.0,
        **summarize(scored),
    }


def run(settings: Settings) -> None:
    """Measure the LLM agent and the policy on the benchmark photos and print one table per set."""
    from rich.table import Table

    from geosleuth.run.llm import llm_available, make_chat_model

    console = make_console()
    planners, chat = ["policy"], None
    available = llm_available(settings)
    if available is True:
        planners.insert(0, "llm")
        chat = make_chat_model(settings)
    else:
        console.print(f"[yellow]agent suite: no LLM available ({available}); policy only[/yellow]")
    columns = (
        "planner",
        "photos",
        "s/photo (median)",
        "s/photo (mean)",
        "s with text (median, n)",
        "s without text (median)",
        "LLM calls",
        "tool calls",
        "tokens",
        "country",
        "≤25 km",
        "≤200 km",
        "≤750 km",
        "median km",
    )
    for name, photos in photo_sets().items():
        table = Table(
            title=f"agent vs policy · {name} · metadata withheld (development numbers)", title_justify="left"
        )
        for column in columns:
            table.add_column(column, justify="left" if column == "planner" else "right")
        for planner in planners:
            m = measure(planner, photos, settings, chat if planner == "llm" else None)
            table.add_row(
                planner,
                str(m["photos"]),
                f"{m['s_median']:.1f}",
                f"{m['s_mean']:.1f}",
                f"{m['s_text']:.1f} ({m['with_text']})",
                f"{m['s_no_text']:.1f}",
                f"{m['llm_calls']:.1f}",
                f"{m['tool_calls']:.1f}",
                f"{m['tokens']:.0f}",
                f"{m['country_accuracy']:.0%}",
                f"{m['within_25km']:.0%}",
                f"{m['within_200km']:.0%}",
                f"{m['within_750km']:.0%}",
                f"{m['median_km_all']:,.0f}",
            )
        console.print(table)
    console.print(
        f"targets on a 2-core CPU: median ≤ {TEXT_TARGET_S:.0f} s per photo with text, "
        f"≤ {NO_TEXT_TARGET_S:.0f} s without"
    )
