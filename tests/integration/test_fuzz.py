"""Fuzzing every input parser, CI-sized: a few hundred cases per format in-process, about ten via the CLI.

The full run is `geosleuth bench --suite fuzz` (10,000 per format). In-process a parser may raise only its
documented error type; through the CLI (a fresh process, 2 GB of address space) a case may exit 0 or 2,
never print a traceback, fail with exactly one line on stderr, and take at most 5 s beyond the CLI's
own time on the unmutated seed (twice that time here, for a loaded CI machine).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fuzz_files import patch_tiff_tag
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geosleuth.app.bench_fuzz import CLI_FORMATS, HANG_S, cli_case
from geosleuth.evals.fuzz import CHECKS, PHOTO_FORMATS, make_seeds, mutate, run_case

DOCUMENTED = {"ok", "PhotoError", "DatasetError", "DatasetMissing", "ValueError"}
CLI_CASES = 7
"""CLI cases, taken round-robin over the CLI formats (each CLI run costs seconds of start-up)."""


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    found = make_seeds(tmp_path_factory.mktemp("seeds"))
    for fmt, path in found.items():
        assert CHECKS[fmt](path) == "ok"  # also warms up what the parsers load once (country polygons)
    return found


@pytest.mark.parametrize("fmt", list(CHECKS))
def test_parsers_raise_only_their_documented_errors(
    fmt: str, seeds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    seed = seeds[fmt].read_bytes()
    heads = tuple(seeds[f].read_bytes()[:256] for f in PHOTO_FORMATS)
    folder = tmp_path_factory.mktemp(fmt)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.randoms(use_true_random=False))
    def one(rnd: random.Random) -> None:
        assert run_case(fmt, seed, rnd, folder, heads) in DOCUMENTED

    one()


@pytest.fixture(scope="module")
def cli_timeout(seeds: dict[str, Path]) -> float:
    baseline = cli_case("jpeg", seeds["jpeg"], 120.0)
    assert baseline.code == 0 and baseline.broken is None, baseline.stderr
    return 2 * baseline.seconds + HANG_S


def test_cli_keeps_the_rule_on_mutated_files(
    seeds: dict[str, Path], cli_timeout: float, tmp_path: Path
) -> None:
    heads = tuple(seeds[f].read_bytes()[:256] for f in PHOTO_FORMATS)
    broken = []
    for n in range(CLI_CASES):
        fmt = CLI_FORMATS[n % len(CLI_FORMATS)]
        case = tmp_path / f"case-{n}.{fmt}"
        case.write_bytes(mutate(seeds[fmt].read_bytes(), random.Random(n), heads))
        outcome = cli_case(fmt, case, cli_timeout)
        if outcome.broken:
            broken.append(f"{case.name}: {outcome.broken}: {outcome.stderr[-500:]}")
    assert not broken


def test_cli_tiff_printed_pillow_log_and_libtiff_warning_lines(
    seeds: dict[str, Path], cli_timeout: float, tmp_path: Path
) -> None:
    seed = seeds["tiff"].read_bytes()
    cases = {
        "spp.tiff": patch_tiff_tag(seed, 277, value=131),  # SamplesPerPixel 131: Pillow logs an error
        "planar.tiff": patch_tiff_tag(patch_tiff_tag(seed, 259, value=5), 284, count=2),  # LZW: libtiff warns
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        outcome = cli_case("tiff", tmp_path / name, cli_timeout)
        assert outcome.code == 2 and outcome.broken is None, (name, outcome.stderr)
