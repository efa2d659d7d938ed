"""Locate a photo library: files, folders and globs become one resumable batch, with no labels.

`locate_many` expands its paths (`find_photos`) and locates each photo with the eval runner's
machinery (`geosleuth.evals.runner`): a pool of workers, the tool cache, one `results.jsonl` row per
photo appended durably by the parent process, the traces in the batch folder's `traces.sqlite`. A
rerun with the same batch folder skips the photos that have a row and locates the rest; a file that
cannot be read or is not an image is a row with its error, never an abort. Metadata follows
`Settings.use_metadata`, as for one photo (`locate`).

Where the batch folder lives: `run_dir` when given, else `<cache_dir>/batches/<name>-<key>`, where
`name` is the first path's and `key` hashes the absolute paths, the include/exclude globs, the planner,
the tools and the metadata choice. Rerunning the same command therefore resumes, and changing any of
those starts a fresh folder; a given `run_dir` made with another planner, tools or metadata choice is
refused unless `force_new` moves it aside.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geosleuth.core.config import Settings, read_config_file, resolve_settings
from geosleuth.core.paths import is_pattern
from geosleuth.core.photo import Photo, load_photo
from geosleuth.evals.job import EvalJob, PhotoItem
from geosleuth.evals.runner import (
    PoolBackend,
    RunError,
    agent_budget,
    common_header,
    finish_header,
    prepare_run_dir,
    resolve_eval_planner,
    run_todo,
    tool_cache_dir,
)
from geosleuth.run.locate import LocateResult, locate_photo
from geosleuth.run.traces import TraceStore

if TYPE_CHECKING:
    from rich.console import Console

PHOTO_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".gif", ".bmp", ".heic", ".heif", ".avif",
})
"""Suffixes (any case) of the photos a folder or glob yields when no include glob is given."""
BACKENDS = ("thread", "process")
BATCHES = "batches"
"""The folder of default batch folders, under the cache dir."""
MATCH_KEYS = ("kind", "planner", "tools", "use_metadata")
"""Header fields a resumed batch must share with its folder."""


@dataclass(frozen=True)
class PhotoRecord:
    """One photo of a batch: where it was taken, or why there is no answer (never a point at 0, 0)."""

    path: str
    lat: float | None
    lon: float | None
    country: str | None
    country_code: str | None
    region: str | None
    place: str | None
    confidence: float | None
    radius_km: float | None
    planner: str
    trace_id: str | None
    evidence: str | None
    """The evidence that raised the guessed country most, in one line ("tool: finding")."""
    error: str | None
    """Why the photo has no answer ("type: message"), or which tool failed unexpectedly."""
    seconds: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PhotoRecord:
        """Build the record of one results.jsonl row."""
        guess = row.get("guess") or {}
        error = row.get("error")
        return cls(
            path=str(row["image"]), lat=guess.get("lat"), lon=guess.get("lon"),
            country=guess.get("country_name"), country_code=guess.get("country"), region=guess.get("region"),
            place=guess.get("city"), confidence=guess.get("confidence"), radius_km=guess.get("radius_km"),
            planner=row["planner"], trace_id=row.get("trace_id"), evidence=row.get("evidence"),
            error=f"{error['type']}: {error['message']}" if error else None, seconds=row["seconds"],
        )

    @property
    def failed(self) -> bool:
        """Whether the photo got no answer at all (`error` says why); a guess always has a confidence."""
        return self.confidence is None

    def as_dict(self) -> dict[str, Any]:
        """Return the record as a plain dict (what the output writers and the map page take)."""
        return asdict(self)


@dataclass
class BatchResult:
    """What a batch produced: its folder, a record per photo of this call (in order), and counts."""

    run_dir: Path
    records: list[PhotoRecord]
    new: int
    resumed: int
    interrupted: bool = False

    def __iter__(self) -> Iterator[PhotoRecord]:
        """Iterate over the records."""
        return iter(self.records)


def default_settings() -> Settings:
    """Return the settings of a run given no flags: environment, ./geosleuth.toml, then defaults."""
    return resolve_settings(file=read_config_file())[0]


def locate(
    photo: str | Path | Photo,
    settings: Settings | None = None,
    *,
    traces: TraceStore | Literal["default"] | None = "default",
    on_event: Callable[[str, Any], None] | None = None,
) -> LocateResult:
    """Locate one photo (a path, or a loaded `Photo`) with the agent; what `geosleuth locate FILE` runs.

    Args:
        photo: The photo file (loaded within the settings' pixel limit) or a loaded Photo.
        settings: The run's settings; None: `default_settings()`.
        traces: Where to record the run: "default" is the settings' trace store (the result's
            `trace_id` names the run there), None leaves it untraced.
        on_event: Called with each graph event, for live display.

    Raises:
        PhotoError: the file is missing, not a supported image, too large or corrupt.
        PlannerError: the LLM planner was asked for and no LLM is available.
        ValueError: `settings.tools` names an unknown tool.
    """
    settings = settings or default_settings()
    if not isinstance(photo, Photo):
        photo = load_photo(Path(photo).expanduser(), max_pixels=settings.max_pixels)
    store = TraceStore.for_settings(settings) if isinstance(traces, str) else traces
    return locate_photo(photo, settings, traces=store, photo_path=str(photo.path), on_event=on_event)


def _wanted(relative: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whether a file (its path under the folder searched) passes the globs, which match it or its name."""
    texts = (relative.lower(), relative.rsplit("/", 1)[-1].lower())

    def hit(patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(text, pattern.lower()) for pattern in patterns for text in texts)

    return (hit(include) if include else os.path.splitext(texts[1])[1] in PHOTO_SUFFIXES) and not hit(exclude)


