"""The eval runner: one photo is the unit of work; a run folder records config, results and traces.

`run_eval` loads a dataset, starts (or resumes) the run folder `runs/NAME` and evaluates each photo not
yet done on a pool of workers (threads, processes or Ray tasks). The parent process is the one writer
of `results.jsonl`: each finished photo is appended as one JSON line, flushed and fsynced, so after a
`kill -9` at most the last line is torn; a rerun drops the torn tail, skips the ids already written
and evaluates the rest, so no row is duplicated or lost. `run.json` records the configuration; a run
folder made for another dataset, planner, tool list or metadata choice is refused unless
`force_new`, which moves the old folder aside.

One photo's failure never stops the run: an unreadable photo, an exception, or going past the
per-image time limit becomes a row whose `error` says what happened (`timeout` for the limit) and
whose guess is null (a miss). File metadata is withheld from every tool unless `allow_metadata`.
Tool results are cached by photo hash (`geosleuth.evals.tool_cache`), so a second run with other tools
(an ablation) reuses the OCR of the first.

Threads are the default backend: on a 2-core CPU they were measured faster than processes (0.54 vs
0.47 photos/s at 2 workers, `geosleuth bench --suite eval`) and lighter (1.9 vs 3.2 GB), and an LLM
planner shares one embedded model. Processes add a hard per-image limit (SIGALRM in the worker); with
threads an overdue photo gets its timeout row from the parent and its late result is dropped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from geosleuth.core.config import Settings
from geosleuth.evals.datasets import Sample, get_spec, load_samples, require_images

BACKENDS = ("thread", "process", "ray")
RESULTS = "results.jsonl"
HEADER = "run.json"
TRACES = "traces.sqlite"
GRACE_S = 10.0
"""How long past the per-image limit the parent waits for a worker before writing a timeout row itself."""
AGENT_BUDGET_SHARE = 0.8
"""The agent's own time budget (`max_seconds`) is at most this share of the per-image limit, so it
commits with what it has before the hard limit stops it."""
MATCH_KEYS = ("dataset", "planner", "tools", "allow_metadata")
"""Header fields a resumed run must share with the run folder."""


class RunError(ValueError):
    """An eval run that cannot start or resume (one-line message)."""


class ImageTimeout(BaseException):  # noqa: N818 - a BaseException so tool safety nets do not swallow it
    """Raised inside a worker when a photo goes past the per-image time limit."""


@dataclass(frozen=True)
class EvalOptions:
    """What to run: the dataset, the planner, where to write, and how."""

    dataset: str
    out: Path
    planner: str = "policy"
    limit: int | None = None
    workers: int = 2
    backend: str = "thread"
    time_limit_s: float = 300.0
    allow_metadata: bool = False
    force_new: bool = False
    data_root: Path | None = None
    ray_address: str | None = None
    tool_cache: bool = True
    progress: bool = True


@dataclass(frozen=True)
class EvalJob:
    """What every worker needs to evaluate one photo (picklable, for processes and Ray)."""

    name: str
    run_dir: str
    settings: Settings
    planner: str
    time_limit_s: float
    tool_cache: str | None


@dataclass
class EvalSummary:
    """What a run produced: its folder, the rows of the selected photos, and counts."""

    run_dir: Path
    rows: list[dict[str, Any]]
    new_rows: int
    resumed_rows: int
    interrupted: bool = False
    metrics: dict[str, float | int] = field(default_factory=dict)


# one photo ------------------------------------------------------------------------------------------

_STORES: dict[str, Any] = {}
_STORES_LOCK = threading.Lock()


def _trace_store(run_dir: str) -> Any:
    """This process's TraceStore of a run folder (one per process; it keeps one connection per thread)."""
    from geosleuth.run.traces import TraceStore

    key = f"{os.getpid()}:{run_dir}"
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = TraceStore(Path(run_dir) / TRACES)
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


