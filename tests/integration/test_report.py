"""`geosleuth.evals.report`: the report of a real policy run on the examples (hand-built: tests/unit)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from eval_runs import example_rows, result_row, write_run
from html_pages import parse_page
from PIL import Image

from geosleuth.evals.report import write_report

PARIS, LONDON = (48.8566, 2.3522, "FR"), (51.5074, -0.1278, "GB")


@pytest.mark.slow
def test_report_of_a_real_policy_run(tmp_path: Path) -> None:
    # OCR + text clues only (no gazetteer): real failures (e.g. Athens, Moscow put in the US)
    rows = list(example_rows(("ocr", "text_clues")))
    rows.append(result_row("lost.jpg", (*LONDON[:2], "GB"), None, image=str(tmp_path / "gone.jpg"),
                           error={"type": "timeout", "message": "ocr took too long"}))
    run = write_run(tmp_path / "ocr-only", rows, tools=["ocr", "text_clues"])
    with (run / "results.jsonl").open("a", encoding="utf-8") as out:
        out.write('{"id": "torn.jpg", "truth": {"lat": 1')  # killed mid-write

    paths = write_report(run, tmp_path / "out")
    assert paths == [tmp_path / "out" / "report.md", tmp_path / "out" / "report.html"]
    md = paths[0].read_text(encoding="utf-8")
    page = parse_page(paths[1])

    wrong = [r for r in rows if not r["country_correct"]]
    assert len(wrong) >= 2, "the text-only policy gets some examples wrong"
    assert "7 photos, 1 misses" in md and "torn last line of results.jsonl | ignored" in md
    assert "timeout: 1" in md and "tools: ocr, text_clues" in md
    for r in wrong:
        guessed = (r["guess"] or {}).get("country") or "—"
        assert f"| {r['id']} | {r['truth']['country']} | {guessed} |" in md  # worst failures
    assert "| lost.jpg | GB | — | no answer |" in md
    correct = sum(bool(r["country_correct"]) for r in rows)
    assert f"| country accuracy | {correct / 7:.1%} |" in md
    read = [r for r in rows if "text_clues" in r.get("tools_used", ())]
    assert 0 < len(read) < len(rows), "the lost photo read no text"
    assert f"| text read | {len(read)} | 0 |" in md and "| no text read | " in md

    assert page.tags.count("svg") == 2, "the error CDF and the world map"
    assert max(len(d) for d in page.paths) > 20_000, "the world map has a basemap of country outlines"
    assert page.tags.count("circle") >= 7, "a dot per photo on the map"
    outside = [x for x in page.links if x.startswith(("http", "//")) or "://" in x]
    assert page.links and not outside, "nothing is fetched from outside the page"
    # a failure: wrong country or over 25 km off; only those whose image exists get a thumbnail
    failures = [r for r in rows if r["guess"] and not (r["country_correct"] and r["error_km"] <= 25)]
    assert len(page.images) == len(failures) >= 2
    for uri in page.images:
        assert uri.startswith("data:image/jpeg;base64,")
        thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert thumb.format == "JPEG" and max(thumb.size) <= 160
        assert not thumb.getexif() and "comment" not in thumb.info
