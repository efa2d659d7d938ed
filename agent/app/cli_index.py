"""`geosleuth index build`: embed geotagged photos with CLIP into a FAISS index for the retrieval tool.

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
        images: Annotated[Path, typer.Argument(help="Folder the LABELS file names are relative to.")],
        labels: Annotated[
            Path, typer.Argument(help="CSV with columns file, lat, lon (country_code optional).")
        ],
        out: Annotated[Path, typer.Option("--out", help="Index folder to write.")],
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
        """Embed the photos listed in LABELS with the CLIP image encoder and write a FAISS index to --out."""
        from rich.console import Console

        from geosleuth.tools.clip_models import ClipUnavailable, load_clip
        from geosleuth.tools.retrieval import RetrievalError, build_index, read_labels

        settings = load_settings(config, clip_model=model, device=device)
        if not images.is_dir():
            fail(f"{images} is not a folder")
        try:
            rows = read_labels(labels, images)
            clip = load_clip(settings)
        except (RetrievalError, ClipUnavailable) as exc:
            fail(str(exc))
        console = Console(stderr=True)
        try:
            with console.status(f"embedding {len(rows)} photos with {clip.name} on {clip.device}…") as status:
                meta = build_index(
                    rows,
                    clip,
                    out,
                    batch_size=batch_size,
                    force=force,
                    on_batch=lambda done, total: status.update(f"embedded {done}/{total} photos"),
                )
        except RetrievalError as exc:
            fail(str(exc))
        for reason in meta["skipped"]:
            console.print(f"[yellow]skipped: {reason}[/yellow]")
        summary = {k: meta[k] for k in ("model", "dim", "count")}
        sys.stdout.write(json.dumps(summary | {"skipped": len(meta["skipped"]), "out": str(out)}) + "\n")

    app.add_typer(index_app, name="index")
