"""What every photo tool's LangChain wrapper does: resolve settings, load the photo, run, serialise."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.state import Evidence

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.photo import Photo


def evidence_for_path(tool: str, path: str, call: Callable[[Photo, Settings], Evidence]) -> dict[str, Any]:
    """Load the photo at `path` with the file/env settings and return `call`'s Evidence as JSON.

    A photo that cannot be read becomes a `bad_input` Evidence, not an exception, so an agent can
    read the error and go on.
    """
    from agent.config import read_config_file, resolve_settings
    from agent.photo import PhotoError, load_photo

    settings, _ = resolve_settings(file=read_config_file())
    try:
        photo = load_photo(path, max_pixels=settings.max_pixels)
    except PhotoError as exc:
        return Evidence.failure(tool, "bad_input", str(exc)).model_dump(mode="json")
    return call(photo, settings).model_dump(mode="json")
