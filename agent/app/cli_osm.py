"""`geosleuth osm import`: index a local OpenStreetMap extract once, so the osm tool answers offline.

The command is defined inside `register`, after `geosleuth.app.cli` has defined its shared helpers, so this
module can be imported on its own without an import cycle (annotations are evaluated at definition
time, hence no `from __future__ import annotations` here).
"""

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from geosleuth.app.cli_common import ConfigOption, fail, load_settings


def register(app: typer.Typer) -> None:
    """Add the `osm` command group (`osm import`) to the geosleuth CLI."""
    osm_app = typer.Typer(help="Use OpenStreetMap from a local extract, offline.", no_args_is_help=True)

    @osm_app.command("import")
    def import_extract(
        extract: Annotated[
            Path, typer.Argument(help="OpenStreetMap extract: .osm.pbf (Geofabrik, BBBike), .osm, .osm.bz2.")
        ],
        force: Annotated[bool, typer.Option("--force", help="Rebuild an index that is up to date.")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Index the named features of EXTRACT into <cache_dir>/osm-index/ (then set osm_extract to EXTRACT).

        Keeps named nodes and ways with a kind (amenity, shop, tourism, railway, place, highway, ...):
        their names in every language, kind tags and addr:country, in SQLite with an R-tree. Prints a
        JSON summary line (features, size, seconds, index path).
        """
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from geosleuth.tools.osm_local import OsmIndexError, build_index, index_path, is_up_to_date

        settings = load_settings(config)
        if not extract.is_file():
            fail(f"{extract}: no such file")
        index = index_path(extract, settings.cache_dir)
        if index == extract.expanduser():
            fail(f"{extract} is already an index; give the extract it was built from")
        if not force and is_up_to_date(extract, index):
            fail(f"{index} is up to date with {extract}; --force rebuilds it")
        console = Console(stderr=True)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),  # pulses: pyosmium does not say how far into the file it is
            TimeElapsedColumn(),
            console=console,
            transient=True,  # the summary line below replaces it
            disable=not console.is_terminal,  # no bar in logs
        )
        task = progress.add_task(f"reading {extract.name}", total=None)

        def advance(nodes: int, ways: int) -> None:
            progress.update(task, description=f"reading {extract.name}: {nodes:,} nodes, {ways:,} ways kept")

        start = time.perf_counter()
        try:
            with progress:
                meta = build_index(extract, index, on_progress=advance)
        except OsmIndexError as exc:
            fail(str(exc))
        seconds = time.perf_counter() - start
        size_mb = index.stat().st_size / 1e6
        console.print(
            f"indexed {int(meta['features']):,} features ({int(meta['nodes']):,} nodes, "
            f"{int(meta['ways']):,} ways) of {extract} in {seconds:.1f} s: {index} ({size_mb:.1f} MB)",
            markup=False, highlight=False, soft_wrap=True,
        )
        summary = {
            "features": int(meta["features"]), "nodes": int(meta["nodes"]), "ways": int(meta["ways"]),
            "size_mb": round(size_mb, 3), "seconds": round(seconds, 2), "index": str(index),
        }
        sys.stdout.write(json.dumps(summary) + "\n")

    app.add_typer(osm_app, name="osm")
