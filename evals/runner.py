"""The eval runner: one photo is the unit of work; a run folder records config, results and traces.

`run_eval` loads a dataset, starts (or resumes) the run folder `runs/NAME` and evaluates each photo not
yet done on a pool of workers (threads, processes or Ray tasks). The parent process is the one writer
of `results.jsonl`: each finished photo is appended as one JSON line, flushed and fsynced, so after a
`kill -9` at most the last line is torn; a rerun drops the torn tail, skips the ids already written
and evaluates the rest, so no row is duplicated or lost. `run.json` records the configuration; a run
folder made for another dataset, planner, tool list, metadata choice or subset of photos is refused unless
`force_new`, which moves the old folder aside. One process at a time uses a run folder
(`geosleuth.evals.run_lock`): a second is refused with the holder's pid, host, command and start, and
a holder that dies frees it. A results row that cannot be written (a full disk) is cut back off the
file and stops the run with a one-line `RunError`; the rerun resumes after the last whole row.

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

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from geosleuth.core.config import Settings
from geosleuth.core.paths import source_root
from geosleuth.evals import run_lock, tool_cache
from geosleuth.evals.datasets import Sample, get_spec, load_samples, require_images, resolve_data_root
from geosleuth.evals.job import EvalJob, WorkItem, error_row, evaluate_one, worker_init
from geosleuth.evals.metrics import scored_from_result, summarize
from geosleuth.evals.ray_backend import RayBackend
from geosleuth.run.llm import llm_available
from geosleuth.run.locate import resolve_planner
from geosleuth.run.traces import scrub_config

if TYPE_CHECKING:
    from rich.console import Console

BACKENDS = ("thread", "process", "ray")
RESULTS = "results.jsonl"
HEADER = "run.json"
GRACE_S = 10.0
"""How long past the per-image limit the parent waits for a worker before writing a timeout row itself."""
AGENT_BUDGET_SHARE = 0.8
"""The agent's own time budget (`max_seconds`) is at most this share of the per-image limit, so it
commits with what it has before the hard limit stops it."""
MATCH_KEYS = ("dataset", "planner", "tools", "allow_metadata", "subset")
"""Header fields a resumed run must share with the run folder."""
TOOL_CACHE = "tool-cache"
"""The tool cache's folder under the cache dir."""
ItemT = TypeVar("ItemT", bound=WorkItem)
ItemContra = TypeVar("ItemContra", bound=WorkItem, contravariant=True)


class RunError(ValueError):
    """An eval run that cannot start or resume (one-line message)."""


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
    only: frozenset[str] | None = None
    """Evaluate only the photos with these ids (a gallery split's held-out half); None: all."""


@dataclass
class EvalSummary:
    """What a run produced: its folder, the rows of the selected photos, and counts."""

    run_dir: Path
    rows: list[dict[str, Any]]
    new_rows: int
    resumed_rows: int
    interrupted: bool = False
    metrics: dict[str, float | int] = field(default_factory=dict)


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
    """Appends rows to results.jsonl, each as one line, written and fsynced (one writer per run)."""

    def __init__(self, path: Path) -> None:
        """Open `path` for appending (after `read_results(..., repair=True)` cut any torn tail)."""
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def write(self, row: dict[str, Any]) -> None:
        """Append one row durably; a row that cannot be written whole is cut back off the file.

        Raises:
            RunError: the write failed (a full disk, a file size limit); the rows before it are kept.
        """
        line = memoryview(json.dumps(row, ensure_ascii=False, allow_nan=False).encode() + b"\n")
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while line:
                line = line[os.write(self._fd, line):]
            os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass  # the rerun's read_results cuts the torn tail instead
            raise RunError(
                f"cannot write {self.path}: {exc.strerror or exc}; the rows before it are kept; free space "
                "and rerun the same command to resume"
            ) from None

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


