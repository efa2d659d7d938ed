"""The failure rules of docs/traces.md on hand-written traces (`geosleuth trace`: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geosleuth.evals.trace_analysis import FAILURE_CLASSES, attribution, classify, diff_runs, failure_report
from geosleuth.run.traces import TraceStore


def _store_with(tmp_path: Path, steps: list[dict], guess: str = "US", prior: dict | None = None,
                planner: str = "policy", config: dict | None = None) -> tuple[dict, list[dict]]:
    """Write a run with the given steps (add_step keyword dicts) and read it back; the truth is FR."""
    store = TraceStore(tmp_path / "rules.sqlite")
    run_id = store.start_run(kind="eval", planner=planner, photo="p.jpg", photo_sha256=None,
                             config=config or {},
                             truth={"lat": 48.85, "lon": 2.35, "country": "FR"},
                             prior=prior or {"US": 0.6, "FR": 0.2, "DE": 0.2})
    for step in steps:
        store.add_step(run_id, **step)
    store.finish_run(run_id, guess={"country_code": guess, "lat": 40.0, "lon": -100.0, "confidence": 0.5},
                     seconds=1.0, tool_calls=len(steps))
    return store.get_run(run_id), store.steps(run_id)


def test_failure_rules(tmp_path: Path) -> None:
    """Each rule of docs/traces.md fires on the trace it describes and not on the others."""
    ocr = {"observations": {"lines": [{"text": "Bahnhofstr.", "box": [0, 0, 10, 10]}]}}
    cases = {
        "tool_error": [dict(kind="tool", name="osm", error="timeout: Overpass did not answer",
                            belief={"US": 0.6, "FR": 0.2, "DE": 0.2})],
        "budget_exhausted": [dict(kind="tool", name="ocr", belief={"US": 0.5, "FR": 0.3, "DE": 0.2}),
                             dict(kind="guard", name="budget", output={"reason": "max_steps reached"})],
        "no_usable_evidence": [dict(kind="tool", name="ocr", error="no_result: no text found",
                                    belief={"US": 0.6, "FR": 0.2, "DE": 0.2})],
        "evidence_ignored": [dict(kind="tool", name="text_clues", belief={"FR": 0.5, "US": 0.3, "DE": 0.2}),
                             dict(kind="llm", name="m", belief={"US": 0.5, "FR": 0.3, "DE": 0.2})],
        "text_misread": [dict(kind="tool", name="ocr", output=ocr, belief={"US": 0.6, "FR": 0.2, "DE": 0.2}),
                         dict(kind="tool", name="gazetteer", belief={"US": 0.7, "FR": 0.15, "DE": 0.15})],
        "misleading_tool": [dict(kind="tool", name="clip", belief={"US": 0.95, "FR": 0.01, "DE": 0.04})],
        "committed_too_early": [dict(kind="tool", name="text_clues",
                                     belief={"US": 0.5, "FR": 0.4, "DE": 0.1})],
    }
    for expected, steps in cases.items():
        run, trace = _store_with(tmp_path, steps)
        assert classify(run, trace)[0] == expected, (expected, classify(run, trace))
    run, trace = _store_with(tmp_path, cases["committed_too_early"], guess="FR")
    assert classify(run, trace) == [], "a right answer is no failure"
    llm_stop = [dict(kind="tool", name="text_clues", belief={"US": 0.5, "FR": 0.25, "DE": 0.25}),
                dict(kind="tool", name="gazetteer", belief={"US": 0.5, "FR": 0.25, "DE": 0.25})]
    budgets = {"max_steps": 8, "stop_confidence": 0.9}
    run, trace = _store_with(tmp_path, llm_stop, planner="llm", config=budgets)
    assert "committed_too_early" in classify(run, trace)
    run, trace = _store_with(tmp_path, llm_stop, planner="policy")
    assert classify(run, trace) == ["weak_evidence"]
    assert list(FAILURE_CLASSES)[-1] == "other"

    report = failure_report([_store_with(tmp_path, s) for s in cases.values()])
    assert report["failures"] == len(cases)
    assert all(report["classes"][name]["primary"] == 1 for name in cases)
    (clip,) = attribution([_store_with(tmp_path, cases["misleading_tool"])])
    assert clip["mean_delta"] == pytest.approx(0.01 - 0.2) and clip["misled"] == 1 and clip["away"] == 1
    a, b = _store_with(tmp_path, cases["text_misread"]), _store_with(tmp_path, cases["misleading_tool"])
    assert diff_runs(*a, *b)["first_divergence"] == 0


def test_an_offline_osm_service_is_no_tool_error(tmp_path: Path) -> None:
    """osm answering `unavailable` is the network's doing: a separate count, never a tool_error."""
    belief = {"US": 0.6, "FR": 0.2, "DE": 0.2}
    offline = dict(kind="tool", name="osm", error="unavailable: service unreachable: [Errno 111]",
                   output={"tool": "osm", "error": {"type": "unavailable", "message": "unreachable"}},
                   belief=belief)
    run, trace = _store_with(tmp_path, [dict(kind="tool", name="ocr", belief=belief), offline])
    assert classify(run, trace) == ["no_usable_evidence"]
    right = _store_with(tmp_path, [offline], guess="FR")
    timeout = _store_with(tmp_path, [dict(offline, error="timeout: Overpass did not answer",
                                          output={"error": {"type": "timeout", "message": "slow"}})])
    assert classify(*timeout)[0] == "tool_error", "a timeout is still the tool's failure"
    report = failure_report([(run, trace), right, timeout])
    assert report["failures"] == 2 and report["classes"]["tool_error"]["primary"] == 1
    assert report["offline"] == {"osm": {"runs": 2, "failures": 1}}
