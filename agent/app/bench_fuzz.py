"""`geosleuth bench --suite fuzz`: mutated photos, label CSVs, config and registry files (in-process, CLI).

In-process, each format gets `$GEOSLEUTH_BENCH_FUZZ_CASES` cases (default 10,000) from
`geosleuth.evals.fuzz`, the parser called directly: every outcome must be a documented error type. A
sample (`$GEOSLEUTH_BENCH_FUZZ_CLI` per format, default 20) goes through the CLI, each case in a fresh
process limited to 2 GB of address space: `geosleuth locate CASE --planner policy --tools exif --json`
for photos, `geosleuth locate MISSING.jpg --config CASE` for config files. The rule there: no traceback,
exit 0 or 2, a failure is one line on stderr, and no case runs more than 5 s beyond the CLI's time on
the unmutated seed. Prints cases, outcomes by kind, the slowest case and peak memory.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geosleuth.app.cli_common import make_console

if TYPE_CHECKING:
    from rich.console import Console

    from geosleuth.core.config import Settings

CASES_ENV = "GEOSLEUTH_BENCH_FUZZ_CASES"
CLI_ENV = "GEOSLEUTH_BENCH_FUZZ_CLI"
MEMORY_LIMIT = 2 * 1024**3
"""Address-space limit of each CLI case (RLIMIT_AS), bytes."""
HANG_S = 5.0
"""Seconds a CLI case may take beyond the CLI's time on the unmutated seed."""
CLI_FORMATS = ("jpeg", "png", "heic", "tiff", "webp", "toml")


@dataclass(frozen=True)
class CliOutcome:
    """One CLI case: exit code, seconds, stderr, and the rule it broke (None when it kept the rule)."""

    code: int
    seconds: float
    stderr: str
    broken: str | None


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def cli_command(fmt: str, case: Path) -> list[str]:
    """Return the cheapest CLI command that parses `case` (a photo, or a config file for "toml")."""
    exe = Path(sys.executable).with_name("geosleuth")
    script = [str(exe)] if exe.exists() else [sys.executable, "-m", "geosleuth"]
    if fmt == "toml":
        return [*script, "locate", str(case.with_name("missing.jpg")), "--config", str(case)]
    return [*script, "locate", str(case), "--planner", "policy", "--tools", "exif", "--json"]


def cli_case(fmt: str, case: Path, timeout_s: float) -> CliOutcome:
    """Run one case through the CLI in a fresh, memory-limited process and judge it by the rule."""
    env = {k: v for k, v in os.environ.items() if k != "GEOSLEUTH_CONFIG"}
    start = time.perf_counter()
    try:
        done = subprocess.run(cli_command(fmt, case), capture_output=True, text=True, errors="replace",
                              timeout=timeout_s, preexec_fn=_limit_memory, env=env, cwd=case.parent)
    except subprocess.TimeoutExpired:
        return CliOutcome(-1, time.perf_counter() - start, "", f"hang: over {timeout_s:.1f} s")
    seconds = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    broken = None
    if "Traceback (most recent call last)" in done.stderr:
        broken = "traceback"
    elif done.returncode not in (0, 2):
        broken = f"exit code {done.returncode}"
    elif done.returncode == 2 and not (len(lines) == 1 and lines[0].startswith("geosleuth: error: ")):
        broken = "not a one-line error"
    return CliOutcome(done.returncode, seconds, done.stderr, broken)


def _count(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    try:
        return int(text) if text.strip() else default
    except ValueError:
        raise SystemExit(f"geosleuth: error: {name}={text!r} is not a whole number") from None


def run(settings: Settings) -> None:
    """Fuzz every parser in-process and a sample through the CLI; print counts, outcomes, time, memory."""
    from rich.table import Table

    from geosleuth.evals.fuzz import CHECKS, PHOTO_FORMATS, make_seeds, run_case

    console = make_console()
    cases, cli_cases = _count(CASES_ENV, 10_000), _count(CLI_ENV, 20)
    table = Table(title=f"fuzz, in-process ({cases} cases per format)", title_justify="left")
    for column in ("format", "cases", "outcomes", "bugs", "max s", "cases/s", "peak RSS GB"):
        table.add_column(column)
    with tempfile.TemporaryDirectory(prefix="geosleuth-fuzz-") as tmp:
        seeds = make_seeds(Path(tmp) / "seeds")
        heads = tuple(seeds[f].read_bytes()[:256] for f in PHOTO_FORMATS)
        for fmt in CHECKS:
            folder = Path(tmp) / fmt
            folder.mkdir()
            seed = seeds[fmt].read_bytes()
            if CHECKS[fmt](seeds[fmt]) != "ok":  # also loads what a parser loads once (country polygons)
                raise SystemExit(f"geosleuth: error: the {fmt} fuzz seed does not parse")
            outcomes, bugs, slowest, start = Counter[str](), Counter[str](), 0.0, time.perf_counter()
            for n in range(cases):
                began = time.perf_counter()
                try:
                    outcomes[run_case(fmt, seed, random.Random(n), folder, heads)] += 1
                except Exception as exc:  # a bug: an undocumented error type
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    bugs[f"{type(exc).__name__} at {Path(where.filename).name}:{where.lineno} (#{n})"] += 1
                slowest = max(slowest, time.perf_counter() - began)
            rate = cases / (time.perf_counter() - start)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
            table.add_row(fmt, str(cases), ", ".join(f"{k} {v}" for k, v in outcomes.most_common()),
                          "; ".join(f"{k} x{v}" for k, v in bugs.most_common(3)) or "none",
                          f"{slowest:.2f}", f"{rate:.0f}", f"{rss:.2f}")
            console.print(f"fuzz {fmt}: {cases} cases at {rate:.0f}/s", highlight=False)
        console.print(table)
        if cli_cases:
            _run_cli(seeds, heads, cli_cases, Path(tmp), console)


def _run_cli(
    seeds: dict[str, Path], heads: tuple[bytes, ...], count: int, tmp: Path, console: Console
) -> None:
    """Run `count` mutated cases per CLI format through the CLI and print a table of what happened."""
    from rich.table import Table

    from geosleuth.evals.fuzz import mutate

    title = f"fuzz, through the CLI ({count} cases per format, RLIMIT_AS 2 GB)"
    table = Table(title=title, title_justify="left")
    for column in ("format", "seed s", "cases", "exit codes", "broken", "max s", "peak RSS GB"):
        table.add_column(column)
    for fmt in CLI_FORMATS:
        folder = tmp / f"cli-{fmt}"
        folder.mkdir()
        baseline = cli_case(fmt, seeds[fmt], 120.0)
        codes, broken, slowest = Counter[int](), Counter[str](), 0.0
        for n in range(count):
            case = folder / f"case-{n}.{fmt}"
            case.write_bytes(mutate(seeds[fmt].read_bytes(), random.Random(1_000_000 + n), heads))
            outcome = cli_case(fmt, case, baseline.seconds + HANG_S)
            codes[outcome.code] += 1
            slowest = max(slowest, outcome.seconds)
            if outcome.broken:
                broken[outcome.broken] += 1
                console.print(f"[red]{fmt} case {n}: {outcome.broken}[/red]\n{outcome.stderr[-2000:]}")
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        table.add_row(fmt, f"{baseline.seconds:.1f}", str(count),
                      ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())),
                      ", ".join(f"{k} x{v}" for k, v in broken.items()) or "none",
                      f"{slowest:.1f}", f"{rss:.2f}")
    console.print(table)
