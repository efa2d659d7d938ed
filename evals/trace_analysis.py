"""Reading traces: the probability of the truth step by step, failure classes, tool attribution, diffs.

Everything here works on what `geosleuth.run.traces.TraceStore` returns (a run header dict and its list of
step dicts) and is pure: no I/O, no models. The rules are documented in docs/traces.md; the thresholds
below are round numbers chosen by reasoning about probabilities, never fitted to any benchmark.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from itertools import zip_longest
from typing import Any

from geosleuth.tools import text_readers, text_tools

Run = dict[str, Any]
"""A run header as `TraceStore.get_run` / `list_runs` return it (JSON columns parsed)."""

Step = dict[str, Any]
"""One step as `TraceStore.steps` returns it (JSON columns parsed)."""

MOVED = 0.01
"""A country's probability must change by more than this for a step to have moved the Belief."""

LARGE_DROP = 0.2
"""A step that lowers P(truth) by at least this much (absolute) misled the run ..."""

LARGE_DROP_RATIO = 0.1
"""... and so does one that cuts P(truth) to a tenth of its value or less."""

PUSHED_RATIO = 0.5
"""A text step that halves P(truth) (or lowers it by more than MOVED) with a wrong leader misread text."""

FAILURE_CLASSES: dict[str, str] = {
    "tool_error": "a tool (or the run) failed with an error other than 'nothing found' (no_result) or "
    "'service offline' (an online service answering unavailable)",
    "budget_exhausted": "a guard stopped the run because a step, time or token budget ran out",
    "no_usable_evidence": "no step moved the Belief away from the prior",
    "evidence_ignored": "the true country led the Belief after some step, but the final guess differs",
    "text_misread": "OCR read text and a text tool (text_clues, gazetteer, osm) lowered P(truth) "
    "(by more than 0.01, or to half or less) and left a wrong country on top",
    "misleading_tool": "a tool step cut P(truth) by a large amount (>= 0.2, or to a tenth or less)",
    "committed_too_early": "P(truth) was still rising at the last tool step, or an LLM planner stopped "
    "with steps left and confidence under the stop threshold",
    "weak_evidence": "P(truth) ended above the prior, but not enough to overtake the wrong leader",
    "other": "a wrong answer none of the rules above explain",
}
"""The failure taxonomy in priority order: a failed run's primary class is the first that applies."""

ONLINE_SERVICES = ("osm",)
"""Tools backed by an online service: their `unavailable` answer means the service is offline (the
network, or the server, is down), which says nothing about the agent and is no `tool_error`."""

_BUDGET = re.compile(r"budget|max_steps|max_seconds|max_tokens", re.IGNORECASE)
"""What a guard's stop reason (or a call refused over the step budget) says when a budget ran out."""


def truth_country(run: Run) -> str | None:
    """Return the run's true country code, None when the truth is unknown."""
    return run.get("truth_country")


def is_failure(run: Run) -> bool:
    """Whether a run with a known true country got the country wrong, gave no answer, or errored."""
    if truth_country(run) is None:
        return False
    return run.get("status") == "error" or not run.get("country_correct")


def final_p_truth(steps: list[Step], default: float | None = None) -> float | None:
    """P(true country) after the last step that recorded it; `default` when none did."""
    return next((s["p_truth"] for s in reversed(steps) if s.get("p_truth") is not None), default)


def tool_deltas(run: Run, steps: list[Step]) -> list[dict[str, Any]]:
    """For each tool step: P(truth) before (the last known value) and after it, and the change.

    Values are None where the trace does not know them (no truth, or no Belief recorded).
    """
    rows = []
    before = run.get("prior_p_truth")
    for step in steps:
        after = step.get("p_truth")
        if step["kind"] == "tool":
            delta = None if before is None or after is None else after - before
            rows.append({"idx": step["idx"], "tool": step["name"], "before": before, "after": after,
                         "delta": delta})
        if after is not None:
            before = after
    return rows


