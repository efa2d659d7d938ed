"""The trace store: schema, WAL, concurrent writers (threads and processes), secrets, real policy traces."""

from __future__ import annotations

import csv
import multiprocessing
import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from geosleuth.run.traces import SCHEMA_VERSION, TraceStore, TraceStoreError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TRUTH_FR = {"lat": 48.8541, "lon": 2.3326, "country": "FR"}


def _run(store: TraceStore, **extra: object) -> str:
    fields = {"kind": "locate", "planner": "policy", "photo": "a.jpg", "photo_sha256": "ab" * 32,
              "config": {}}
    return store.start_run(**{**fields, **extra})


def test_round_trip_scores_and_probability_of_truth(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "deep" / "folder" / "traces.sqlite")
    prior = {"US": 0.5, "FR": 0.1, "DE": 0.4}
    run_id = _run(store, truth=TRUTH_FR, prior=prior, model="m1")
    assert store.add_step(run_id, kind="tool", name="ocr", input={"x": 1}, output={"summary": "read 'CAFÉ'"},
                          seconds=0.5, belief={"US": 0.3, "FR": 0.6, "DE": 0.1}) == 0
    assert store.add_step(run_id, kind="llm", name="m1", tokens_in=120, tokens_out=30,
                          belief_top=[("DE", 0.7), ("US", 0.2)]) == 1
    store.add_step(run_id, kind="commit", name="commit", belief_top=[("FR", 0.9)])
    guess = {"country_code": "FR", "lat": 48.86, "lon": 2.35, "confidence": 0.9}
    store.finish_run(run_id, guess=guess, seconds=2.5, llm_calls=1, tool_calls=1, tokens=150)

    run = store.get_run(run_id)
    assert run["status"] == "ok" and run["guess"] == guess and run["truth"] == TRUTH_FR
    assert run["country_correct"] is True and 0 < run["error_km"] < 3
    assert run["prior_p_truth"] == pytest.approx(0.1) and run["prior_top"][0] == ["US", 0.5]
    steps = store.steps(run_id)
    assert [s["idx"] for s in steps] == [0, 1, 2]
    assert steps[0]["p_truth"] == pytest.approx(0.6) and steps[0]["belief_top"][0] == ["FR", 0.6]
    assert steps[1]["p_truth"] is None  # the truth is not among the given top countries: unknown
    assert steps[2]["p_truth"] == pytest.approx(0.9)
    assert steps[1]["tokens_in"] == 120 and steps[0]["output"] == {"summary": "read 'CAFÉ'"}
    assert store.resolve_id(run_id[:6]) == run_id
    assert store.tools_used(run_id) == ["ocr"]
    store.close()


