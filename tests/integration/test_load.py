"""A CI-sized load run (`geosleuth bench --suite load` at 60 photos): one row per photo, flat fds and RSS.

Tool exif only (OCR costs seconds a photo on 2 shared cores): the batch machinery is what is under load;
then byte-identical copies, whose repeats the tool cache answers, with the text tools too.
"""

from __future__ import annotations

from pathlib import Path

from eval_runs import settings_for

from geosleuth.app.bench_load import make_photos, measure_load

PHOTOS = 60
FD_GROWTH = 4
"""Open fds may differ by a few after warm-up (a worker's SQLite or JPEG file open at the last sample)."""
RSS_GROWTH_MB = 150


def test_a_batch_of_60_photos_keeps_fds_and_memory_flat(tmp_path: Path) -> None:
    paths = make_photos(tmp_path / "photos", PHOTOS)
    assert len({p.read_bytes() for p in paths}) == PHOTOS, "every photo has bytes of its own"
    settings = settings_for(tmp_path, tools=("exif",))
    run = measure_load(tmp_path / "photos", settings, run_dir=tmp_path / "batch", workers=2, sample_s=0.1)
    assert run.photos == run.rows == PHOTOS
    assert len(run.samples) >= 3, run  # 60 exif-only photos take about a second on 2 cores
    assert run.fd_growth() <= FD_GROWTH, run.samples
    assert run.rss_growth_mb() < RSS_GROWTH_MB, run.samples


def test_identical_copies_run_every_text_tool_from_the_cache(tmp_path: Path) -> None:
    """Byte copies under many names: the tool cache answers all but the first of each example."""
    import json

    paths = make_photos(tmp_path / "photos", 18, identical=True)
    assert len({p.read_bytes() for p in paths}) == 6
    tools = ("exif", "scene", "ocr", "text_clues", "gazetteer")
    settings = settings_for(tmp_path, tools=tools)
    run = measure_load(tmp_path / "photos", settings, run_dir=tmp_path / "batch", workers=2, sample_s=1.0)
    assert run.photos == run.rows == 18
    rows = [json.loads(line) for line in (tmp_path / "batch" / "results.jsonl").read_text().splitlines()]
    assert all(row["error"] is None and "ocr" in row["tools_used"] for row in rows)
    assert len({row["guess"]["country"] for row in rows}) > 1  # the examples' own answers, not one default
