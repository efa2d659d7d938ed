"""`geosleuth bench`: speed and memory figures, printed (targets live here, not in timed tests).

Targets on a 2-core CPU: `geosleuth --help` under 0.5 s; warm `locate` under 5 s for a 1-megapixel
photo; peak RSS under 3 GB.
"""

from __future__ import annotations

import csv
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from geosleuth.app.cli_common import make_console
from geosleuth.core.config import Settings
from geosleuth.core.paths import shared_dir, source_root

if TYPE_CHECKING:
    from rich.console import Console

EXAMPLES = source_root() / "examples"
SHARED_DATA = shared_dir() / "data"
TARGETS = {"help_s": 0.5, "warm_locate_s": 5.0, "peak_rss_gb": 3.0}
# Suites beyond "locate" (this module): each is `module:function`, called with the Settings; it prints.
SUITES = {
    "agent": "geosleuth.app.bench_agent:run",
    "eval": "geosleuth.app.bench_eval:run",
    "faults": "geosleuth.app.bench_faults:run",
    "fuzz": "geosleuth.app.bench_fuzz:run",
    "index": "geosleuth.app.bench_index:run",
    "language": "geosleuth.app.bench_language:run",
    "load": "geosleuth.app.bench_load:run",
    "osm": "geosleuth.app.bench_osm:run",
    "scene": "geosleuth.app.bench_scene:run",
    "vision": "geosleuth.app.bench_vision:run",
}


def run_suite(name: str, settings: Settings) -> None:
    """Run the benchmark suite `name` from SUITES."""
    import importlib

    module, function = SUITES[name].split(":")
    getattr(importlib.import_module(module), function)(settings)


def _script() -> list[str]:
    """Return the command that runs the installed CLI in a fresh process."""
    exe = Path(sys.executable).with_name("geosleuth")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "geosleuth"]


def _peak_rss_gb(who: int) -> float:
    """Peak resident memory in GB of this process (RUSAGE_SELF) or its finished children."""
    return resource.getrusage(who).ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux


def time_help(runs: int = 5) -> float:
    """Median wall seconds of `geosleuth --help` in a fresh process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*_script(), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_cold(photo: Path) -> float:
    """Wall seconds of `geosleuth locate --json PHOTO` in a fresh process (model loading included)."""
    start = time.perf_counter()
    subprocess.run([*_script(), "locate", "--json", str(photo)], check=True, capture_output=True)
    return time.perf_counter() - start


def run_bench(
    photos: list[Path], *, repeat: int, accuracy_limit: int, settings: Settings, dataset: str = "im2gps3k-dev"
) -> None:
    """Measure and print: start-up, cold and warm seconds per photo, peak RSS, optional accuracy."""
    from rich.table import Table

    from geosleuth.core.photo import load_photo
    from geosleuth.run.locate import locate_photo

    console = make_console()
    photos = photos or sorted(p for p in EXAMPLES.glob("*.jpg"))
    if not photos:
        raise SystemExit("geosleuth: error: no photos given and none in examples/")
    help_s = time_help()
    table = Table(title="locate, policy planner", title_justify="left")
    for column in ("photo", "megapixels", "cold s", "warm s (median)", "answer"):
        table.add_column(column)
    warm_all = []
    for photo in photos:
        cold = time_cold(photo)
        loaded = load_photo(photo)
        locate_photo(loaded, settings, planner="policy")  # warm-up in this process
        warm = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = locate_photo(loaded, settings, planner="policy")
            warm.append(time.perf_counter() - start)
        warm_all.append(statistics.median(warm))
        mp = loaded.width * loaded.height / 1e6
        table.add_row(photo.name, f"{mp:.2f}", f"{cold:.2f}", f"{statistics.median(warm):.2f}",
                      f"{result.guess.country_code} {result.guess.place or ''}")
    console.print(table)
    peak = max(_peak_rss_gb(resource.RUSAGE_SELF), _peak_rss_gb(resource.RUSAGE_CHILDREN))
    figures = {"help_s": help_s, "warm_locate_s": statistics.median(warm_all), "peak_rss_gb": peak}
    summary = Table(title="targets (2-core CPU)", title_justify="left")
    for column in ("figure", "measured", "target", "met"):
        summary.add_column(column)
    for name, value in figures.items():
        summary.add_row(name, f"{value:.2f}", f"< {TARGETS[name]}", "yes" if value < TARGETS[name] else "NO")
    console.print(summary)
    if accuracy_limit:
        bench_accuracy(dataset, accuracy_limit, settings, console)


def bench_accuracy(dataset: str, limit: int, settings: Settings, console: Console) -> None:
    """Score the policy on the first `limit` photos of a ../shared/data set, all metadata withheld.

    The set's folder holds `labels.csv` with columns file, lat, lon, country_code.
    """
    from geosleuth.core.photo import PhotoError, load_photo
    from geosleuth.evals.metrics import Scored, summarize
    from geosleuth.run.locate import locate_photo

    labels = SHARED_DATA / dataset / "labels.csv"
    if not labels.is_file():
        console.print(f"[yellow]skipped accuracy: {labels} is absent (shared research data)[/yellow]")
        return
    with labels.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    blind = settings.model_copy(update={"use_metadata": False})
    scored, start = [], time.perf_counter()
    for row in rows:
        try:
            guess = locate_photo(load_photo(labels.parent / row["file"]), blind, planner="policy").guess
            answer = (guess.lat, guess.lon, guess.country_code)
        except PhotoError as exc:  # counted as unanswered, never as (0, 0)
            console.print(f"[yellow]{exc}[/yellow]")
            answer = (None, None, None)
        scored.append(Scored(float(row["lat"]), float(row["lon"]), row["country_code"] or None, *answer))
    metrics = summarize(scored)
    seconds = (time.perf_counter() - start) / len(rows)
    console.print(f"{dataset}, first {len(rows)} photos, metadata withheld (development numbers):")
    console.print({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}
                  | {"seconds_per_photo": round(seconds, 2)})