def _evidence_error_type(step: Step) -> str | None:
    """Return the error type of a step: the Evidence's error.type when the output is an Evidence dump."""
    output = step.get("output")
    if isinstance(output, dict) and isinstance(output.get("error"), dict):
        return str(output["error"].get("type"))
    error = step.get("error")
    return None if error is None else str(error).split(":", 1)[0].strip()


def _service_offline(step: Step) -> bool:
    """Whether a step is a call to an online service that answered `unavailable` (the service is offline)."""
    in_service = step["kind"] == "tool" and step["name"] in ONLINE_SERVICES
    return in_service and _evidence_error_type(step) == "unavailable"


def offline_services(steps: list[Step]) -> list[str]:
    """Return the online services (ONLINE_SERVICES) that were offline in a run, in step order."""
    return list(dict.fromkeys(s["name"] for s in steps if _service_offline(s)))


def _top(step_or_run: Run | Step, key: str = "belief_top") -> list[list[Any]] | None:
    top = step_or_run.get(key)
    return top or None


def _moved(before: list[list[Any]], after: list[list[Any]]) -> bool:
    """Whether two top-k lists differ: another leader, or a shared country changed by more than MOVED."""
    if before[0][0] != after[0][0]:
        return True
    then = dict((code, p) for code, p in before)
    return any(abs(p - then[code]) > MOVED for code, p in after if code in then)


def _any_step_moved(run: Run, steps: list[Step]) -> bool:
    """Whether some step moved the Belief away from the prior (from evidence claims when no prior is kept)."""
    prior = _top(run, "prior_top")
    if prior is not None:
        return any(_moved(prior, top) for top in (_top(s) for s in steps) if top)
    for step in steps:
        output = step.get("output")
        if step["kind"] == "tool" and isinstance(output, dict) and not output.get("error"):
            if output.get("country_likelihoods") and output.get("strength", 1.0) > 0:
                return True
    return False


def _large_drop(delta_row: dict[str, Any]) -> bool:
    before, after, delta = delta_row["before"], delta_row["after"], delta_row["delta"]
    if delta is None or delta >= 0:
        return False
    return bool(-delta >= LARGE_DROP or (before > 0 and after <= before * LARGE_DROP_RATIO))


def _ocr_read_text(steps: list[Step]) -> bool:
    """Whether a reader (ocr, zoom) read lines of text in this run."""
    readers = text_readers()
    for step in steps:
        output = step.get("output")
        if step["kind"] == "tool" and step["name"] in readers and isinstance(output, dict):
            if (output.get("observations") or {}).get("lines"):
                return True
    return False


def classify(run: Run, steps: list[Step]) -> list[str]:
    """Every failure class (in FAILURE_CLASSES order) that applies to a failed run; [] for any other run.

    The first item is the run's primary class. The rules are in docs/traces.md.
    """
    if not is_failure(run):
        return []
    truth = truth_country(run)
    deltas = tool_deltas(run, steps)
    by_idx = {s["idx"]: s for s in steps}
    classes = []
    if run.get("error") or any(
        s.get("error") is not None and _evidence_error_type(s) != "no_result"
        and not _BUDGET.search(s["error"])
        and not _service_offline(s)
        for s in steps
    ):
        classes.append("tool_error")
    if any(
        (s["kind"] == "guard" and _BUDGET.search(f"{s['name']} {s.get('output')}"))
        or (s.get("error") and _BUDGET.search(s["error"]))
        for s in steps
    ):
        classes.append("budget_exhausted")
    if not _any_step_moved(run, steps):
        classes.append("no_usable_evidence")
    if any(s["kind"] != "commit" and (_top(s) or [[None]])[0][0] == truth for s in steps):
        classes.append("evidence_ignored")
    if _ocr_read_text(steps) and any(
        row["tool"] in text_tools() and row["delta"] is not None and row["delta"] < 0
        and (row["delta"] < -MOVED or row["after"] <= row["before"] * PUSHED_RATIO)
        and (_top(by_idx[row["idx"]]) or [[truth]])[0][0] != truth
        for row in deltas
    ):
        classes.append("text_misread")
    if any(_large_drop(row) for row in deltas):
        classes.append("misleading_tool")
    known = [row for row in deltas if row["delta"] is not None]
    rising = bool(known) and known[-1]["delta"] > MOVED
    config = run.get("config") or {}
    confidence = (run.get("guess") or {}).get("confidence") or 0.0
    stopped_early = (
        run.get("planner") == "llm"
        and run.get("tool_calls", 0) < config.get("max_steps", math.inf)
        and confidence < config.get("stop_confidence", 1.0)
        and "budget_exhausted" not in classes
    )
    if rising or stopped_early:
        classes.append("committed_too_early")
    final = final_p_truth(steps)
    prior = run.get("prior_p_truth")
    if final is not None and prior is not None and final > prior + MOVED:
        classes.append("weak_evidence")
    return classes or ["other"]


