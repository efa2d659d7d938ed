"""`geosleuth.evals.compare`: two hand-built eval runs side by side, over the photo ids both have."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_runs import result_row, write_run
from rich.console import Console

from geosleuth.evals.compare import compare_runs, print_comparison

PARIS, LONDON, LYON = (48.8566, 2.3522, "FR"), (51.5074, -0.1278, "GB"), (45.7640, 4.8357, "FR")


def _guess(place: tuple[float, float, str], confidence: float = 0.5) -> dict:
    return {"country": place[2], "lat": place[0], "lon": place[1], "confidence": confidence}


def test_wins_losses_and_ties_over_shared_ids(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [
        result_row("p1", PARIS, _guess(PARIS)),  # A exact, B in Lyon (392 km, right country): A better
        result_row("p2", PARIS, _guess(LONDON)),  # A wrong country 344 km, B miss: A better by error
        result_row("p3", PARIS, None),  # both miss: tie
        result_row("p4", LYON, _guess(PARIS)),  # both guess Paris: tie
        result_row("p5", PARIS, _guess(LONDON)),  # B exact: B better on both counts
        result_row("only-a", PARIS, _guess(PARIS)),
    ])
    b = write_run(tmp_path / "b", [
        result_row("p1", PARIS, _guess(LYON)),
        result_row("p2", PARIS, None),
        result_row("p3", PARIS, None),
        result_row("p4", LYON, _guess(PARIS)),
        result_row("p5", PARIS, _guess(PARIS)),
        result_row("only-b1", LONDON, None),
        result_row("only-b2", LONDON, None),
    ])
    c = compare_runs(a, b)
    assert (c.shared, c.only_a, c.only_b) == (5, 1, 2)
    assert (c.by_error.a_better, c.by_error.b_better, c.by_error.ties) == (2, 1, 2)
    assert (c.by_country.a_better, c.by_country.b_better, c.by_country.ties) == (0, 1, 4)
    assert c.summary_a["n"] == c.summary_b["n"] == 5, "metrics only over the shared ids"
    assert c.summary_a["unanswered"] == 1 and c.summary_b["unanswered"] == 2
    assert c.summary_a["country_accuracy"] == pytest.approx(2 / 5)  # p1, p4 (Paris is in France)
    assert c.summary_b["country_accuracy"] == pytest.approx(3 / 5)
    assert [i for i, _, _ in c.a_wins] == ["p2", "p1"], "a miss on the other side is the biggest win"
    assert [i for i, _, _ in c.b_wins] == ["p5"]
    assert list(c.continents) == ["EU"]  # France: every shared photo's truth
    eu_a, eu_b = c.continents["EU"]
    assert eu_a["n"] == 5 and eu_a["country_accuracy"] == c.summary_a["country_accuracy"]
    assert eu_b["country_accuracy"] == c.summary_b["country_accuracy"]

    console = Console(record=True, width=140)
    print_comparison(c, console)
    text = console.export_text()
    assert "A = a   B = b   (5 shared photos)" in text
    assert "country accuracy" in text and "40.0%" in text and "60.0%" in text and "+20.0 pp" in text
    assert "1 photo(s) only in A, 2 only in B" in text
    assert "Per continent (truth)" in text and "│ EU        │      5 │     40.0% │     60.0% │" in text
    assert "Largest wins for A: p2 (344 km vs > 20,000 km), p1 (0.0 km vs 392 km)" in text


def test_runs_with_nothing_in_common_are_an_error(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [result_row("x", PARIS, None)])
    b = write_run(tmp_path / "b", [result_row("y", PARIS, None)])
    with pytest.raises(ValueError, match="share no photo id"):
        compare_runs(a, b)
    with pytest.raises(ValueError, match="no such eval run folder"):
        compare_runs(a, tmp_path / "missing")
