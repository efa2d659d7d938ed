"""The policy planner: a fixed, deterministic sequence of tool calls fused by `agent.fusion`.

It is the no-LLM baseline that the LLM agent is measured against. Order:
exif (only when metadata is allowed) -> ocr -> text_clues -> gazetteer -> osm. Each step sees what
earlier steps found (OCR lines feed text_clues and the gazetteer; the current Belief is the
gazetteer's country hint; the best candidate point bounds the OSM search). Any tool may be switched
off through `Settings.tools`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.config import Settings
from agent.fusion import Fusion, commit, prior_belief
from agent.photo import Photo
from agent.state import Evidence, Guess, ToolError

OSM_RADIUS_KM = 50.0


@dataclass
class LocateResult:
    """What one `locate` run produced."""

    guess: Guess
    fusion: Fusion
    seconds: float
    planner: str = "policy"


def _safely(tool: str, call: Callable[[], Evidence]) -> Evidence:
    """Run one tool call; an unexpected exception becomes an `unknown` error Evidence, timed."""
    start = time.perf_counter()
    try:
        evidence = call()
    except Exception as exc:  # noqa: BLE001 - the safety net records every unexpected failure
        evidence = Evidence(
            tool=tool, summary=f"{type(exc).__name__}: {exc}", strength=0.0,
            error=ToolError(type="unknown", message=f"{type(exc).__name__}: {exc}"),
        )
    if not evidence.seconds:
        evidence = evidence.model_copy(update={"seconds": time.perf_counter() - start})
    return evidence


def locate(
    photo: Photo,
    settings: Settings,
    on_evidence: Callable[[Evidence], None] | None = None,
) -> LocateResult:
    """Run the policy planner on a loaded photo and commit to a Guess.

    When `settings.use_metadata` is False the tools see `photo.without_metadata()`, so nothing from
    EXIF, XMP or comments can reach them. `on_evidence` is called after each tool, for live display.
    """
    start = time.perf_counter()
    seen = photo if settings.use_metadata else photo.without_metadata()
    fusion = Fusion(prior=prior_belief(settings.prior))
    lines: list[str] = []

    def run(tool: str, call: Callable[[], Evidence]) -> Evidence:
        evidence = _safely(tool, call)
        fusion.add(evidence)
        if on_evidence:
            on_evidence(evidence)
        return evidence

    for tool in settings.tools:
        if tool == "exif":
            if settings.use_metadata:
                from tools.exif import read_metadata

                run(tool, lambda: read_metadata(seen))
        elif tool == "ocr":
            from tools.ocr import read_text

            ocr = run(tool, lambda: read_text(
                seen.image, engines=settings.ocr_engines, max_side=settings.ocr_max_side,
                device=settings.device,
            ))
            lines = [line["text"] for line in ocr.observations.get("lines", [])]
        elif tool == "text_clues" and lines:
            from tools.text_clues import read_clues

            run(tool, lambda: read_clues(lines))
        elif tool == "gazetteer" and lines:
            from tools.gazetteer import find_places

            run(tool, lambda: find_places(lines, country_hint=fusion.belief.probabilities()))
        elif tool == "osm" and lines and fusion.belief.candidates:
            from tools.osm import query_overpass

            anchor = max(fusion.belief.candidates, key=lambda c: c.weight)
            run(tool, lambda: query_overpass(
                lines, around=(anchor.lat, anchor.lon, OSM_RADIUS_KM), endpoint=settings.overpass_url,
                timeout_s=settings.osm_timeout_s, cache_dir=settings.cache_dir / "osm",
                retries=settings.osm_retries,
            ))
    return LocateResult(guess=commit(fusion), fusion=fusion, seconds=time.perf_counter() - start)
