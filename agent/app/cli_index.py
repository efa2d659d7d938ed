"""`geosleuth index build`: embed geotagged photos into a FAISS index for the retrieval tool.

The command is defined inside `register`, after `geosleuth.app.cli` has defined its shared helpers, so this
module can be imported on its own without an import cycle (annotations are evaluated at definition
time, hence no `from __future__ import annotations` here).
"""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from geosleuth.app.cli_common import ConfigOption, fail, load_settings


def register(app: typer.Typer) -> None:
    """Add the `index` command group (`index build`) to the geosleuth CLI."""
    index_app = typer.Typer(help="Build retrieval indexes of geotagged photos.", no_args_is_help=True)

    @index_app.command("build")
    def build(
        images: Annotated[
            Path, typer.Argument(help="Folder of photos (searched recursively without LABELS).")
        ],
        out: Annotated[Path, typer.Option("--out", help="Index folder to write.")],
        labels: Annotated[
            Path | None,
            typer.Argument(
                help="CSV with columns file (relative to IMAGES), lat, lon, optional country_code. "
                "Without it every photo in IMAGES is indexed at its own EXIF GPS fix."
            ),
        ] = None,
        embedder: Annotated[
            str | None,
            typer.Option(
                "--embedder",
                help="auto, efficientnet-lite2 or clip (default: retrieval_embedder, auto: clip when a "
                "CLIP is configured, else efficientnet-lite2).",
            ),
        ] = None,
        model: Annotated[
            str | None,
            typer.Option("--model", help="CLIP model, as clip_model: folder, file, open_clip or HF name."),
        ] = None,
        batch_size: Annotated[
            int, typer.Option("--batch-size", min=1, help="Photos embedded per batch.")
        ] = 32,
        device: Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda.")] = None,
        force: Annotated[bool, typer.Option("--force", help="Replace an existing index folder.")] = False,
        config: ConfigOption = None,
    ) -> None:
        """Embed photos into a FAISS index for the retrieval tool (then set retrieval_index).

        With LABELS: the photos it lists, at its coordinates. Without: every photo
        under IMAGES, at its own EXIF GPS fix; photos without a valid fix are
        skipped and counted (listed in INDEX/skipped.csv). Index the geotagged
        part of a library, locate the rest. A flat index under 200,000 photos,
        IVF-PQ with exact re-ranking from there on. Prints a JSON summary line.
        """
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from geosleuth.tools.embedders import EmbedderUnavailable, load_embedder
        from geosleuth.tools.retrieval import RetrievalError, build_index, folder_entries, read_labels

        settings = load_settings(config, clip_model=model, device=device, retrieval_embedder=embedder)
        if not images.is_dir():
            fail(f"{images} is not a folder")
        try:
            entries = read_labels(labels, images) if labels is not None else folder_entries(images)
            chosen = load_embedder(settings)
        except (RetrievalError, EmbedderUnavailable) as exc:
            fail(str(exc))
        console = Console(stderr=True)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,  # the summary line below replaces it
            disable=not console.is_terminal,  # no bar in logs
        )
        task = progress.add_task(f"embedding with {chosen.name} on {chosen.device}", total=len(entries))

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done)
            if done == total:
                progress.update(task, description="writing the index")

        try:
            with progress:
                meta = build_index(
                    entries, chosen, out, batch_size=batch_size, force=force, on_batch=advance
                )
        except RetrievalError as exc:
            fail(str(exc))
        skipped = sum(meta["skipped"].values())
        reasons = ", ".join(f"{count} {reason}" for reason, count in meta["skipped"].items())
        console.print(
            f"indexed {meta['count']} photos ({meta['vectors']['kind']}); skipped {skipped}"
            + (f" ({reasons}; listed in {out / 'skipped.csv'})" if skipped else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        summary = {
            "embedder": meta["embedder"],
            "dim": meta["dim"],
            "count": meta["count"],
            "skipped": skipped,
            "skipped_reasons": meta["skipped"],
            "layout": meta["vectors"]["kind"],
            "out": str(out),
        }
        sys.stdout.write(json.dumps(summary) + "\n")

    app.add_typer(index_app, name="index")