def test_list_filters(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    right = _run(store, truth=TRUTH_FR, eval_run="e1")
    store.add_step(right, kind="tool", name="ocr")
    store.finish_run(right, guess={"country_code": "FR", "lat": 48.8, "lon": 2.3, "confidence": 0.8},
                     seconds=1)
    wrong = _run(store, truth=TRUTH_FR, eval_run="e1", planner="llm")
    store.add_step(wrong, kind="tool", name="gazetteer")
    store.finish_run(wrong, guess={"country": "BE", "lat": 50.85, "lon": 4.35, "confidence": 0.4}, seconds=1)
    other = _run(store)

    def ids(**filters: object) -> set[str]:
        return {r["id"] for r in store.list_runs(**filters)}

    assert ids() == {right, wrong, other}
    assert ids(eval_run="e1") == {right, wrong}
    assert ids(wrong_country=True) == {wrong}
    assert ids(wrong_country=False) == {right}
    assert ids(min_error_km=100) == {wrong}
    assert ids(tool="ocr") == {right}
    assert ids(planner="llm") == {wrong}
    assert ids(status="running") == {other}
    started = store.get_run(wrong)["started"]
    assert wrong in ids(since=started) and ids(until=started) <= {right, other}
    assert len(store.list_runs(limit=2)) == 2
    with pytest.raises(ValueError, match="unknown trace filter"):
        store.list_runs(country="FR")
    with pytest.raises(ValueError, match="unknown step kind"):
        store.add_step(right, kind="thought", name="x")
    with pytest.raises(TraceStoreError, match="no run"):
        store.add_step("nope", kind="tool", name="x")
    with pytest.raises(TraceStoreError, match="no run"):
        store.resolve_id("zz")


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    store = TraceStore(path)
    _run(store)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()

    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(TraceStoreError, match="newer"):
        TraceStore(newer)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(TraceStoreError, match="not a geosleuth trace store"):
        TraceStore(foreign)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(TraceStoreError, match="not a usable SQLite"):
        TraceStore(garbage)


def test_concurrent_threads(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite")
    shared = _run(store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            own = _run(store, photo=f"p{n}.jpg")
            for i in range(40):
                store.add_step(own, kind="tool", name=f"t{i}")
                store.add_step(shared, kind="tool", name=f"w{n}")
            store.finish_run(own, guess=None, seconds=0.1)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [s["idx"] for s in store.steps(shared)] == list(range(8 * 40))
    runs = store.list_runs(status="ok")
    assert len(runs) == 8 and all(len(store.steps(r["id"])) == 40 for r in runs)
    store.close()


def _process_writer(path: str, shared: str, n: int) -> None:
    store = TraceStore(path)
    own = _run(store, photo=f"proc{n}.jpg")
    for i in range(30):
        store.add_step(own, kind="tool", name=f"t{i}", output={"i": i})
        store.add_step(shared, kind="llm", name=f"proc{n}")
    store.finish_run(own, guess=None, seconds=0.1)
    store.close()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_concurrent_processes(tmp_path: Path, method: str) -> None:
    path = tmp_path / "t.sqlite"
    store = TraceStore(path)  # opened in the parent first: a forked child must not reuse its connection
    shared = _run(store)
    context = multiprocessing.get_context(method)
    procs = [context.Process(target=_process_writer, args=(str(path), shared, n)) for n in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    assert [s["idx"] for s in store.steps(shared)] == list(range(4 * 30))
    assert sorted(s["name"] for s in store.steps(shared))[::30] == ["proc0", "proc1", "proc2", "proc3"]
    assert len(store.list_runs(status="ok")) == 4


def _killed_writer(path: str) -> None:
    store = TraceStore(path)
    run_id = _run(store, photo="killed.jpg")
    for i in range(3):
        store.add_step(run_id, kind="tool", name=f"t{i}")
    os.kill(os.getpid(), signal.SIGKILL)


def test_killed_writer_keeps_its_steps(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    proc = multiprocessing.get_context("spawn").Process(target=_killed_writer, args=(str(path),))
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == -signal.SIGKILL
    store = TraceStore(path)
    (run,) = store.list_runs()
    assert run["status"] == "running" and run["finished"] is None
    assert [s["name"] for s in store.steps(run["id"])] == ["t0", "t1", "t2"]


def test_secrets_never_reach_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api_key = "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    env_secret = "zq7-private-value-0042"
    monkeypatch.setenv("MY_SERVICE_TOKEN", env_secret)
    path = tmp_path / "t.sqlite"
    store = TraceStore(path)
    config = {"api_key": api_key, "llm": {"password": "hunter2hunter2", "model": "qwen"},
              "OPENAI_API_KEY": api_key, "max_tokens": 20000, "llm_model": "qwen"}
    run_id = _run(store, config=config)
    image = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + "QUJD" * 500}}
    messages = [{"role": "user", "content": f"use key {api_key} and {env_secret}"},
                {"role": "user", "content": [image]}]
    store.add_step(run_id, kind="llm", name="qwen", input=messages,
                   output={"headers": {"Authorization": "Bearer abcdefghijklmnop123456"}},
                   error=f"401 for key {api_key}")
    store.finish_run(run_id, guess=None, error=f"auth failed with {api_key}", seconds=1)
    store.close()

    reopened = TraceStore(path)
    run = reopened.get_run(run_id)
    assert run["config"] == {"llm": {"model": "qwen"}, "max_tokens": 20000, "llm_model": "qwen"}
    (step,) = reopened.steps(run_id)
    assert step["input"][0]["content"] == "use key [redacted] and [redacted]"
    assert "inline image" in str(step["input"][1]) and "QUJDQUJD" not in str(step["input"][1])
    assert step["output"]["headers"]["Authorization"] == "[redacted]"
    assert "[redacted]" in step["error"] and "[redacted]" in run["error"]
    reopened.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (api_key, env_secret, "hunter2hunter2", "abcdefghijklmnop123456"):
        assert secret.encode() not in stored


@pytest.mark.slow
def test_real_policy_traces_on_examples(tmp_path: Path) -> None:
    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.planners import run_planner

    settings = Settings(use_metadata=False, tools=("ocr", "text_clues", "gazetteer"))
    store = TraceStore(tmp_path / "t.sqlite")
    labels = list(csv.DictReader((EXAMPLES / "labels.csv").open(encoding="utf-8")))[:2]
    for row in labels:
        truth = {"lat": float(row["lat"]), "lon": float(row["lon"]), "country": row["country_code"]}
        result = run_planner(load_photo(EXAMPLES / row["file"]), settings, planner="policy", traces=store,
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