def attribution(traces: list[tuple[Run, list[Step]]]) -> list[dict[str, Any]]:
    """Per tool, how much its steps moved P(truth): mean change, mean log-ratio, and counts.

    Only steps whose before and after P(truth) are known count. Rows are sorted by mean change.
    """
    per_tool: dict[str, list[dict[str, Any]]] = {}
    for run, steps in traces:
        for row in tool_deltas(run, steps):
            if row["delta"] is not None:
                per_tool.setdefault(row["tool"], []).append(row)
    table = []
    for tool, rows in per_tool.items():
        logs = [math.log(r["after"] / r["before"]) for r in rows if r["before"] > 0 and r["after"] > 0]
        table.append({
            "tool": tool,
            "steps": len(rows),
            "mean_delta": sum(r["delta"] for r in rows) / len(rows),
            "mean_log_ratio": sum(logs) / len(logs) if logs else None,
            "toward": sum(r["delta"] > MOVED for r in rows),
            "away": sum(r["delta"] < -MOVED for r in rows),
            "misled": sum(_large_drop(r) for r in rows),
        })
    return sorted(table, key=lambda r: -r["mean_delta"])


def confusions(runs: list[Run], top: int = 10) -> list[dict[str, Any]]:
    """Return the most common (true country, guessed country) pairs among wrong-country runs."""
    pairs = Counter(
        (r["truth_country"], r.get("guess_country") or "-") for r in runs if is_failure(r)
    )
    return [{"truth": t, "guess": g, "count": n} for (t, g), n in pairs.most_common(top)]


def failure_report(traces: list[tuple[Run, list[Step]]], examples: int = 3) -> dict[str, Any]:
    """Analyse the failures of a set of traces (usually one eval run).

    Returns {"runs", "with_truth", "failures", "classes": {name: {"description", "primary", "any",
    "examples": [...]}}, "offline": {service: {"runs", "failures"}}, "attribution", "confusions"}.
    `offline` counts the runs in which an online service was offline, and how many of those failed
    (classed by the other rules: an offline service is not a tool_error).
    """
    with_truth = [(r, s) for r, s in traces if truth_country(r) is not None]
    failed = [(r, s, classify(r, s)) for r, s in with_truth if is_failure(r)]
    classes: dict[str, dict[str, Any]] = {
        name: {"description": text, "primary": 0, "any": 0, "examples": []}
        for name, text in FAILURE_CLASSES.items()
    }
    for run, steps, labels in failed:
        classes[labels[0]]["primary"] += 1
        for label in labels:
            classes[label]["any"] += 1
        if len(classes[labels[0]]["examples"]) < examples:
            classes[labels[0]]["examples"].append({
                "id": run["id"], "photo": run["photo"], "truth": run["truth_country"],
                "guess": run.get("guess_country"), "error_km": run.get("error_km"), "classes": labels,
                "p_truth_final": final_p_truth(steps, run.get("prior_p_truth")),
            })
    offline: dict[str, dict[str, int]] = {}
    for run, steps in traces:
        for service in offline_services(steps):
            counts = offline.setdefault(service, {"runs": 0, "failures": 0})
            counts["runs"] += 1
            counts["failures"] += is_failure(run)
    return {
        "runs": len(traces),
        "with_truth": len(with_truth),
        "failures": len(failed),
        "classes": classes,
        "offline": offline,
        "attribution": attribution(with_truth),
        "confusions": confusions([r for r, _ in with_truth]),
    }


