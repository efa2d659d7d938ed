"""Tool results cached on disk by photo hash, tool and the inputs that matter, so evals do not redo OCR.

The cache is off until `activate(folder)` is called (the eval runner does, in each worker); then the
run's tool calls go through `cached_run(spec, call)`, which returns the stored Evidence for the same
key, or runs the call and stores its Evidence. Keys hash the tool's name, its source modules (a
changed tool never reuses old results) and what its `ToolSpec` declares decides the result — the
photo's sha256, the arguments, the engines, the text read, the country hint. Only results
that do not depend on the moment are stored: a success or `no_result`; timeouts, rate limits and
unavailable services are run again next time. Each entry is one JSON file written atomically, so
threads and processes share a cache folder safely; it holds the Evidence and its sha256, and an entry
that does not parse or match its checksum (a damaged disk, a stray edit) is logged and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geosleuth.core.state import Evidence
from geosleuth.tools.spec import ToolCall, ToolSpec

CACHEABLE_ERRORS = {None, "no_result"}
"""Error types whose Evidence is stored; others (timeouts, unavailable services, ...) may change."""
FORMAT = 2
"""The entry format, part of every key: entries of format 1 (bare Evidence, no checksum) are never read."""
log = logging.getLogger(__name__)
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
    payload = json.dumps([FORMAT, tool, list(key_parts)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def cached_call(tool: str, key_parts: Sequence[Any], call: Callable[[], Evidence]) -> Evidence:
    """Return the cached Evidence of this call when there is one, else run `call` and cache its result.

    Args:
        tool: The registered tool name.
        key_parts: JSON-able values that decide the result; the first should be the photo's sha256.
        call: Runs the tool; its exceptions propagate (the planner's safety net records them).

    With the cache off this is just `call()`. A damaged entry is logged and recomputed. A result read
    from the cache says so in `observations["cache_hit"]`.
    """
    if _FOLDER is None:
        return call()
    key = cache_key(tool, key_parts)
    path = _FOLDER / tool / key[:2] / f"{key}.json"
    evidence = read_entry(path)
    if evidence is not None:
        _STATS["hits"] += 1
        return evidence.model_copy(update={"observations": {**evidence.observations, "cache_hit": True}})
    _STATS["misses"] += 1
    evidence = call()
    if (evidence.error.type if evidence.error else None) in CACHEABLE_ERRORS:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{id(evidence)}.tmp")
            body = json.loads(evidence.model_dump_json())
            entry = {"sha256": _digest(body), "evidence": body}
            tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs the recomputation
    return evidence


def _digest(body: Any) -> str:
    """Return the sha256 of a JSON value in a canonical form (sorted keys, no spaces)."""
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def read_entry(path: Path) -> Evidence | None:
    """Return the Evidence of a cache entry, None when there is none; a damaged entry is logged, None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        entry = json.loads(data)
        if _digest(entry["evidence"]) != entry["sha256"]:
            raise ValueError("sha256 mismatch")
        return Evidence.model_validate(entry["evidence"])
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("tool cache entry %s is damaged (%s); recomputing it", path, exc)
        return None


def cached_run(spec: ToolSpec, call: ToolCall) -> Evidence:
    """Run a tool call through the cache (when active): the ToolRunner the eval runner gives the run.

    The key is the tool's source hash (its function's module and the modules it names in `sources`)
    and its spec's `cache_key`: the photo's sha256, the planner's arguments and the inputs the spec
    declares (the text read, the country hint, the candidate point, the settings that matter).
    """
    if _FOLDER is None:
        return spec.run(call)
    return cached_call(spec.name, [spec.source_hash(), *spec.cache_key(call)], lambda: spec.run(call))