def error_row(sample: Sample, planner: str, kind: str, message: str, seconds: float) -> dict[str, Any]:
    """The row of a photo that produced no answer (a miss), with what went wrong."""
    return {
        "id": sample.id,
        "image": str(sample.image),
        "truth": sample.truth(),
        "guess": None,
        "error_km": None,
        "country_correct": None if sample.country is None else False,
        "seconds": round(seconds, 3),
        "planner": planner,
        "tools_used": [],
        "llm_calls": 0,
        "tool_calls": 0,
        "tokens": 0,
        "error": {"type": kind, "message": message[:500]},
        "trace_id": None,
    }


def result_row(sample: Sample, result: Any, seconds: float) -> dict[str, Any]:
    """The row of a located photo: its guess, the error against the truth, cost and tool errors."""
    from geosleuth.core.geo import distance_km
    from geosleuth.tools.localizability import localizability

    guess = result.guess
    answered = guess.lat is not None and guess.lon is not None
    unexpected = [e for e in result.evidence if e.error is not None and e.error.type == "unknown"]
    return {
        "id": sample.id,
        "image": str(sample.image),
        "truth": sample.truth(),
        "guess": {
            "country": guess.country_code,
            "region": guess.region,
            "city": guess.place,
            "lat": guess.lat,
            "lon": guess.lon,
            "confidence": guess.confidence,
            "radius_km": guess.radius_km,
        },
        "error_km": round(distance_km(sample.lat, sample.lon, guess.lat, guess.lon), 3) if answered else None,
        "country_correct": None if sample.country is None else guess.country_code == sample.country,
        "seconds": round(seconds, 3),
        "planner": result.planner,
        "tools_used": list(dict.fromkeys(e.tool for e in result.evidence)),
        "llm_calls": result.llm_calls,
        "tool_calls": result.tool_calls,
        "tokens": result.tokens,
        "error": {
            "type": "tool_error",
            "message": "; ".join(f"{e.tool}: {e.error.message}" for e in unexpected)[:500],
        } if unexpected else None,
        "trace_id": result.trace_id,
        "localizability": round(localizability(result.evidence, result.fusion.belief), 3),
    }


