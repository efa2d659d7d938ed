"""`geosleuth eval`: run an eval (`eval DATASET` is short for `eval run DATASET`), report, compare, ablate.

The group's first word falls through to `run` when it is not a sub-command, so `geosleuth eval
im2gps3k-dev --limit 5` and `geosleuth eval run im2gps3k-dev --limit 5` are the same command. A
DATASET is a registered name, a labels CSV, or a folder holding labels.csv; run folders go under
RUNS_ROOT unless --out says otherwise.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from geosleuth.app.cli_common import (
    ConfigOption,
    DeviceOption,
    PriorOption,
    fail,
    load_settings,
    make_console,
    split_csv,
)

if TYPE_CHECKING:
    from rich.console import Console
    from typer._click.core import Context  # typer's vendored click: the Context TyperGroup is typed with

    from geosleuth.evals.runner import EvalSummary


class DefaultRunGroup(TyperGroup):
    """A command group whose unknown first word is the dataset of its `run` command."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        """Insert `run` before the arguments when the first one is not a sub-command or a help flag."""
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=DefaultRunGroup,
    no_args_is_help=True,
    help="Evaluate on a labelled photo set: `geosleuth eval DATASET --limit N ...` (short for `eval run`), "
    "then `eval report RUN`, `eval compare A B`; `eval ablate DATASET`; `eval datasets` lists the sets.",
)

RUNS_ROOT = Path("runs")
"""Where eval run folders go by default (relative to the working directory); `trace show` searches it."""
DATASET_HELP = "A registered set (see `eval datasets`), a labels CSV, or a folder holding labels.csv."

DataRootOption = Annotated[
    Path | None,
    typer.Option("--data-root", help="Folder of published sets (default: the data_dir setting, "
                 "$GEOSLEUTH_DATA_DIR, or <cache_dir>/datasets)."),
]


def _print_metrics(summary: EvalSummary, console: Console) -> None:
    """Print the headline metrics of a finished run."""
    from rich.table import Table

    from geosleuth.evals.metrics import THRESHOLDS_KM
    from geosleuth.evals.report import located_note

    m = summary.metrics
    if not m:
        console.print("no photos evaluated")
        return
    table = Table(title=f"{summary.run_dir}  ({m['n']} photos)", title_justify="left")
    distances = (f"≤{km} km" for km in THRESHOLDS_KM)
    for column in ("country", "macro-F1", *distances, "median km", "GeoScore", "errors"):
        table.add_column(column, justify="right")
    errors = sum(r.get("error") is not None for r in summary.rows)
    table.add_row(
        _share(m["country_accuracy"]), _share(m["macro_f1"]),
        *(_share(m[f"within_{km}km"]) for km in THRESHOLDS_KM),
        _number(m["median_km_all"]), _number(m["geoscore_all"]), str(errors),
    )
    console.print(table)
    if m["n_located"] < m["n"]:
        console.print(located_note(m))
    console.print(f"Per-country F1 and the confusion matrix: `geosleuth eval report {summary.run_dir}`.")


def _share(value: float) -> str:
    """Format a fraction as a percentage, n/a for NaN (no row to compute it over)."""
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _number(value: float) -> str:
    """Format a distance or score, n/a for NaN (no row with coordinates)."""
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


def _run_name(dataset: str) -> str:
    """Return the name a dataset's default run folder starts with: the registered or generic set's name."""
    from geosleuth.evals.datasets import DatasetError, get_spec

    try:
        return get_spec(dataset).name
    except DatasetError as exc:
        fail(str(exc))


@eval_app.command("run")
def run_command(
    dataset: Annotated[str, typer.Argument(help=DATASET_HELP)],
    planner: Annotated[
        str | None, typer.Option(help="policy, llm or auto (default: the planner setting).")
    ] = None,
    tools: Annotated[str | None, typer.Option(help="Comma-separated tools the agent may use.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N photos.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Photos evaluated at once.")] = 2,
    backend: Annotated[
        str,
        typer.Option(help="thread (measured fastest and lightest on 2 cores; one shared LLM), process "
                     "(a hard per-photo time limit; a model copy per worker) or ray."),
    ] = "thread",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (ray://host:port or auto); default: a local Ray.")
    ] = None,
    time_limit: Annotated[
        float, typer.Option(min=1, help="Seconds per photo before it counts as a timeout.")
    ] = 300,
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/NAME-PLANNER).")] = None,
    allow_metadata: Annotated[
        bool, typer.Option("--allow-metadata", help="Let tools read EXIF/XMP/comments (withheld by default).")
    ] = False,
    force_new: Annotated[
        bool, typer.Option("--force-new", help="Move an existing run folder aside and start over.")
    ] = False,
    no_tool_cache: Annotated[
        bool, typer.Option("--no-tool-cache", help="Recompute every tool result (no reuse by photo hash).")
    ] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No live progress bar.")] = False,
    data_root: DataRootOption = None,
    prior: PriorOption = None,
    device: DeviceOption = None,
    config: ConfigOption = None,
) -> None:
    """Evaluate the agent on a dataset; resumable (rerun the same command to continue)."""
    from geosleuth.evals.datasets import DatasetError
    from geosleuth.evals.runner import EvalOptions, RunError, run_eval
    from geosleuth.run.locate import resolve_planner

    settings = load_settings(config, tools=split_csv(tools), prior=prior, device=device, planner=planner)
    chosen = resolve_planner(settings.planner, settings)
    options = EvalOptions(
        dataset=dataset, out=out or RUNS_ROOT / f"{_run_name(dataset)}-{chosen}", planner=chosen, limit=limit,
        workers=workers, backend=backend, time_limit_s=time_limit, allow_metadata=allow_metadata,
        force_new=force_new, data_root=data_root, ray_address=ray_address, tool_cache=not no_tool_cache,
        progress=not no_progress,
    )
    console = make_console(stderr=True)
    try:
        summary = run_eval(options, settings, console)
    except (DatasetError, RunError) as exc:
        fail(str(exc))
    if summary.interrupted:
        sys.stderr.write(f"interrupted: {len(summary.rows)} rows kept in {summary.run_dir}; "
                         "rerun the same command to continue\n")
    _print_metrics(summary, make_console())
    if summary.interrupted:
        raise typer.Exit(130)


@eval_app.command("datasets")
def datasets_command(data_root: DataRootOption = None, config: ConfigOption = None) -> None:
    """List the registered datasets and what of each is on disk."""
    from rich.table import Table

    from geosleuth.evals.datasets import DatasetError, dataset_status, load_registry, resolve_data_root

    root = resolve_data_root(data_root, load_settings(config))
    try:
        registry = load_registry()
    except DatasetError as exc:
        fail(str(exc))
    table = Table(title="datasets", title_justify="left")
    for column in ("name", "version", "photos", "on disk", "folder"):
        table.add_column(column, overflow="fold")
    for spec in registry.values():
        status = dataset_status(spec, root)
        if status.ready:
            state = "[green]ready[/green]"
        elif status.labels_present:
            state = f"[yellow]{status.images_present}/{status.rows} images[/yellow]"
        else:
            state = "[red]missing[/red]"
        table.add_row(spec.name, str(spec.version), str(status.rows or "?"), state, str(status.folder))
    console = make_console()
    console.print(table)
    console.print("`geosleuth eval NAME` on a missing set says where to get it and where to put it.")


@eval_app.command("report")
def report_command(
    run: Annotated[Path, typer.Argument(help="An eval run folder (runs/NAME).")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write the report (default: the run folder).")
    ] = None,
) -> None:
    """Write the run's report (Markdown and HTML) and its full country metrics; print where they are."""
    from geosleuth.evals.report import CONFUSION_CSV, COUNTRY_METRICS_JSON, write_report

    try:
        paths = write_report(run, out)
    except ValueError as exc:
        fail(str(exc))
    folder = paths[0].parent
    for path in (*paths, folder / COUNTRY_METRICS_JSON, folder / CONFUSION_CSV):
        sys.stdout.write(f"{path}\n")


