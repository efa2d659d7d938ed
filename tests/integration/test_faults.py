"""Faults in the middle of work, for real on copies of examples/*.jpg (geosleuth.app.bench_faults runs
each one; these tests hold them to the report's promises: survived, nothing lost or duplicated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geosleuth.app import bench_faults
from geosleuth.run.traces import TraceStore


def test_a_second_process_is_refused_and_a_killed_holder_frees_the_folder(tmp_path: Path) -> None:
    outcome = bench_faults.fault_lock(tmp_path)
    assert "in use by pid" in outcome.note and "command:" in outcome.note
    assert outcome.survived and (outcome.lost, outcome.duplicated) == (0, 0) and outcome.written == 6


def test_a_full_disk_stops_the_run_and_the_rerun_loses_and_repeats_nothing(tmp_path: Path) -> None:
    outcome = bench_faults.fault_disk_full(tmp_path)
    assert "cannot write" in outcome.note and "results.jsonl" in outcome.note
    assert outcome.survived and (outcome.lost, outcome.duplicated) == (0, 0) and outcome.written == 18


def test_a_damaged_trace_database_is_named_and_rows_are_still_written(tmp_path: Path) -> None:
    outcome = bench_faults.fault_corrupt_traces(tmp_path)
    assert outcome.survived and outcome.written == 6, outcome


def test_a_locked_trace_database_is_named_and_rows_are_still_written(tmp_path: Path) -> None:
    outcome = bench_faults.fault_locked_traces(tmp_path)
    assert outcome.survived and outcome.written == 6, outcome


def test_a_damaged_tool_cache_entry_is_reported_and_recomputed(tmp_path: Path) -> None:
    outcome = bench_faults.fault_tool_cache(tmp_path)
    assert outcome.survived and "damaged" in outcome.note, outcome


@pytest.mark.slow
def test_a_damaged_model_file_is_reported_and_assembled_again(tmp_path: Path) -> None:
    outcome = bench_faults.fault_model(tmp_path)
    assert outcome.survived and "sha256" in outcome.note, outcome


@pytest.mark.slow
def test_an_llm_server_process_killed_mid_call_leaves_the_look_first_answer_and_the_next_photo_a_new_one(
    tmp_path: Path,
) -> None:
    try:
        outcome = bench_faults.fault_llm_server(tmp_path)
    except bench_faults.FaultUnavailable as exc:
        pytest.skip(str(exc))
    assert outcome.survived and (outcome.given, outcome.written, outcome.lost, outcome.duplicated) == (
        2, 2, 0, 0), outcome
    # the root cause is named: the server closed the connection before its reply was complete
    assert "RemoteProtocolError" in outcome.note and "is dead; starting a new one" in outcome.note
    store = TraceStore(tmp_path / "llm" / "traces.sqlite")
    runs = sorted(store.list_runs(), key=lambda run: run["started"])  # the killed photo's run, then the next
    assert [run["status"] for run in runs] == ["ok", "ok"]
    killed, after = ([s for s in store.steps(run["id"]) if s["kind"] in ("llm", "commit")] for run in runs)
    assert [s["kind"] for s in killed] == ["llm", "commit"]
    said = (killed[0]["error"], killed[1]["output"]["rationale"])  # the failed call, the commit's rationale
    assert all("RemoteProtocolError" in why for why in said), said
    assert after[0]["kind"] == "llm" and after[0]["error"] is None and after[0]["tokens_out"] > 0
