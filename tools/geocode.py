"""The `geocode` tool: the photo's text as a map search (Nominatim), for addresses and landmark names.

The look-up itself, with its retries, cache and failure types, is `geosleuth.tools.osm.geocode`;
this module makes it a tool: the lines a planner picked are joined into one query. It is not in the
default tools (it needs a reachable Nominatim server): add it to `Settings.tools`, or let an LLM
planner call it where it is offered.
"""

from __future__ import annotations

from geosleuth.core.state import Evidence
from geosleuth.tools.osm import geocode
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

TOOL = "geocode"
MAX_LINES = 3
"""Lines of text joined into one query (a name, a street, a town)."""


def run(call: ToolCall) -> Evidence:
    """Geocode the call's photo lines, joined, with the run's Nominatim endpoint and User-Agent."""
    s = call.settings
    found = geocode(
        ", ".join(call.lines[:MAX_LINES]),
        endpoint=s.nominatim_url,
        timeout_s=s.osm_timeout_s,
        cache_dir=s.cache_dir / "osm",
        user_agent=s.user_agent,
        retries=s.osm_retries,
    )
    return found.model_copy(update={"tool": TOOL})


SPEC = ToolSpec(
    name=TOOL,
    function=geocode,
    run=run,
    description="""Find where an address, landmark or place name read in the photo is, with a map search.

Pass the photo lines that name the place (e.g. "Karlsplatz", "Wien"). Returns candidate locations
and the countries they are in. Needs network access to a Nominatim server.""",
    needs=("lines",),
    weight=0.8,
    key=("lines", "settings.nominatim_url"),
    sources=(run,),
    planner_args=TEXT_ARG,
    cue="places",
    ablation=("ocr", TOOL),
    what="addresses and landmark names → candidate points (Nominatim), cached, with retries",
    offline_source="configurable endpoint",
    named_by=(r"nominatim", r"geocod\w*"),
)
