"""Where the checkout is, and the `../shared` folder next to it: computed here and nowhere else.

Also `is_pattern`, which tells a glob the user typed from a path (cheap enough for the CLI to call
before it imports the batch machinery).

A checkout holds the packages (agent/, tools/, evals/) and examples/; the project's research photos
(`shared/data`) and model weights (`shared/models`) sit in a `shared` folder beside it. Both paths
follow this file's place in the source tree, so they are only meaningful in a checkout or an
editable install.
"""

from __future__ import annotations

from pathlib import Path


def source_root() -> Path:
    """Return the checkout's root folder (the one holding agent/, tools/, evals/ and examples/)."""
    return Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """Return the `shared` folder beside the checkout (research data in data/, weights in models/)."""
    return source_root().parent / "shared"


def is_pattern(path: Path) -> bool:
    """Whether `path` is a glob pattern: it does not exist and holds `*`, `?` or `[`."""
    return not path.exists() and any(char in str(path) for char in "*?[")
