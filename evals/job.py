"""One photo, the unit of work of evals and batches: `evaluate_one` locates it and returns its row.

The thread and process pools of `geosleuth.evals.runner` and the Ray tasks of
`geosleuth.evals.ray_backend` all run this, so a photo is evaluated the same way on every backend. A
labelled `Sample` (an eval) gets its error against the truth; an unlabelled `PhotoItem` (a batch of
a user's photos, `geosleuth.evals.batch`) gets the same row with no truth and no error.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geosleuth.core.config import Settings
from geosleuth.core.geo import distance_km
from geosleuth.core.photo import PhotoError, load_photo
from geosleuth.evals import tool_cache
from geosleuth.evals.datasets import Sample
from geosleuth.run.locate import LocateResult, locate_photo
from geosleuth.run.traces import LenientTraceStore, TraceStoreError
from geosleuth.tools.localizability import localizability

TRACES = "traces.sqlite"
"""The trace store of a run folder."""


@dataclass(frozen=True)
class PhotoItem:
    """One unlabelled photo of a batch: its row id and its file."""

    id: str
    image: Path


WorkItem = Sample | PhotoItem
"""What a worker locates: a labelled eval sample or an unlabelled photo."""


class ImageTimeout(BaseException):  # noqa: N818 - a BaseException so tool safety nets do not swallow it
    """Raised inside a worker when a photo goes past the per-image time limit."""


@dataclass(frozen=True)
class EvalJob:
    """What every worker needs to evaluate one photo (picklable, for processes and Ray)."""

    name: str
    run_dir: str
    settings: Settings
    planner: str
    time_limit_s: float
    tool_cache: str | None


log = logging.getLogger(__name__)
_STORES: dict[str, LenientTraceStore | None] = {}
_STORES_LOCK = threading.Lock()


def _trace_store(run_dir: str) -> LenientTraceStore | None:
    """Return this process's trace store of a run folder (one per process, one connection per thread).

    A store that cannot be opened (damaged, locked, unwritable) is logged once, naming the file, and
    the folder's photos run untraced; a write that fails later turns tracing off the same way.
    """
    key = f"{os.getpid()}:{run_dir}"
    with _STORES_LOCK:
        if key not in _STORES:
            try:
                _STORES[key] = LenientTraceStore(Path(run_dir) / TRACES)
            except (TraceStoreError, OSError) as exc:
                log.warning("not tracing this run: %s", exc)
                _STORES[key] = None
        return _STORES[key]


@contextmanager
def hard_limit(seconds: float) -> Iterator[None]:
    """Raise ImageTimeout in this block after `seconds` (main thread of a process only; else no-op)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise ImageTimeout(f"over the per-image limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _truth(item: WorkItem) -> dict[str, Any] | None:
    """Return a sample's ground truth, None for an unlabelled photo."""
    return item.truth() if isinstance(item, Sample) else None


def error_row(sample: WorkItem, planner: str, kind: str, message: str, seconds: float) -> dict[str, Any]:
    """Return the row of a photo that produced no answer (a miss), with what went wrong."""
    return {
        "id": sample.id,
        "image": str(sample.image),
        "truth": _truth(sample),
        "guess": None,
        "error_km": None,
        "country_correct": False if isinstance(sample, Sample) and sample.country is not None else None,
        "seconds": round(seconds, 3),
        "planner": planner,
        "tools_used": [],
        "llm_calls": 0,
        "tool_calls": 0,
        "tokens": 0,
        "error": {"type": kind, "message": message[:500]},
        "trace_id": None,
        "evidence": None,
    }


def top_evidence(result: LocateResult) -> str | None:
    """Return one line on the evidence that raised the guessed country most ("tool: finding"), else None."""
    code = result.guess.country_code
    moved = [(delta, ev) for ev, delta in (result.fusion.influence(code) if code else []) if delta > 0]
    if not moved:
        return None
    best = max(moved, key=lambda pair: pair[0])[1]
    return " ".join(f"{best.tool}: {best.summary}".split())[:300]


def result_row(sample: WorkItem, result: LocateResult, seconds: float) -> dict[str, Any]:
    """Return the row of a located photo: its guess, the error against any truth, cost and tool errors."""
    guess = result.guess
    lat, lon = guess.lat, guess.lon
    unexpected = [
        (e.tool, e.error) for e in result.evidence if e.error is not None and e.error.type == "unknown"
    ]
    error_km = None
    if (isinstance(sample, Sample) and sample.lat is not None and sample.lon is not None
            and lat is not None and lon is not None):
        error_km = round(distance_km(sample.lat, sample.lon, lat, lon), 3)
    return {
        "id": sample.id,
        "image": str(sample.image),
        "truth": _truth(sample),
        "guess": {
            "country": guess.country_code,
            "country_name": guess.country,
            "region": guess.region,
            "city": guess.place,
            "lat": guess.lat,
            "lon": guess.lon,
            "confidence": guess.confidence,
            "radius_km": guess.radius_km,
        },
        "error_km": error_km,
        "country_correct": (
            guess.country_code == sample.country if isinstance(sample, Sample) and sample.country is not None
            else None
        ),
        "seconds": round(seconds, 3),
        "planner": result.planner,
        "tools_used": list(dict.fromkeys(e.tool for e in result.evidence)),
        "llm_calls": result.llm_calls,
        "tool_calls": result.tool_calls,
        "tokens": result.tokens,
        "error": {
            "type": "tool_error",
            "message": "; ".join(f"{tool}: {error.message}" for tool, error in unexpected)[:500],
        } if unexpected else None,
        "trace_id": result.trace_id or None,
        "localizability": round(localizability(result.evidence, result.fusion.belief), 3),
        "evidence": top_evidence(result),
    }


def evaluate_one(job: EvalJob, sample: WorkItem) -> dict[str, Any]:
    """Locate one photo and return its results row; never raises for a problem with the photo.

    The agent sees the photo without metadata unless the job's settings allow it; a sample's truth
    goes to the trace only, and its trace belongs to the eval run (a batch photo's is a plain locate
    run). Past the per-image limit (enforced here in the main thread of a process) the row records a
    `timeout` error.
    """
    if tool_cache.active_folder() != (Path(job.tool_cache) if job.tool_cache else None):
        tool_cache.activate(job.tool_cache)
    start = time.perf_counter()
    try:
        with hard_limit(job.time_limit_s):
            photo = load_photo(sample.image, max_pixels=job.settings.max_pixels)
            result = locate_photo(
                photo,
                job.settings,
                planner=job.planner,
                traces=_trace_store(job.run_dir),
                truth=_truth(sample),
                eval_run=job.name if isinstance(sample, Sample) else None,
                photo_path=str(sample.image),
                run_tool=tool_cache.cached_run,
            )
    except ImageTimeout as exc:
        return error_row(sample, job.planner, "timeout", str(exc), time.perf_counter() - start)
    except PhotoError as exc:
        return error_row(sample, job.planner, "bad_input", str(exc), time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - one photo's failure is recorded, never fatal to the run
        message = f"{type(exc).__name__}: {exc}"
        return error_row(sample, job.planner, "exception", message, time.perf_counter() - start)
    return result_row(sample, result, time.perf_counter() - start)


def worker_init(cache_folder: str | None) -> None:
    """Start a worker process: Ctrl-C is the parent's to handle; the tool cache is on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tool_cache.activate(cache_folder)