def _git() -> dict[str, Any] | None:
    """Return the checkout's commit and whether it has uncommitted changes, None outside a git checkout."""
    repo = source_root()
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


def common_header(
    run_dir: Path, settings: Settings, planner: str, *, workers: int, backend: str, time_limit_s: float
) -> dict[str, Any]:
    """Return the header fields of every run folder: settings (scrubbed of secrets) with their sources."""
    return {
        "name": run_dir.name,
        "planner": planner,
        "tools": list(settings.tools),
        "settings": scrub_config(settings.model_dump(mode="json")),
        "settings_sources": scrub_config(dict(settings.sources())),
        "workers": workers,
        "backend": backend,
        "time_limit_s": time_limit_s,
        "status": "started",
        "started": _now(),
        "finished": None,
        "geosleuth_version": _version(),
        "git": _git(),
    }


def make_header(
    options: EvalOptions, settings: Settings, planner: str, dataset_version: int
) -> dict[str, Any]:
    """Return the run.json header of an eval run: its dataset and subset, and the common fields."""
    return {
        **common_header(options.out, settings, planner, workers=options.workers, backend=options.backend,
                        time_limit_s=options.time_limit_s),
        "dataset": options.dataset,
        "dataset_version": dataset_version,
        "allow_metadata": options.allow_metadata,
        "subset": _subset(options.only),
        "limit": options.limit,
    }


def _subset(only: frozenset[str] | None) -> str | None:
    """Name a subset of photo ids for the header: its size and a hash of its sorted ids."""
    if only is None:
        return None
    digest = hashlib.sha256("\n".join(sorted(only)).encode()).hexdigest()[:16]
    return f"{len(only)} photos, sha256 {digest}"


