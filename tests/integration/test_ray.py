"""`--backend ray` on a local Ray (2 CPUs): the same rows as the thread backend, one writer, resumable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geosleuth.core.config import resolve_settings
from geosleuth.core.paths import source_root
from geosleuth.evals.runner import EvalOptions, run_eval

EXAMPLES = source_root() / "examples"


@pytest.mark.slow
def test_ray_backend_matches_threads(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is in the dev extra")
    settings, _ = resolve_settings(
        {"cache_dir": tmp_path / "cache", "planner": "policy", "tools": ("ocr", "text_clues", "gazetteer")},
        env={},
    )
    labels = EXAMPLES / "labels.csv"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_eval(EvalOptions(dataset=str(labels), out=tmp_path / "ray", limit=3, backend="ray",
                                      workers=2, progress=False, tool_cache=False), settings)
        assert ray.is_initialized()  # the backend leaves a Ray it did not start running
        again = run_eval(EvalOptions(dataset=str(labels), out=tmp_path / "ray", limit=4, backend="ray",
                                     workers=2, progress=False, tool_cache=False), settings)
    finally:
        ray.shutdown()
    on_threads = run_eval(EvalOptions(dataset=str(labels), out=tmp_path / "threads", limit=4,
                                      backend="thread", progress=False, tool_cache=False), settings)
    assert (on_ray.new_rows, again.resumed_rows, again.new_rows) == (3, 3, 1)
    lines = (tmp_path / "ray" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(r["id"] for r in on_threads.rows)
    by_id = {r["id"]: r["guess"] for r in on_threads.rows}
    assert all(r["guess"] == by_id[r["id"]] for r in again.rows)
    assert all(r["error"] is None and r["trace_id"] for r in again.rows)
    assert json.loads((tmp_path / "ray" / "run.json").read_text())["backend"] == "ray"