@eval_app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="The baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="The run compared with it.")],
) -> None:
    """Compare two runs on the photos they share: metric deltas and per-photo wins and losses."""
    from geosleuth.evals.compare import compare_runs, print_comparison

    try:
        comparison = compare_runs(run_a, run_b)
    except ValueError as exc:
        fail(str(exc))
    print_comparison(comparison, make_console())


@eval_app.command("ablate")
def ablate_command(
    dataset: Annotated[str, typer.Argument(help=DATASET_HELP)],
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N photos.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Photos evaluated at once.")] = 2,
    out: Annotated[
        Path | None, typer.Option(help="Folder of the runs (default: runs/ablation-DATASET).")
    ] = None,
    allow_metadata: Annotated[
        bool, typer.Option("--allow-metadata", help="Let tools read file metadata (adds the exif row).")
    ] = False,
    skip_agent: Annotated[bool, typer.Option("--skip-agent", help="Leave out the LLM agent row.")] = False,
    time_limit: Annotated[float, typer.Option(min=1, help="Seconds per photo before a timeout.")] = 300,
    data_root: DataRootOption = None,
    config: ConfigOption = None,
) -> None:
    """Run each tool alone, the policy with all tools, and the LLM agent on one set; print the table."""
    from geosleuth.evals.ablation import run_ablation
    from geosleuth.evals.datasets import DatasetError
    from geosleuth.evals.runner import RunError

    settings = load_settings(config)
    try:
        run_ablation(
            dataset, settings, out=out or RUNS_ROOT / f"ablation-{_run_name(dataset)}", limit=limit,
            workers=workers, allow_metadata=allow_metadata, include_agent=not skip_agent,
            time_limit_s=time_limit, data_root=data_root, console=make_console(),
            progress_console=make_console(True),
        )
    except (DatasetError, RunError) as exc:
        fail(str(exc))