def step_summary(step: Step) -> str:
    """One line saying what a step did: the tool's finding, the LLM's reply, the guard's reason, the guess."""
    output = step.get("output")
    if step.get("error"):
        return f"error: {step['error']}"
    if step["kind"] == "tool" and isinstance(output, dict) and "summary" in output:
        return str(output["summary"])
    if step["kind"] == "commit" and isinstance(output, dict):
        guess: dict[str, Any] = output["guess"] if isinstance(output.get("guess"), dict) else output
        where = ", ".join(str(guess[k]) for k in ("place", "region", "country") if guess.get(k))
        where = where or guess.get("country_code") or "nothing"
        return f"guess {where} (confidence {guess.get('confidence') or 0:.2f})"
    if isinstance(output, dict):
        for key in ("reasoning", "content", "why", "reason", "rationale", "text", "message"):
            if output.get(key):
                return str(output[key])
        if output.get("tool_calls"):
            calls = [str(c.get("name", c)) for c in output["tool_calls"] if isinstance(c, dict)]
            return "calls " + ", ".join(calls)
    return "" if output is None else str(output)


def _step_line(step: Step | None) -> str:
    if step is None:
        return ""
    top = _top(step)
    lead = f" → {top[0][0]} {top[0][1]:.2f}" if top else ""
    p = step.get("p_truth")
    truth = f" (P(truth) {p:.3f})" if p is not None else ""
    return f"{step['idx']} {step['kind']} {step['name']}{lead}{truth}: {step_summary(step)[:120]}"


def diff_runs(a: Run, steps_a: list[Step], b: Run, steps_b: list[Step]) -> dict[str, Any]:
    """Compare two traces (usually of one photo): header fields side by side and steps in parallel.

    Returns {"same_photo": bool, "header": [(field, a, b)], "steps": [(a_line, b_line)],
    "first_divergence": index of the first step whose kind/name differ, or None}.
    """
    def tools(steps: list[Step]) -> str:
        return ", ".join(s["name"] for s in steps if s["kind"] == "tool")

    fields: list[tuple[str, Callable[[Run, list[Step]], Any]]] = [
        ("id", lambda r, s: r["id"]),
        ("photo", lambda r, s: r["photo"]),
        ("planner", lambda r, s: r["planner"]),
        ("model", lambda r, s: r.get("model")),
        ("truth", lambda r, s: r.get("truth_country")),
        ("guess", lambda r, s: r.get("guess_country")),
        ("confidence", lambda r, s: (r.get("guess") or {}).get("confidence")),
        ("error_km", lambda r, s: r.get("error_km")),
        ("P(truth) final", lambda r, s: final_p_truth(s, r.get("prior_p_truth"))),
        ("failure classes", lambda r, s: ", ".join(classify(r, s)) or "-"),
        ("tools", lambda r, s: tools(s)),
        ("steps", lambda r, s: len(s)),
        ("llm calls", lambda r, s: r.get("llm_calls")),
        ("tokens", lambda r, s: r.get("tokens")),
        ("seconds", lambda r, s: r.get("seconds")),
    ]
    header = [(name, get(a, steps_a), get(b, steps_b)) for name, get in fields]
    divergence = next(
        (i for i, (x, y) in enumerate(zip_longest(steps_a, steps_b))
         if x is None or y is None or (x["kind"], x["name"]) != (y["kind"], y["name"])),
        None,
    )
    same = bool(a.get("photo_sha256")) and a.get("photo_sha256") == b.get("photo_sha256")
    return {
        "same_photo": same or a["photo"] == b["photo"],
        "header": header,
        "steps": [(_step_line(x), _step_line(y)) for x, y in zip_longest(steps_a, steps_b)],
        "first_divergence": divergence,
    }
