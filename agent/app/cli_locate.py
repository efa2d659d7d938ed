"""`geosleuth locate PATH...`: one photo (a panel, or `--json`), or a batch of files, folders and globs.

One photo file, with no `--out`, `--html` or `--run-dir`, is located as it always was: a rich panel of
the answer and its evidence, or `--json` one object; a bad file is a one-line error (exit 2). Anything
else is a batch (`geosleuth.evals.batch.locate_many`): a progress bar with the ETA on stderr when it
is a terminal, one row per photo in the batch folder (so a rerun resumes), and at the end a table,
`--json` one object per line, and/or the `--out` files and the `--html` map page. A batch in which no
photo could be located is an error (exit 2; its rows stay in the batch folder).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from geosleuth.app.cli_common import (
    ConfigOption,
    DeviceOption,
    NoMetadataOption,
    PriorOption,
    fail,
    load_photo_or_fail,
    load_settings,
    make_console,
    open_traces,
    split_csv,
)

if TYPE_CHECKING:
    from geosleuth.app.writeback import Mode
    from geosleuth.core.config import Settings
    from geosleuth.evals.batch import BatchResult


def _locate_one(photo: Path, settings: Settings, as_json: bool) -> None:
    """Locate one photo file and print its panel, or its JSON object."""
    loaded = load_photo_or_fail(photo, settings)
    from rich.console import Console

    from geosleuth.app.report import locate_json, locate_panel
    from geosleuth.evals.batch import locate
    from geosleuth.run.locate import LocateResult, PlannerError

    console = Console(stderr=True)
    traces = open_traces(settings, console)

    def run(on_event: Any = None) -> LocateResult:
        try:
            return locate(loaded, settings, traces=traces, on_event=on_event)
        except PlannerError as exc:
            fail(str(exc))

    if as_json:
        result = run()
        sys.stdout.write(json.dumps(locate_json(result), ensure_ascii=False) + "\n")
        return
    with console.status("looking…") as status:

        def show(kind: str, payload: Any) -> None:
            if kind == "evidence":
                status.update(f"{payload.tool}: {payload.summary}"[:200])
            elif kind == "decision" and payload["tools"]:
                status.update(f"calling {', '.join(payload['tools'])}…")
            elif kind == "floor":
                where = payload.place or payload.country or "unknown"
                status.update(f"look-first: {where}; asking the model…")
            elif kind == "guard" or (kind == "decision" and not payload["tools"]):
                status.update("committing…")

        result = run(show)
    Console().print(locate_panel(result, photo))


def _print_table(batch: BatchResult) -> None:
    """Print one line per photo: the answer and its top evidence, or the error."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(batch.records)} photos", title_justify="left")
    for column in ("photo", "answer", "lat, lon", "country p", "top evidence / error"):
        table.add_column(column, overflow="fold")
    for r in batch.records:
        answer = ", ".join(part for part in (r.place, r.region, r.country) if part) or "—"
        point = "" if r.lat is None or r.lon is None else f"{r.lat:.4f}, {r.lon:.4f}"
        confidence = "" if r.confidence is None else f"{r.confidence:.0%}"
        note = f"[yellow]{escape(r.error)}[/yellow]" if r.error else escape(r.evidence or "")
        table.add_row(escape(Path(r.path).name), escape(answer), point, confidence, note)
    make_console().print(table)


def _write_back(
    records: list[dict[str, Any]], mode: Mode, *, in_place: bool, overwrite_gps: bool, really: bool
) -> None:
    """Write the answers back (`geosleuth.app.writeback`), or show what would change; tables on stderr."""
    from geosleuth.app.writeback import apply_writes, outcome_table, plan_table, plan_writes

    plans = plan_writes(records, mode, in_place=in_place, overwrite_gps=overwrite_gps)
    console = make_console(stderr=True)
    if not really:
        console.print(plan_table(plans))
        console.print("dry run: nothing was written; add --yes to write")
        return
    console.print(outcome_table(apply_writes(plans, yes=True)))


