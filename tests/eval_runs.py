"""Build eval run folders (run.json + results.jsonl, the interfaces' format) for report/compare tests."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path
from typing import Any

from geosleuth.core.config import Settings, resolve_settings
from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"


def settings_for(tmp_path: Path, **flags: Any) -> Settings:
    """Return policy Settings with the tool cache (and OSM cache) under tmp_path, ignoring the env."""
    settings, _ = resolve_settings({"cache_dir": tmp_path / "cache", "planner": "policy", **flags}, env={})
    return settings


def result_row(id_: str, truth: tuple[float, float, str | None], guess: dict[str, Any] | None, *,
               image: str = "", error: dict[str, str] | None = None, seconds: float = 1.0) -> dict[str, Any]:
    """Return one results.jsonl row; `guess` holds country/lat/lon/confidence (or is None: a miss)."""
    from geosleuth.core.geo import distance_km

    lat, lon, country = truth
    full = None
    if guess is not None:
        full = {"country": None, "region": None, "city": None, "lat": None, "lon": None, "confidence": 0.0,
                "radius_km": None, **guess}
    has_point = full is not None and full["lat"] is not None and full["lon"] is not None
    return {
        "id": id_, "image": image, "truth": {"lat": lat, "lon": lon, "country": country}, "guess": full,
        "error_km": distance_km(lat, lon, full["lat"], full["lon"]) if has_point else None,
        "country_correct": None if full is None else full["country"] == country,
        "seconds": seconds, "planner": "policy", "tools_used": [], "llm_calls": 0, "tool_calls": 0,
        "tokens": 0, "error": error, "trace_id": None,
    }


def write_run(run_dir: Path, rows: list[dict[str, Any]], **header: Any) -> Path:
    """Write a run folder with these rows and a run.json header; return the folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    head = {"name": run_dir.name, "dataset": "examples", "planner": "policy", "tools": [],
            "allow_metadata": False, "started": "2025-01-01T00:00:00Z", **header}
    (run_dir / "run.json").write_text(json.dumps(head), encoding="utf-8")
    with (run_dir / "results.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return run_dir


@cache
def example_rows(tools: tuple[str, ...], limit: int = 6) -> tuple[dict[str, Any], ...]:
    """Run the real policy planner on examples/*.jpg (metadata withheld) and return result rows."""
    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.locate import locate_photo

    settings = Settings(use_metadata=False, tools=tools)
    rows = []
    for label in list(csv.DictReader((EXAMPLES / "labels.csv").open(encoding="utf-8")))[:limit]:
        path = EXAMPLES / label["file"]
        result = locate_photo(load_photo(path).without_metadata(), settings, planner="policy")
        g = result.guess
        guess = {"country": g.country_code, "region": g.region, "city": g.place, "lat": g.lat, "lon": g.lon,
                 "confidence": g.confidence, "radius_km": g.radius_km}
        row = result_row(label["file"], (float(label["lat"]), float(label["lon"]), label["country_code"]),
                         guess, image=str(path), seconds=result.seconds)
        row.update(tools_used=[e.tool for e in result.evidence], tool_calls=result.tool_calls)
        rows.append(row)
    return tuple(rows)
