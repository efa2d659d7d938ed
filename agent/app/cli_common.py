"""What every `geosleuth` command module shares: the --config option, one-line errors, settings."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from geosleuth.core.config import Settings
    from geosleuth.core.photo import Photo
    from geosleuth.run.traces import TraceStore

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (default: ./geosleuth.toml if present).")
]
NoMetadataOption = Annotated[
    bool, typer.Option("--no-metadata", help="Withhold EXIF/XMP/comments and file name from all tools.")
]
PriorOption = Annotated[str | None, typer.Option(help="Country prior: gdp, population or uniform.")]
DeviceOption = Annotated[str | None, typer.Option(help="auto, cpu or cuda.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error to stderr and exit with `code` (2: bad input or settings)."""
    sys.stderr.write(f"geosleuth: error: {message}\n")
    raise typer.Exit(code)


def load_settings(config: Path | None, **flags: Any) -> Settings:
    """Resolve Settings from flags, environment and config file, failing with one line on bad values.

    The tool names are checked too (an unknown one gets a did-you-mean hint).
    """
    from geosleuth.core.config import read_config_file, resolve_settings
    from geosleuth.tools import check_tool_name

    try:
        settings, _sources = resolve_settings(flags, file=read_config_file(config))
        for name in settings.tools:
            check_tool_name(name)
    except ValueError as exc:
        fail(str(exc))
    return settings


def split_csv(value: str | None) -> tuple[str, ...] | None:
    """Split a comma-separated option into a tuple, None when the option was not given."""
    return None if value is None else tuple(part.strip() for part in value.split(",") if part.strip())


def load_photo_or_fail(photo: Path, settings: Settings) -> Photo:
    """Load `photo` within the settings' pixel limit, or fail with one line (exit 2)."""
    from geosleuth.core.photo import PhotoError, load_photo

    try:
        with _quiet_stderr():
            return load_photo(photo, max_pixels=settings.max_pixels)
    except PhotoError as exc:
        fail(str(exc))


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send what is written to file descriptor 2 meanwhile to /dev/null: the CLI's error is one line.

    libtiff prints its warnings there from C, and Pillow logs corrupt TIFF tags as errors.
    """
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def open_traces(settings: Settings, console: Console) -> TraceStore | None:
    """Open the default trace store; when it cannot be opened, say so and carry on untraced."""
    from geosleuth.run.traces import TraceStore, TraceStoreError

    try:
        return TraceStore.for_settings(settings)
    except (TraceStoreError, OSError) as exc:
        console.print(f"[yellow]not tracing: {exc}[/yellow]")
        return None


def make_console(stderr: bool = False) -> Console:
    """Return a rich Console; when its stream is not a terminal (logs, CI) it is 160 columns, not 80."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)