def _write_header(run_dir: Path, header: dict[str, Any]) -> None:
    tmp = run_dir / f".{HEADER}.tmp"
    try:
        tmp.write_text(json.dumps(header, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(run_dir / HEADER)
    except OSError as exc:
        raise RunError(f"cannot write {run_dir / HEADER}: {exc.strerror or exc}") from None


def prepare_run_dir(
    run_dir: Path, header: dict[str, Any], *, force_new: bool, match: tuple[str, ...] = MATCH_KEYS,
    folder_option: str = "--out",
) -> dict[str, dict[str, Any]]:
    """Create or reopen a run folder and return the rows already in it.

    `match` names the header fields the folder's run must share (an eval's dataset, planner, tools,
    metadata choice and subset); `folder_option` is the option the message tells the user to change.

    The folder stays locked for this process (`run_lock`) until `finish_header`, or until `run_todo`
    fails.

    Raises:
        RunError: another process uses the folder, the folder holds a run made with other `match` values
            (and not `force_new`), or its results file is corrupt.
    """
    try:
        if run_dir.is_dir():
            run_lock.acquire(run_dir)  # before anything is read or moved aside
        done = _prepare_locked(run_dir, header, force_new=force_new, match=match, folder_option=folder_option)
    except run_lock.RunLocked as exc:
        raise RunError(str(exc)) from None
    except BaseException:
        run_lock.release(run_dir)
        raise
    return done


def _prepare_locked(
    run_dir: Path, header: dict[str, Any], *, force_new: bool, match: tuple[str, ...], folder_option: str,
) -> dict[str, dict[str, Any]]:
    """`prepare_run_dir` once the folder, if it exists, is locked; locks a folder it creates."""
    old_header = run_dir / HEADER
    if run_dir.exists() and force_new and any(p.name != run_lock.LOCK for p in run_dir.iterdir()):
        aside = run_dir.with_name(f"{run_dir.name}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        run_dir.rename(aside)
        run_lock.release(run_dir)  # the old run's lock went aside with it
    elif old_header.is_file():
        try:
            previous = json.loads(old_header.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{old_header} is unreadable ({exc}); use --force-new to start over") from None
        differ = [k for k in match if previous.get(k) != header[k]]
        if differ:
            what = ", ".join(f"{k}={previous.get(k)!r} (now {header[k]!r})" for k in differ)
            raise RunError(
                f"{run_dir} holds a run made with {what}; use another {folder_option}, or --force-new to "
                "move it aside and start over"
            )
        header["started"] = previous.get("started", header["started"])
    elif run_dir.exists() and (run_dir / RESULTS).is_file():
        raise RunError(f"{run_dir} has results but no {HEADER}; use --force-new to move it aside")
    run_dir.mkdir(parents=True, exist_ok=True)
    run_lock.acquire(run_dir)
    done = read_results(run_dir / RESULTS, repair=True)
    _write_header(run_dir, header)
    return done


def finish_header(run_dir: Path, header: dict[str, Any], *, interrupted: bool) -> None:
    """Record in run.json that the run ended (success, or interrupted) and when; unlock the folder."""
    header.update(status="interrupted" if interrupted else "success", finished=_now())
    try:
        _write_header(run_dir, header)
    finally:
        run_lock.release(run_dir)


# executing ------------------------------------------------------------------------------------------


class Backend(Protocol[ItemContra]):
    """Runs `evaluate_one` for work items (eval samples, batch photos) somewhere; handles are opaque."""

    def submit(self, sample: ItemContra) -> Any:
        """Start one photo; return a handle."""

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """Return the handles that are done (waiting at most `timeout` seconds for one)."""

    def result(self, handle: Any) -> dict[str, Any]:
        """Return the row of a finished handle."""

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
                initializer=worker_init, initargs=(job.tool_cache,),
            )
        else:

            tool_cache.activate(job.tool_cache)
            self.pool = ThreadPoolExecutor(workers, thread_name_prefix="geosleuth-eval")

    def submit(self, sample: WorkItem) -> Future[dict[str, Any]]:
        """Start one photo."""
        return self.pool.submit(evaluate_one, self.job, sample)

    def wait(self, handles: list[Future[dict[str, Any]]], timeout: float) -> list[Future[dict[str, Any]]]:
        """Return the finished futures."""
        return list(wait(handles, timeout=timeout, return_when=FIRST_COMPLETED).done)

    def result(self, handle: Future[dict[str, Any]]) -> dict[str, Any]:
        """Return the row (a worker that died gives an exception, turned into an error row by the caller)."""
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


def make_backend(options: EvalOptions, job: EvalJob) -> Backend[Sample]:
    """Return the backend named by `options.backend`."""
    if options.backend == "ray":

        return RayBackend(job, workers=options.workers, address=options.ray_address)
    return PoolBackend(job, options.backend, options.workers)


def execute(
    backend: Backend[ItemT],
    job: EvalJob,
    todo: list[ItemT],
    workers: int,
    on_row: Callable[[dict[str, Any]], None],
) -> bool:
    """Evaluate `todo` with at most `workers` photos in flight; call `on_row` (the writer) for each row.

    A photo still running GRACE_S seconds past the per-image limit gets a timeout row (its late result,
    if any, is dropped). Ctrl-C stops starting photos and waits for those in flight; a second Ctrl-C
    abandons them; any other error (the writer's) abandons them and propagates. Returns True when
    interrupted.
    """
    queue = list(reversed(todo))
    flight: dict[Any, tuple[ItemT, float]] = {}
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
    except BaseException:
        backend.close(now=True)
        raise
    backend.close(now=False)
    return interrupted


# the whole run --------------------------------------------------------------------------------------


def agent_budget(settings: Settings, time_limit_s: float) -> float:
    """Return the agent's own time budget (`max_seconds`) inside a per-image limit."""
    return min(settings.max_seconds, time_limit_s * AGENT_BUDGET_SHARE)


def eval_settings(settings: Settings, options: EvalOptions) -> Settings:
    """Return a run's agent settings: metadata withheld unless allowed; its budget inside the limit."""
    return settings.model_copy(update={
        "use_metadata": options.allow_metadata, "max_seconds": agent_budget(settings, options.time_limit_s),
    })


def tool_cache_dir(settings: Settings) -> str:
    """Return the tool cache's folder, shared by every run of this cache dir."""
    return str(Path(settings.cache_dir) / TOOL_CACHE)


def resolve_eval_planner(requested: str, settings: Settings) -> str:
    """Return the planner a run uses ("auto" resolved); an LLM run with no LLM is refused up front.

    Raises:
        RunError: "llm" was asked for and no LLM is available.
    """
    planner = resolve_planner(requested, settings)
    if planner == "llm":

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


def run_todo(
    backend: Callable[[], Backend[ItemT]],
    job: EvalJob,
    todo: list[ItemT],
    rows: list[dict[str, Any]],
    *,
    workers: int,
    title: str,
    total: int,
    stats: Callable[[list[dict[str, Any]]], str],
    console: Console,
    progress: bool,
) -> bool:
    """Locate `todo` on a new backend, appending each row to the run's results file and to `rows`.

    A progress bar on `console` (unless not `progress`) shows done of `total`, elapsed time, the ETA and
    `stats(rows)`. Returns True when interrupted (see `execute`); on an error the run folder is unlocked.

    Raises:
        RunError: a row could not be written (`ResultsWriter.write`).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    writer = ResultsWriter(Path(job.run_dir) / RESULTS)
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[stats]}"),
        console=console, disable=not progress,
    )
    with bar:
        task = bar.add_task(title, total=total, completed=total - len(todo), stats=stats(rows))

        def on_row(row: dict[str, Any]) -> None:
            writer.write(row)
            rows.append(row)
            bar.update(task, advance=1, stats=stats(rows))

        try:
            return execute(backend(), job, todo, workers, on_row)
        except BaseException:
            run_lock.release(Path(job.run_dir))
            raise
        finally:
            writer.close()


def run_eval(options: EvalOptions, settings: Settings, console: Console | None = None) -> EvalSummary:
    """Run (or resume) an eval and return its summary; rows are in `options.out/results.jsonl`.

    Raises:
        DatasetError: the dataset is unknown, or missing (the message says where to get it).
        RunError: the run folder belongs to another configuration, or the planner cannot run.
    """
    from rich.console import Console

    if options.backend not in BACKENDS:
        raise RunError(f"unknown backend {options.backend!r}; known: {', '.join(BACKENDS)}")
    console = console or Console(stderr=True)
    spec = get_spec(options.dataset)
    data_root = resolve_data_root(options.data_root, settings)
    samples = load_samples(spec, data_root=data_root, limit=options.limit)
    require_images(spec, samples, data_root)
    if options.only is not None:
        samples = [s for s in samples if s.id in options.only]
    run_settings = eval_settings(settings, options)
    planner = resolve_eval_planner(options.planner, run_settings)
    run_dir = options.out
    header = make_header(options, run_settings, planner, spec.version)
    done = prepare_run_dir(run_dir, header, force_new=options.force_new)
    wanted = {s.id for s in samples}
    rows = [done[s.id] for s in samples if s.id in done]
    todo = [s for s in samples if s.id not in done]
    cache = tool_cache_dir(settings) if options.tool_cache else None
    job = EvalJob(run_dir.name, str(run_dir), run_settings, planner, options.time_limit_s, cache)
    resumed = len(rows)
    interrupted = bool(todo) and run_todo(
        lambda: make_backend(options, job), job, todo, rows, workers=options.workers,
        title=f"{spec.name} · {planner}", total=len(samples), stats=running_stats, console=console,
        progress=options.progress,
    )
    finish_header(run_dir, header, interrupted=interrupted)
    ordered = [r for r in rows if r["id"] in wanted]
    metrics = summarize(scored_from_result(r) for r in ordered) if ordered else {}
    return EvalSummary(run_dir, ordered, len(ordered) - resumed, resumed, interrupted, metrics)