def locate(
    paths: Annotated[
        list[Path], typer.Argument(help="Photos (JPEG, PNG, TIFF, WebP, HEIC, ...), folders (searched "
                                   "recursively) or quoted glob patterns ('trip/**/*.jpg').")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (a batch: one per photo, per line).")
    ] = False,
    no_metadata: NoMetadataOption = False,
    planner: Annotated[
        str | None, typer.Option(help="Who picks the tools: llm, policy, or auto (the LLM when one answers).")
    ] = None,
    tools: Annotated[str | None, typer.Option(help="Comma-separated tools to run, in order.")] = None,
    device: DeviceOption = None,
    prior: PriorOption = None,
    out: Annotated[
        list[Path] | None,
        typer.Option("--out", help="Write the answers to FILE, format by suffix: .csv, .geojson, .kml or "
                     ".gpx (repeatable). Photos without an answer keep their CSV row and GeoJSON feature "
                     "(null geometry) with the error; KML and GPX leave them out."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a map page of the answers to FILE.")
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option("--run-dir", help="Batch folder (rows, traces) a rerun resumes from; default: "
                     "<cache_dir>/batches/NAME-KEY, one per set of paths, globs, planner, tools and "
                     "metadata choice."),
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Only a folder's files matching this glob, on the name or the path "
                     "under the folder (repeatable; default: photo suffixes)."),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Leave out files matching this glob (repeatable).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Photos located at once (a batch).")] = 2,
    backend: Annotated[
        str, typer.Option(help="thread (lightest) or process (a hard per-photo time limit).")
    ] = "thread",
    time_limit: Annotated[
        float, typer.Option(min=1, help="Seconds per photo before it becomes a timeout row (a batch).")
    ] = 300,
    force_new: Annotated[
        bool, typer.Option("--force-new", help="Move the batch folder aside and start over.")
    ] = False,
    write: Annotated[
        str | None,
        typer.Option("--write", help="Write each answer back: xmp (a photo.jpg.xmp sidecar, as darktable "
                     "and digiKam read it) or exif (the photo itself; needs --in-place). A dry run unless "
                     "--yes."),
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="With --write exif: change the photos (each backed up first).")
    ] = False,
    overwrite_gps: Annotated[
        bool, typer.Option("--overwrite-gps", help="Replace a position a photo already has (default: keep).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what --write would change and write nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Really write (else --write is a dry run).")] = False,
    config: ConfigOption = None,
) -> None:
    """Locate photos with the agent (an LLM when available, else the policy) and show the evidence."""
    from geosleuth.core.paths import is_pattern

    settings = load_settings(
        config, use_metadata=False if no_metadata else None, tools=split_csv(tools), device=device,
        prior=prior, planner=planner,
    )
    if write is not None:
        from geosleuth.app.writeback import plan_writes

        try:
            plan_writes([], cast("Mode", write), in_place=in_place, overwrite_gps=overwrite_gps)
        except ValueError as exc:
            fail(str(exc))
    elif in_place or overwrite_gps or dry_run or yes:
        fail("--in-place, --overwrite-gps, --dry-run and --yes go with --write xmp|exif")
    one = paths[0]
    if len(paths) == 1 and not (out or html or run_dir or write or one.is_dir() or is_pattern(one)):
        _locate_one(one, settings, as_json)
        return
    from geosleuth.app.outputs import OutputError, renderer_for, write_records
    from geosleuth.evals.batch import locate_many
    from geosleuth.evals.runner import RunError

    for target in out or []:
        try:
            renderer_for(target)
        except OutputError as exc:
            fail(str(exc))
    console = make_console(stderr=True)
    start = time.perf_counter()
    try:
        batch = locate_many(
            paths, settings, run_dir=run_dir, workers=workers, backend=backend, time_limit_s=time_limit,
            include=include or (), exclude=exclude or (), force_new=force_new, console=console,
            progress=console.is_terminal,
        )
    except RunError as exc:
        fail(str(exc))
    records = [r.as_dict() for r in batch.records]
    try:
        for target in out or []:
            write_records(records, target)
        if html is not None:
            from geosleuth.app.map_page import write_map_page

            write_map_page(records, html)
    except OSError as exc:
        fail(f"cannot write the output: {exc}")
    if write is not None:
        _write_back(records, cast("Mode", write), in_place=in_place, overwrite_gps=overwrite_gps,
                    really=yes and not dry_run)
    failed = [r for r in batch.records if r.failed]
    if batch.records and len(failed) == len(batch.records) and not batch.interrupted:
        first = failed[0]
        fail(f"none of the {len(failed)} photos could be located (first: {first.path}: {first.error}); "
             f"rows in {batch.run_dir}")
    if as_json:
        sys.stdout.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    elif not (out or html):
        _print_table(batch)
    sys.stderr.write(
        f"{len(records)} photos: {len(records) - len(failed)} located, {len(failed)} failed "
        f"({batch.resumed} from an earlier run) in {time.perf_counter() - start:.1f} s; batch folder "
        f"{batch.run_dir} (traces: geosleuth trace list --db {batch.run_dir})\n"
    )
    for target in [*(out or []), *([html] if html else [])]:
        sys.stderr.write(f"wrote {target}\n")
    if batch.interrupted:
        sys.stderr.write("interrupted: rerun the same command to continue\n")
        raise typer.Exit(130)


def register(app: typer.Typer) -> None:
    """Add the `locate` command to the geosleuth app."""
    app.command("locate")(locate)
