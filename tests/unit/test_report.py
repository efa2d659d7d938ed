"""`geosleuth.evals.report`: Markdown + self-contained HTML reports of hand-built eval run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_runs import result_row, write_run
from html_pages import parse_page

from geosleuth.evals.report import load_run, write_report

PARIS, LONDON = (48.8566, 2.3522, "FR"), (51.5074, -0.1278, "GB")


def _hand_run(tmp_path: Path, misses: int) -> Path:
    rows = [
        result_row("paris.jpg", PARIS,
                   {"country": "FR", "lat": PARIS[0], "lon": PARIS[1], "confidence": 0.9}),
        result_row("london.jpg", PARIS,
                   {"country": "GB", "lat": LONDON[0], "lon": LONDON[1], "confidence": 0.4}),
    ]
    rows += [result_row(f"miss{i}.jpg", LONDON, None) for i in range(misses)]
    return write_run(tmp_path / f"hand{misses}", rows)


def test_report_arithmetic_on_hand_built_rows(tmp_path: Path) -> None:
    md = write_report(_hand_run(tmp_path, 1))[0].read_text(encoding="utf-8")
    assert "3 photos, 1 misses" in md
    assert "| country accuracy | 33.3% |" in md and "| within 1 km | 33.3% |" in md
    assert "| within 750 km | 66.7% |" in md
    assert "| median error (misses = ∞) | 344 km |" in md  # Paris -> London, 343.9 km geodesic
    assert "| median error, 2 answered only | 172 km |" in md
    assert "| FR | GB | 1 |" in md and "| GB | — | 1 |" in md  # confusions
    assert "| EU | 3 | 1 | 33.3% |" in md  # per continent: n, misses, country accuracy


def test_report_says_the_median_is_beyond_any_error_when_most_miss(tmp_path: Path) -> None:
    run = _hand_run(tmp_path, 3)
    md_path, html_path = write_report(run)
    assert md_path.parent == run
    md = md_path.read_text(encoding="utf-8")
    assert "| median error (misses = ∞) | > 20,000 km |" in md
    assert "5 photos, 3 misses" in md
    assert parse_page(html_path).images == [], "the photos do not exist: no thumbnails, no failure"


def test_bad_run_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such eval run folder"):
        write_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no results.jsonl"):
        write_report(tmp_path / "empty")
    (tmp_path / "empty" / "results.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no results yet"):
        write_report(tmp_path / "empty")

    run = _hand_run(tmp_path, 1)
    lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines()
    corrupt = "\n".join([lines[0], "{not json", *lines[1:]]) + "\n"
    (run / "results.jsonl").write_text(corrupt, encoding="utf-8")
    with pytest.raises(ValueError, match=r"results.jsonl:2: corrupt line"):
        write_report(run)
    (run / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (run / "run.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="corrupt run header"):
        write_report(run)
    assert not (run / "report.md").exists(), "nothing written on error"


def test_load_run_keeps_the_last_row_of_a_repeated_id(tmp_path: Path) -> None:
    run = _hand_run(tmp_path, 0)
    retry = result_row("london.jpg", PARIS, {"country": "FR", "lat": PARIS[0], "lon": PARIS[1]})
    with (run / "results.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(retry) + "\n")
    loaded = load_run(run)
    assert loaded.duplicates == 1 and len(loaded.rows) == 2
    assert all(s.country_correct for s in loaded.scored)
    assert loaded.name == "hand0" and loaded.header["dataset"] == "examples"
