"""Tool results cached on disk by photo hash, tool and the inputs that matter, so evals do not redo OCR.

The cache is off until `activate(folder)` is called (the eval runner does, in each worker); then the
run's tool calls go through `cached_run(spec, call)`, which returns the stored Evidence for the same
key, or runs the call and stores its Evidence. Keys hash the tool's name, its source modules (a
changed tool never reuses old results) and what its `ToolSpec` declares decides the result — the
photo's sha256, the arguments, the engines, the text read, the country hint. Only results
that do not depend on the moment are stored: a success or `no_result`; timeouts, rate limits and
unavailable services are run again next time. Each entry is one JSON file written atomically, so
threads and processes share a cache folder safely.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geosleuth.core.state import Evidence
from geosleuth.tools.spec import ToolCall, ToolSpec

CACHEABLE_ERRORS = {None, "no_result"}
"""Error types whose Evidence is stored; others (timeouts, unavailable services, ...) may change."""
_FOLDER: Path | None = None
_STATS = {"hits": 0, "misses": 0}


def activate(folder: Path | str | None) -> None:
    """Turn the cache on (results under `folder`), or off with None; resets the hit counters."""
    global _FOLDER
    _FOLDER = None if folder is None else Path(folder)
    _STATS.update(hits=0, misses=0)


def active_folder() -> Path | None:
    """Return the folder in use, None when the cache is off."""
    return _FOLDER


def stats() -> dict[str, int]:
    """Hits and misses since the cache was activated in this process."""
    return dict(_STATS)


def cache_key(tool: str, key_parts: Sequence[Any]) -> str:
    """Return the hex key of one tool call: the tool's name and the JSON of `key_parts`."""
    payload = json.dumps([tool, list(key_parts)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def cached_call(tool: str, key_parts: Sequence[Any], call: Callable[[], Evidence]) -> Evidence:
    """Return the cached Evidence of this call when there is one, else run `call` and cache its result.

    Args:
        tool: The registered tool name.
        key_parts: JSON-able values that decide the result; the first should be the photo's sha256.
        call: Runs the tool; its exceptions propagate (the planner's safety net records them).

    With the cache off this is just `call()`. A damaged or unreadable entry is recomputed. A result read
    from the cache says so in `observations["cache_hit"]`.
    """
    if _FOLDER is None:
        return call()
    key = cache_key(tool, key_parts)
    path = _FOLDER / tool / key[:2] / f"{key}.json"
    try:
        evidence = Evidence.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        pass
    else:
        _STATS["hits"] += 1
        return evidence.model_copy(update={"observations": {**evidence.observations, "cache_hit": True}})
    _STATS["misses"] += 1
    evidence = call()
    if (evidence.error.type if evidence.error else None) in CACHEABLE_ERRORS:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{id(evidence)}.tmp")
            tmp.write_text(evidence.model_dump_json(), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs the recomputation
    return evidence


def cached_run(spec: ToolSpec, call: ToolCall) -> Evidence:
    """Run a tool call through the cache (when active): the ToolRunner the eval runner gives the run.

    The key is the tool's source hash (its function's module and the modules it names in `sources`)
    and its spec's `cache_key`: the photo's sha256, the planner's arguments and the inputs the spec
    declares (the text read, the country hint, the candidate point, the settings that matter).
    """
    if _FOLDER is None:
        return spec.run(call)
    return cached_call(spec.name, [spec.source_hash(), *spec.cache_key(call)], lambda: spec.run(call))
