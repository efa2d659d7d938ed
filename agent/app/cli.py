"""The `geosleuth` command line. Heavy modules are imported inside commands so `--help` is instant."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from geosleuth.app.cli_common import (
    ConfigOption,
    NoMetadataOption,
    fail,
    load_photo_or_fail,
    load_settings,
    open_traces,
    split_csv,
)

if TYPE_CHECKING:
    from geosleuth.run.locate import LocateResult

app = typer.Typer(
    help="Work out where a photo was taken: read, look, check, then commit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.command()
def locate(
    photo: Annotated[Path, typer.Argument(help="The photo (JPEG, PNG, TIFF, WebP, HEIC, ...).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, not a panel.")] = False,
    no_metadata: NoMetadataOption = False,
    planner: Annotated[
        str | None, typer.Option(help="Who picks the tools: llm, policy, or auto (the LLM when one answers).")
    ] = None,
    tools: Annotated[str | None, typer.Option(help="Comma-separated tools to run, in order.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    prior: Annotated[str | None, typer.Option(help="Country prior: gdp, population or uniform.")] = None,
    config: ConfigOption = None,
) -> None:
    """Locate one photo with the agent (an LLM when available, else the policy) and show the evidence."""
    settings = load_settings(
        config, use_metadata=False if no_metadata else None, tools=split_csv(tools), device=device,
        prior=prior, planner=planner,
    )
    loaded = load_photo_or_fail(photo, settings)
    from rich.console import Console

    from geosleuth.app.report import locate_json, locate_panel
    from geosleuth.run.locate import PlannerError, locate_photo

    console = Console(stderr=True)
    traces = open_traces(settings, console)

    def run(on_event: Callable[[str, Any], None] | None = None) -> LocateResult:
        try:
            return locate_photo(loaded, settings, traces=traces, photo_path=str(photo), on_event=on_event)
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
            elif kind == "guard" or (kind == "decision" and not payload["tools"]):
                status.update("committing…")

        result = run(show)
    Console().print(locate_panel(result, photo))


@app.command()
def bench(
    photos: Annotated[
        list[Path] | None, typer.Argument(help="Photos to time (default: the examples/ photos).")
    ] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Warm runs per photo.")] = 2,
    accuracy: Annotated[
        int, typer.Option(help="Score the policy on the first N photos of --dataset, metadata withheld.")
    ] = 0,
    dataset: Annotated[
        str, typer.Option(help="A folder of ../shared/data with labels.csv (file, lat, lon, country_code).")
    ] = "im2gps3k-dev",
    prior: Annotated[str | None, typer.Option(help="Country prior: gdp, population or uniform.")] = None,
    suite: Annotated[
        list[str] | None,
        typer.Option(help="Suites to run, repeatable: locate, agent, eval, index, language, scene, vision, "
                     "or all. "
                     "Default: locate."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print speed and memory figures (start-up, seconds per photo, peak RSS) and language-id accuracy."""
    from geosleuth.app.bench import SUITES, run_bench, run_suite

    known = ["locate", *SUITES]
    chosen = known if suite == ["all"] else (suite or ["locate"])
    for name in chosen:
        if name not in known:
            fail(f"unknown bench suite {name!r}; known: {', '.join(known)}, all")
    settings = load_settings(config, prior=prior)
    if "locate" in chosen:
        run_bench(photos or [], repeat=repeat, accuracy_limit=accuracy, settings=settings, dataset=dataset)
    for name in chosen:
        if name != "locate":
            run_suite(name, settings)


# Modules that add commands through `register(app)`; each imports only typer and light modules at top level.
COMMAND_MODULES: tuple[str, ...] = (
    "geosleuth.app.cli_trace", "geosleuth.app.cli_doctor", "geosleuth.app.cli_index",
    "geosleuth.app.cli_chat", "geosleuth.app.cli_eval",
)
for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Entry point of the `geosleuth` console script."""
    app()
