"""Tool results cached on disk by photo hash, tool and the inputs that matter, so evals do not redo OCR.

The cache is off until `activate(folder)` is called (the eval runner does, in each worker); then the
planner's tool calls go through `cached_call(tool, key_parts, call)`, which returns the stored
Evidence for the same key, or runs `call` and stores its Evidence. Keys hash the tool's name, its
source file (a changed tool never reuses old results) and `key_parts` — the photo's sha256 and
whatever else decides the result (arguments, engines, the text read, the country hint). Only results
that do not depend on the moment are stored: a success or `no_result`; timeouts, rate limits and
unavailable services are run again next time. Each entry is one JSON file written atomically, so
threads and processes share a cache folder safely.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geosleuth.core.state import Evidence

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
    """The folder in use, None when the cache is off."""
    return _FOLDER


def stats() -> dict[str, int]:
    """Hits and misses since the cache was activated in this process."""
    return dict(_STATS)


@functools.lru_cache(maxsize=None)
def _tool_source(tool: str) -> str:
    """Hash of the tool's module source, so editing a tool invalidates its cached results."""
    path = Path(__file__).resolve().parents[1] / "tools" / f"{tool}.py"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "no-source"


def cache_key(tool: str, key_parts: Sequence[Any]) -> str:
    """The hex key of one tool call: tool name, its source hash and the JSON of `key_parts`."""
    payload = json.dumps([tool, _tool_source(tool), list(key_parts)], sort_keys=True, default=str)
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


def tool_key(name: str, args: dict[str, Any], state: Any, photo: Any, settings: Any) -> list[Any]:
    """The inputs that decide tool `name`'s result in this state (see `geosleuth.run.planners.call_tool`).

    OCR and zoom depend on the pixels and the OCR settings only, so a run with other tools reuses
    them; text tools also depend on the text read so far, the gazetteer on the country hint (the
    Belief), OSM on the best candidate point and the endpoint.
    """
    from geosleuth.run.planners import IMAGE_TOOLS, photo_lines

    evidence, belief = state["evidence"], state["belief"]
    ocr = [list(settings.ocr_engines), settings.ocr_max_side, settings.device]
    parts: list[Any] = [photo.sha256, args]
    if name == "exif":
        return parts
    if name in ("ocr", "zoom"):
        return [*parts, ocr]
    if name in IMAGE_TOOLS:  # vision: the pixels, the model and the index
        return [*parts, settings.clip_model, str(settings.retrieval_index), settings.device]
    parts.append(photo_lines(evidence))
    if name == "gazetteer":
        parts.append({c: round(p, 6) for c, p in belief.probabilities().items() if p >= 1e-6})
    if name == "osm":
        anchor = max(belief.candidates, key=lambda c: c.weight) if belief.candidates else None
        parts += [anchor and [round(anchor.lat, 5), round(anchor.lon, 5)], settings.overpass_url]
    return parts


def cached_tool_call(
    call_tool: Callable[..., Evidence], name: str, args: dict[str, Any], state: Any, *, photo: Any,
    settings: Any,
) -> Evidence:
    """Run `call_tool(name, args, state, photo=..., settings=...)` through the cache (when active).

    This is the hook of `geosleuth.run.planners.run_planner`: its context's `call_tool` goes through here.
    """
    def run() -> Evidence:
        return call_tool(name, args, state, photo=photo, settings=settings)

    if _FOLDER is None:
        return run()
    return cached_call(name, tool_key(name, args, state, photo, settings), run)