def _walk(folder: Path, include: Sequence[str], exclude: Sequence[str], skip: Path | None) -> list[Path]:
    """Return the photos under `folder`, depth first in name order, skipping hidden entries and `skip`."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (skip is None or Path(root, d) != skip))
        for name in sorted(files):
            path = Path(root, name)
            if not name.startswith(".") and _wanted(path.relative_to(folder).as_posix(), include, exclude):
                found.append(path)
    return found


def find_photos(
    paths: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = (),
    skip: Path | None = None,
) -> list[Path]:
    """Expand files, folders and glob patterns into photo files (resolved), in order, each once.

    A folder yields its files, recursively, that have a photo suffix (or match an `include` glob when
    any is given) and match no `exclude` glob; a glob matches a file's path under the folder or its
    name, in any case. Hidden files and folders, and the folder `skip` (the batch's own), are left out.
    A path that does not exist but holds `*`, `?` or `[` is a glob pattern (`**` spans folders), whose
    matches are filtered the same way. Any other path is kept: a missing file becomes its row's error.

    Raises:
        RunError: a folder or a glob pattern yields no photo.
    """
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            matched = _walk(path.resolve(), include, exclude, skip)
        elif is_pattern(path):
            hits = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            matched = [p for p in hits if p.is_file() and _wanted(p.name, include, exclude)]
        else:
            matched = [path]
        if not matched:
            raise RunError(f"{given}: no photos found there" + (" (see --include/--exclude)"
                                                                if include or exclude else ""))
        found.update(dict.fromkeys(p.resolve() for p in matched))
    return list(found)


def default_run_dir(
    paths: Sequence[str | Path], settings: Settings, planner: str, include: Sequence[str],
    exclude: Sequence[str],
) -> Path:
    """Return the batch folder of these inputs and choices under the cache dir (see the module doc)."""
    inputs = [os.path.abspath(Path(p).expanduser()) for p in paths]
    what = {"inputs": sorted(inputs), "include": sorted(include), "exclude": sorted(exclude),
            "planner": planner, "tools": list(settings.tools), "use_metadata": settings.use_metadata}
    key = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]
    name = re.sub(r"[^\w.-]+", "_", Path(inputs[0]).name).strip("._") or "photos"
    return Path(settings.cache_dir) / BATCHES / f"{name[:40]}-{key}"


def _stats(rows: list[dict[str, Any]]) -> str:
    """One line for the progress bar: photos located and errors so far."""
    failed = sum(r.get("guess") is None for r in rows)
    return f"located {len(rows) - failed} · errors {failed}"


def locate_many(
    paths: str | Path | Sequence[str | Path],
    settings: Settings | None = None,
    *,
    run_dir: Path | None = None,
    workers: int = 2,
    backend: str = "thread",
    time_limit_s: float = 300.0,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    force_new: bool = False,
    console: Console | None = None,
    progress: bool = False,
) -> BatchResult:
    """Locate every photo of `paths` (files, folders, globs: `find_photos`) as a resumable batch.

    Args:
        paths: What to locate (one path, or several).
        settings: The run's settings (planner, tools, use_metadata, ...); None: `default_settings()`.
        run_dir: The batch folder (run.json, results.jsonl, traces.sqlite); None: `default_run_dir`.
        workers: Photos located at once.
        backend: "thread" (lightest; one shared LLM) or "process" (a hard per-photo time limit).
        time_limit_s: Seconds per photo before it becomes a `timeout` row.
        include: Globs a folder's files must match (default: photo suffixes).
        exclude: Globs of files to leave out.
        force_new: Move an existing `run_dir` aside and start over.
        console: Where the progress bar goes (default: stderr).
        progress: Show a progress bar (done, elapsed, ETA, located and errors).

    Returns:
        The batch: a record per photo (new and resumed), the folder, and whether Ctrl-C stopped it.

    Raises:
        RunError: no path is given, a folder or glob yields no photo, the backend is unknown, the
            folder belongs to another planner, tools or metadata choice, or the LLM planner cannot run.
    """
    from rich.console import Console

    if backend not in BACKENDS:
        raise RunError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise RunError("no photos given")
    settings = settings or default_settings()
    planner = resolve_eval_planner(settings.planner, settings)
    run_settings = settings.model_copy(update={"max_seconds": agent_budget(settings, time_limit_s)})
    folder = run_dir or default_run_dir(paths, settings, planner, include, exclude)
    items = [PhotoItem(str(p), p) for p in find_photos(paths, include=include, exclude=exclude,
                                                        skip=folder.resolve())]
    header = {
        **common_header(folder, run_settings, planner, workers=workers, backend=backend,
                        time_limit_s=time_limit_s),
        "kind": "locate", "inputs": [str(p) for p in paths], "include": list(include),
        "exclude": list(exclude), "use_metadata": run_settings.use_metadata,
    }
    done = prepare_run_dir(folder, header, force_new=force_new, match=MATCH_KEYS, folder_option="--run-dir")
    rows = [done[i.id] for i in items if i.id in done]
    resumed = len(rows)
    todo = [i for i in items if i.id not in done]
    job = EvalJob(folder.name, str(folder), run_settings, planner, time_limit_s, tool_cache_dir(settings))
    interrupted = bool(todo) and run_todo(
        lambda: PoolBackend(job, backend, workers), job, todo, rows, workers=workers,
        title=f"locate · {planner}", total=len(items), stats=_stats, console=console or Console(stderr=True),
        progress=progress,
    )
    finish_header(folder, header, interrupted=interrupted)
    by_id = {str(r["id"]): r for r in rows}
    records = [PhotoRecord.from_row(by_id[i.id]) for i in items if i.id in by_id]
    return BatchResult(folder, records, len(records) - resumed, resumed, interrupted)
