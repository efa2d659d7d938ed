"""`geosleuth.evals.compare`: two real policy runs on the examples side by side (hand-built: tests/unit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_runs import example_rows, write_run
from rich.console import Console

from geosleuth.evals.compare import compare_runs, print_comparison

PARIS, LONDON, LYON = (48.8566, 2.3522, "FR"), (51.5074, -0.1278, "GB"), (45.7640, 4.8357, "FR")


def _guess(place: tuple[float, float, str], confidence: float = 0.5) -> dict:
    return {"country": place[2], "lat": place[0], "lon": place[1], "confidence": confidence}


@pytest.mark.slow
def test_gazetteer_run_against_text_only_run(tmp_path: Path) -> None:
    full = write_run(tmp_path / "full", list(example_rows(("ocr", "text_clues", "gazetteer"))))
    text_only = write_run(tmp_path / "text", list(example_rows(("ocr", "text_clues"), 4)))
    c = compare_runs(full, text_only)
    assert (c.shared, c.only_a, c.only_b) == (4, 2, 0)
    for tally in (c.by_error, c.by_country):
        assert tally.a_better + tally.b_better + tally.ties == 4
    # the gazetteer turns text clues into places: it never does worse, and it wins somewhere
    assert c.by_error.a_better >= 1 and c.by_error.b_better == 0 and c.by_country.b_better == 0
    assert c.summary_a["geoscore_all"] > c.summary_b["geoscore_all"]
    console = Console(record=True, width=140)
    print_comparison(c, console)
    assert "2 photo(s) only in A, 0 only in B" in console.export_text()
