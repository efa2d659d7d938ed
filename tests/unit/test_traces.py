"""The trace store on a tmp SQLite file: schema, WAL, threads, secrets (processes: tests/integration)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from trace_runs import start_run

from geosleuth.run.traces import SCHEMA_VERSION, TraceStore, TraceStoreError

TRUTH_FR = {"lat": 48.8541, "lon": 2.3326, "country": "FR"}


def test_round_trip_scores_and_probability_of_truth(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "deep" / "folder" / "traces.sqlite")
    prior = {"US": 0.5, "FR": 0.1, "DE": 0.4}
    run_id = start_run(store, truth=TRUTH_FR, prior=prior, model="m1")
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
    right = start_run(store, truth=TRUTH_FR, eval_run="e1")
    store.add_step(right, kind="tool", name="ocr")
    store.finish_run(right, guess={"country_code": "FR", "lat": 48.8, "lon": 2.3, "confidence": 0.8},
                     seconds=1)
    wrong = start_run(store, truth=TRUTH_FR, eval_run="e1", planner="llm")
    store.add_step(wrong, kind="tool", name="gazetteer")
    store.finish_run(wrong, guess={"country": "BE", "lat": 50.85, "lon": 4.35, "confidence": 0.4}, seconds=1)
    other = start_run(store)

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
    start_run(store)
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
    shared = start_run(store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            own = start_run(store, photo=f"p{n}.jpg")
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


def test_secrets_never_reach_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api_key = "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    env_secret = "zq7-private-value-0042"
    monkeypatch.setenv("MY_SERVICE_TOKEN", env_secret)
    path = tmp_path / "t.sqlite"
    store = TraceStore(path)
    config = {"api_key": api_key, "llm": {"password": "hunter2hunter2", "model": "qwen"},
              "OPENAI_API_KEY": api_key, "max_tokens": 20000, "llm_model": "qwen"}
    run_id = start_run(store, config=config)
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
