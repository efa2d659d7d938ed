"""Build-once pickles in the user cache (`geosleuth.core.config.default_cache_dir`), keyed by sources."""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Iterable
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

from geosleuth.core.config import default_cache_dir

T = TypeVar("T")


def source_key(packages: Iterable[str], files: Iterable[Path] = (), extra: str = "") -> str:
    """Return a short hash of installed package versions, file contents and a format tag."""
    key = hashlib.sha256(extra.encode())
    for package in packages:
        key.update(f"{package}={version(package)};".encode())
    for path in files:
        key.update(path.read_bytes())
    return key.hexdigest()[:16]


def cached_pickle(name: str, key: str, build: Callable[[], T], valid: Callable[[object], bool]) -> T:
    """Load `<cache>/<name>-<key>.pickle` if it holds a valid object, else build it and save it atomically.

    A read-only or missing cache folder only costs the rebuild; a damaged file is rebuilt.
    """
    path = default_cache_dir() / f"{name}-{key}.pickle"
    try:
        value = pickle.loads(path.read_bytes())
        if valid(value):
            return value  # type: ignore[no-any-return]
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
        pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
    except OSError:
        pass
    return value
