"""The `geosleuth` command line. Heavy modules are imported inside commands so `--help` is instant."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from geosleuth.app.cli_common import ConfigOption, PriorOption, fail, load_settings

app = typer.Typer(
    help="Work out where a photo was taken: read, look, check, then commit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# Modules that add commands through `register(app)`, in --help order (bench comes last); each imports only
# typer and light modules at top level.
COMMAND_MODULES: tuple[str, ...] = (
    "geosleuth.app.cli_locate", "geosleuth.app.cli_trace", "geosleuth.app.cli_doctor",
    "geosleuth.app.cli_index", "geosleuth.app.cli_chat", "geosleuth.app.cli_eval",
    "geosleuth.app.cli_osm",
)
for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


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
    prior: PriorOption = None,
    suite: Annotated[
        list[str] | None,
        typer.Option(help="Suites to run, repeatable: locate, agent, eval, faults, fuzz, index, language, "
                     "load, osm, scene, vision, or all. Default: locate."),
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


def main() -> None:
    """Entry point of the `geosleuth` console script; a missing install extra is one line, not a traceback."""
    from geosleuth.core.extras import MissingExtra

    try:
        app()
    except MissingExtra as exc:  # raised outside typer's own handling, so exit here
        sys.stderr.write(f"geosleuth: error: {exc}\n")
        raise SystemExit(2) from None
