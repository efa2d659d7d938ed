"""`geosleuth.evals.report`: Markdown + self-contained HTML reports of eval run folders."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from eval_runs import example_rows, result_row, write_run
from PIL import Image

from geosleuth.evals.report import load_run, write_report

PARIS, LONDON = (48.8566, 2.3522, "FR"), (51.5074, -0.1278, "GB")


class _Page(HTMLParser):
    """Collect the tags and attributes of a page (html.parser raises nothing, so count what it saw)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.paths: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action")]
        if tag == "path":
            self.paths += [v or "" for k, v in attrs if k == "d"]
        if tag == "img":
            self.images += [v or "" for k, v in attrs if k == "src"]


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


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
    page = _parse(paths[1])

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
    assert _parse(html_path).images == [], "the photos do not exist: no thumbnails, no failure"


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