@eval_app.command("split")
def split_command(
    dataset: Annotated[str, typer.Argument(help=DATASET_HELP)],
    by: Annotated[
        str, typer.Option("--by", help="Label column whose groups stay on one side (e.g. flickr_owner).")
    ],
    tools: Annotated[
        str | None, typer.Option(help="Comma-separated tools (retrieval is added when absent).")
    ] = None,
    embedder: Annotated[
        str | None, typer.Option(help="auto, efficientnet-lite2 or clip (the retrieval_embedder setting).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N photos of the set.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Photos evaluated at once.")] = 2,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: runs/DATASET-split-BY).")] = None,
    time_limit: Annotated[float, typer.Option(min=1, help="Seconds per photo before a timeout.")] = 300,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No live progress bar.")] = False,
    data_root: DataRootOption = None,
    device: DeviceOption = None,
    config: ConfigOption = None,
) -> None:
    """Evaluate retrieval honestly: each half of the set against an index of the other half, split by --by.

    No group (photographer) is on both sides. Writes index-0/1, fold-0/1 (eval runs) and summary.json.
    """
    from geosleuth.evals.datasets import DatasetError
    from geosleuth.evals.gallery_split import run_split
    from geosleuth.evals.runner import EvalOptions, RunError
    from geosleuth.tools.embedders import EmbedderUnavailable
    from geosleuth.tools.retrieval import RetrievalError

    settings = load_settings(config, tools=split_csv(tools), device=device, retrieval_embedder=embedder)
    options = EvalOptions(
        dataset=dataset, out=out or RUNS_ROOT / f"{_run_name(dataset)}-split-{by}", planner="policy",
        limit=limit, workers=workers, time_limit_s=time_limit, data_root=data_root, progress=not no_progress,
    )
    try:
        summary = run_split(options, settings, by, make_console(stderr=True))
    except (DatasetError, RunError, RetrievalError, EmbedderUnavailable) as exc:
        fail(str(exc))
    console = make_console()
    for fold in summary.folds:
        _print_metrics(fold, console)
    groups = {"all": summary.metrics, **summary.continents}
    _print_table(f"both folds ({summary.metrics.get('n', 0)} photos)", groups, console)


def _print_table(title: str, groups: dict[str, dict[str, float | int]], console: Console) -> None:
    """Print country accuracy, ≤2500 km and median error for each group (e.g. per continent)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("group", "photos", "country", "≤25 km", "≤2500 km", "median km"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for name, m in groups.items():
        table.add_row(name, str(m["n"]), _share(m["country_accuracy"]), _share(m["within_25km"]),
                      _share(m["within_2500km"]), _number(m["median_km_all"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the `eval` command group to the CLI."""
    app.add_typer(eval_app, name="eval")
