"""The trace store: concurrent writer processes, a killed writer, real policy traces (the rest: unit)."""

from __future__ import annotations

import csv
import multiprocessing
import signal
from pathlib import Path

import pytest
from trace_runs import killed_writer, process_writer, start_run

from geosleuth.core.paths import source_root
from geosleuth.run.traces import TraceStore

EXAMPLES = source_root() / "examples"


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_concurrent_processes(tmp_path: Path, method: str) -> None:
    path = tmp_path / "t.sqlite"
    store = TraceStore(path)  # opened in the parent first: a forked child must not reuse its connection
    shared = start_run(store)
    context = multiprocessing.get_context(method)
    procs = [context.Process(target=process_writer, args=(str(path), shared, n)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    assert [s["idx"] for s in store.steps(shared)] == list(range(4 * 30))
    assert sorted(s["name"] for s in store.steps(shared))[::30] == ["proc0", "proc1", "proc2", "proc3"]
    assert len(store.list_runs(status="ok")) == 4


def test_killed_writer_keeps_its_steps(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    proc = multiprocessing.get_context("spawn").Process(target=killed_writer, args=(str(path),))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == -signal.SIGKILL
    store = TraceStore(path)
    (run,) = store.list_runs()
    assert run["status"] == "running" and run["finished"] is None
    assert [s["name"] for s in store.steps(run["id"])] == ["t0", "t1", "t2"]


@pytest.mark.slow
def test_real_policy_traces_on_examples(tmp_path: Path) -> None:
    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.locate import locate_photo

    settings = Settings(use_metadata=False, tools=("ocr", "text_clues", "gazetteer"))
    store = TraceStore(tmp_path / "t.sqlite")
    labels = list(csv.DictReader((EXAMPLES / "labels.csv").open(encoding="utf-8")))[:2]
    for row in labels:
        truth = {"lat": float(row["lat"]), "lon": float(row["lon"]), "country": row["country_code"]}
        result = locate_photo(load_photo(EXAMPLES / row["file"]), settings, planner="policy", traces=store,
                             truth=truth, eval_run="examples")
        run, steps = store.get_run(result.trace_id), store.steps(result.trace_id)
        assert [(s["kind"], s["name"]) for s in steps if s["kind"] == "tool"] == [
            ("tool", "ocr"), ("tool", "text_clues"), ("tool", "gazetteer")]
        assert steps[-1]["kind"] == "commit"
        assert steps[0]["output"]["observations"]["lines"], "OCR read the rendered sign"
        assert steps[-1]["p_truth"] > 0.5 > run["prior_p_truth"], "the evidence raised P(truth)"
        assert run["country_correct"] is True and run["error_km"] < 50
        assert run["config"]["tools"] == ["ocr", "text_clues", "gazetteer"] and run["eval_run"] == "examples"
    assert len(store.list_runs(tool="gazetteer", wrong_country=False)) == 2