def evaluate_one(job: EvalJob, sample: Sample) -> dict[str, Any]:
    """Locate one photo and return its results row; never raises for a problem with the photo.

    The agent sees the photo without metadata unless the job's settings allow it; `truth` goes to
    the trace only. Past the per-image limit (enforced here in the main thread of a process) the row
    records a `timeout` error.
    """
    from geosleuth.core.photo import PhotoError, load_photo
    from geosleuth.run.planners import run_planner
    from geosleuth.evals import tool_cache

    if tool_cache.active_folder() != (Path(job.tool_cache) if job.tool_cache else None):
        tool_cache.activate(job.tool_cache)
    start = time.perf_counter()
    try:
        with hard_limit(job.time_limit_s):
            photo = load_photo(sample.image, max_pixels=job.settings.max_pixels)
            result = run_planner(
                photo,
                job.settings,
                planner=job.planner,
                traces=_trace_store(job.run_dir),
                truth=sample.truth(),
                eval_run=job.name,
                photo_path=str(sample.image),
            )
    except ImageTimeout as exc:
        return error_row(sample, job.planner, "timeout", str(exc), time.perf_counter() - start)
    except PhotoError as exc:
        return error_row(sample, job.planner, "bad_input", str(exc), time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - one photo's failure is recorded, never fatal to the run
        message = f"{type(exc).__name__}: {exc}"
        return error_row(sample, job.planner, "exception", message, time.perf_counter() - start)
    return result_row(sample, result, time.perf_counter() - start)


def _worker_init(cache_folder: str | None) -> None:
    """Start a worker process: Ctrl-C is the parent's to handle; the tool cache is on."""
    from geosleuth.evals import tool_cache

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tool_cache.activate(cache_folder)


# the run folder -------------------------------------------------------------------------------------


def read_results(path: Path, *, repair: bool = False) -> dict[str, dict[str, Any]]:
    """Read results.jsonl into {id: row}; a torn last line (a killed writer) is ignored.

    With `repair`, the torn tail is cut off the file, so appending starts on a fresh line.

    Raises:
        RunError: a line other than the last does not parse (the file is corrupt).
    """
    if not path.is_file():
        return {}
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    if repair and complete < len(data):
        with path.open("r+b") as handle:
            handle.truncate(complete)
            os.fsync(handle.fileno())
    rows: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(data[:complete].splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunError(f"{path}, line {number}: not JSON ({exc.msg}); the file is corrupt") from None
        rows[str(row["id"])] = row
    return rows


class ResultsWriter:
    """Appends rows to results.jsonl, each as one line, flushed and fsynced (one writer per run)."""

    def __init__(self, path: Path) -> None:
        """Open `path` for appending (after `read_results(..., repair=True)` cut any torn tail)."""
        self._handle = path.open("ab")

    def write(self, row: dict[str, Any]) -> None:
        """Append one row durably."""
        self._handle.write(json.dumps(row, ensure_ascii=False, allow_nan=False).encode() + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def _git() -> dict[str, Any] | None:
    """The checkout's commit and whether it has uncommitted changes, None outside a git checkout."""
    repo = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geosleuth")
    except PackageNotFoundError:
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def make_header(
    options: EvalOptions, settings: Settings, planner: str, dataset_version: int
) -> dict[str, Any]:
    """The run.json header of a run (settings scrubbed of secrets)."""
    from geosleuth.run.traces import scrub_config

    return {
        "name": options.out.name,
        "dataset": options.dataset,
        "dataset_version": dataset_version,
        "planner": planner,
        "tools": list(settings.tools),
        "settings": scrub_config(settings.model_dump(mode="json")),
        "allow_metadata": options.allow_metadata,
        "limit": options.limit,
        "workers": options.workers,
        "backend": options.backend,
        "time_limit_s": options.time_limit_s,
        "status": "started",
        "started": _now(),
        "finished": None,
        "geosleuth_version": _version(),
        "git": _git(),
    }


def _write_header(run_dir: Path, header: dict[str, Any]) -> None:
    tmp = run_dir / f".{HEADER}.tmp"
    tmp.write_text(json.dumps(header, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(run_dir / HEADER)


def prepare_run_dir(run_dir: Path, header: dict[str, Any], *, force_new: bool) -> dict[str, dict[str, Any]]:
    """Create or reopen a run folder and return the rows already in it.

    Raises:
        RunError: the folder holds a run made with another dataset, planner, tools or metadata choice
            (and not `force_new`), or its results file is corrupt.
    """
    old_header = run_dir / HEADER
    if run_dir.exists() and force_new and any(run_dir.iterdir()):
        aside = run_dir.with_name(f"{run_dir.name}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        run_dir.rename(aside)
    elif old_header.is_file():
        try:
            previous = json.loads(old_header.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{old_header} is unreadable ({exc}); use --force-new to start over") from None
        differ = [k for k in MATCH_KEYS if previous.get(k) != header[k]]
        if differ:
            what = ", ".join(f"{k}={previous.get(k)!r} (now {header[k]!r})" for k in differ)
            raise RunError(
                f"{run_dir} holds a run made with {what}; use another --out, or --force-new to move it "
                "aside and start over"
            )
        header["started"] = previous.get("started", header["started"])
    elif run_dir.exists() and (run_dir / RESULTS).is_file():
        raise RunError(f"{run_dir} has results but no {HEADER}; use --force-new to move it aside")
    run_dir.mkdir(parents=True, exist_ok=True)
    done = read_results(run_dir / RESULTS, repair=True)
    _write_header(run_dir, header)
    return done


# executing ------------------------------------------------------------------------------------------


class Backend(Protocol):
    """Runs `evaluate_one` for samples somewhere; handles are opaque."""

    def submit(self, sample: Sample) -> Any:
        """Start one photo; return a handle."""

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """Return the handles that are done (waiting at most `timeout` seconds for one)."""

    def result(self, handle: Any) -> dict[str, Any]:
        """The row of a finished handle."""

    def close(self, *, now: bool) -> None:
        """Release the workers; `now` abandons work in progress."""


class PoolBackend:
    """A `concurrent.futures` pool of threads or processes."""

    def __init__(self, job: EvalJob, kind: str, workers: int) -> None:
        """Start the pool (`kind` is "thread" or "process")."""
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        self.job = job
        self.pool: Executor
        if kind == "process":
            import multiprocessing

            self.pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("forkserver"),
                initializer=_worker_init, initargs=(job.tool_cache,),
            )
        else:
            from geosleuth.evals import tool_cache

            tool_cache.activate(job.tool_cache)
            self.pool = ThreadPoolExecutor(workers, thread_name_prefix="geosleuth-eval")

    def submit(self, sample: Sample) -> Future:
        """Start one photo."""
        return self.pool.submit(evaluate_one, self.job, sample)

    def wait(self, handles: list[Future], timeout: float) -> list[Future]:
        """The finished futures."""
        return list(wait(handles, timeout=timeout, return_when=FIRST_COMPLETED).done)

    def result(self, handle: Future) -> dict[str, Any]:
        """The row (a worker that died gives an exception, turned into an error row by the caller)."""
        return handle.result()

    def close(self, *, now: bool) -> None:
        """Shut the pool down; `now` cancels queued work and stops worker processes."""
        processes = list(getattr(self.pool, "_processes", None) or {}) if now else []
        self.pool.shutdown(wait=not now, cancel_futures=True)
        for pid in processes:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass


def make_backend(options: EvalOptions, job: EvalJob) -> Backend:
    """The backend named by `options.backend`."""
    if options.backend == "ray":
        from geosleuth.evals.ray_backend import RayBackend

        return RayBackend(job, workers=options.workers, address=options.ray_address)
    return PoolBackend(job, options.backend, options.workers)


def execute(
    backend: Backend,
    job: EvalJob,
    todo: list[Sample],
    workers: int,
    on_row: Callable[[dict[str, Any]], None],
) -> bool:
    """Evaluate `todo` with at most `workers` photos in flight; call `on_row` (the writer) for each row.

    A photo still running GRACE_S seconds past the per-image limit gets a timeout row (its late result,
    if any, is dropped). Ctrl-C stops starting photos and waits for those in flight; a second Ctrl-C
    abandons them. Returns True when interrupted.
    """
    queue = list(reversed(todo))
    flight: dict[Any, tuple[Sample, float]] = {}
    interrupted = False
    try:
        while queue or flight:
            while queue and len(flight) < workers and not interrupted:
                sample = queue.pop()
                flight[backend.submit(sample)] = (sample, time.monotonic())
            if not flight:
                break
            try:
                done = backend.wait(list(flight), timeout=1.0)
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = True
                continue
            for handle in done:
                sample, _started = flight.pop(handle)
                try:
                    row = backend.result(handle)
                except Exception as exc:  # noqa: BLE001 - a dead worker is that photo's error
                    row = error_row(sample, job.planner, "worker_error", f"{type(exc).__name__}: {exc}", 0.0)
                on_row(row)
            now = time.monotonic()
            for handle, (sample, started) in list(flight.items()):
                if now - started > job.time_limit_s + GRACE_S:
                    flight.pop(handle)
                    message = f"over the per-image limit of {job.time_limit_s:g} s (worker did not stop)"
                    on_row(error_row(sample, job.planner, "timeout", message, now - started))
    except KeyboardInterrupt:
        backend.close(now=True)
        return True
    backend.close(now=False)
    return interrupted


# the whole run --------------------------------------------------------------------------------------


def eval_settings(settings: Settings, options: EvalOptions) -> Settings:
    """The settings a run's agent gets: metadata withheld unless allowed; its budget inside the limit."""
    return settings.model_copy(update={
        "use_metadata": options.allow_metadata,
        "max_seconds": min(settings.max_seconds, options.time_limit_s * AGENT_BUDGET_SHARE),
    })


def resolve_eval_planner(requested: str, settings: Settings) -> str:
    """The planner a run uses ("auto" resolved); an LLM run with no LLM is refused up front.

    Raises:
        RunError: "llm" was asked for and no LLM is available.
    """
    from geosleuth.run.planners import resolve_planner

    planner = resolve_planner(requested, settings)
    if planner == "llm":
        from geosleuth.run.llm import llm_available

        available = llm_available(settings)
        if available is not True:
            raise RunError(f"no LLM available for --planner llm: {available}")
    return planner


def running_stats(rows: list[dict[str, Any]]) -> str:
    """One line for the progress bar: country accuracy, accuracy within 25 and 2500 km, errors."""
    if not rows:
        return ""
    n = len(rows)
    country = sum(bool(r.get("country_correct")) for r in rows) / n
    near = sum(r.get("error_km") is not None and r["error_km"] <= 25 for r in rows) / n
    far = sum(r.get("error_km") is not None and r["error_km"] <= 2500 for r in rows) / n
    errors = sum(r.get("error") is not None for r in rows)
    return f"country {country:.0%} · ≤25 km {near:.0%} · ≤2500 km {far:.0%} · errors {errors}"


def run_eval(options: EvalOptions, settings: Settings, console: Any = None) -> EvalSummary:
    """Run (or resume) an eval and return its summary; rows are in `options.out/results.jsonl`.

    Raises:
        DatasetError: the dataset is unknown, or missing (the message says where to get it).
        RunError: the run folder belongs to another configuration, or the planner cannot run.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from geosleuth.evals.metrics import scored_from_result, summarize

    if options.backend not in BACKENDS:
        raise RunError(f"unknown backend {options.backend!r}; known: {', '.join(BACKENDS)}")
    console = console or Console(stderr=True)
    spec = get_spec(options.dataset)
    samples = load_samples(spec, data_root=options.data_root, limit=options.limit)
    require_images(spec, samples, options.data_root)
    run_settings = eval_settings(settings, options)
    planner = resolve_eval_planner(options.planner, run_settings)
    run_dir = options.out
    header = make_header(options, run_settings, planner, spec.version)
    done = prepare_run_dir(run_dir, header, force_new=options.force_new)
    wanted = {s.id for s in samples}
    rows = [done[s.id] for s in samples if s.id in done]
    todo = [s for s in samples if s.id not in done]
    cache = str(Path(settings.cache_dir) / "tool-cache") if options.tool_cache else None
    job = EvalJob(run_dir.name, str(run_dir), run_settings, planner, options.time_limit_s, cache)
    resumed = len(rows)
    interrupted = False
    if todo:
        writer = ResultsWriter(run_dir / RESULTS)
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[stats]}"),
            console=console, disable=not options.progress,
        )
        with progress:
            task = progress.add_task(f"{spec.name} · {planner}", total=len(samples), completed=resumed,
                                     stats=running_stats(rows))

            def on_row(row: dict[str, Any]) -> None:
                writer.write(row)
                rows.append(row)
                progress.update(task, advance=1, stats=running_stats(rows))

            try:
                backend = make_backend(options, job)
                interrupted = execute(backend, job, todo, options.workers, on_row)
            finally:
                writer.close()
    header.update(status="interrupted" if interrupted else "success", finished=_now())
    _write_header(run_dir, header)
    ordered = [r for r in rows if r["id"] in wanted]
    metrics = summarize(scored_from_result(r) for r in ordered) if ordered else {}
    return EvalSummary(run_dir, ordered, len(ordered) - resumed, resumed, interrupted, metrics)
