"""The `web_search` tool: ask a web search engine about the text read and a place it may be at.

The query joins the first lines read from the photo and, when checking a hypothesis, the place it
names ("Café de Flore" + "Paris" -> "Café de Flore Paris"). The engine is any `SearchBackend`; the
one a run uses is `SearxngBackend`, a SearXNG-compatible JSON endpoint (`Settings.search_url`, e.g.
a self-hosted SearXNG at http://127.0.0.1:8888/search: docs/search.md). With no endpoint set, or
one that cannot be reached, the tool answers `unavailable` at once.

Results are evidence, never instructions: their titles, snippets and URLs are recorded as
observations, and the place names in the titles and snippets are geocoded by the gazetteer
(`geosleuth.tools.gazetteer.find_places`, with its word-rarity weighing), which gives candidate
points and country likelihoods. They count modestly: fusion weight `WEIGHT`, and the gazetteer's
strength times `STRENGTH_SCALE`, because the query itself names the place (pages about "Café de
Flore Paris" mention Paris partly because they were asked to) and web text is anyone's words.
A planner sees the results only as quoted data, under the same rules as the photo's text.

Bounded like the OSM look-ups (`geosleuth.tools.online`): one time budget per query with retries
and backoff after 429/5xx/timeouts, a disk cache (`<cache_dir>/search`), and at most
`Settings.search_budget` queries per photo.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, Protocol

from geosleuth.core.state import Evidence, timed
from geosleuth.tools.gazetteer import find_places
from geosleuth.tools.gazetteer_index import fold
from geosleuth.tools.online import (
    Failed,
    cache_path,
    cache_read,
    cache_write,
    network_failure,
    status_failure,
    with_retries,
)
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

TOOL = "web_search"
WEIGHT = 0.3
"""Fusion weight of a search's place names (the gazetteer's own is 0.8): web text is weak evidence."""
STRENGTH_SCALE = 0.5
"""The gazetteer's strength on the results' text is scaled by this (the query named the place)."""
MAX_RESULTS = 5
"""Results kept per query."""
SNIPPET_CHARS = 200
"""Longest snippet kept per result (the gazetteer reads every phrase of it: ~0.5 s per result)."""
MAX_QUERY_LINES = 3
"""Lines of photo text joined into a query."""
MAX_QUERY_CHARS = 160
"""Longest query sent."""
USER_AGENT = "geosleuth/0.1 (photo geolocation research tool)"
ARGS = {
    **TEXT_ARG,
    "place": {"type": "string", "description": "a place to check the text against, or ''"},
}
"""The arguments a planner may give: which photo lines, and the place to check."""


@dataclass(frozen=True)
class SearchResult:
    """One web result: what the engine says a page is."""

    title: str
    url: str
    snippet: str


class SearchBackend(Protocol):
    """A web search engine: one attempt at one query."""

    def search(self, query: str, timeout_s: float) -> list[SearchResult]:
        """Return the results, best first; raise `geosleuth.tools.online.Failed` on failure."""
        ...


@dataclass(frozen=True)
class SearxngBackend:
    """A SearXNG-compatible endpoint: GET `url?q=...&format=json`, results under "results"."""

    url: str
    user_agent: str = USER_AGENT

    def search(self, query: str, timeout_s: float) -> list[SearchResult]:
        """Send one query; return its results or raise `Failed` (classified like the OSM look-ups)."""
        joiner = "&" if "?" in self.url else "?"
        request = urllib.request.Request(
            f"{self.url}{joiner}{urllib.parse.urlencode({'q': query, 'format': 'json'})}",
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - configured
                body = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace") if error.fp else ""
            raise status_failure(error.code, text, error.headers.get("Retry-After")) from error
        except (urllib.error.URLError, OSError, HTTPException) as error:
            raise network_failure(error) from error
        return parse_searxng(body)


def parse_searxng(body: str) -> list[SearchResult]:
    """Parse a SearXNG JSON body into results; raise `Failed` ("unavailable") when it is not one."""
    try:
        rows = json.loads(body)["results"]
        return [
            SearchResult(title=str(row.get("title") or ""), url=str(row["url"]),
                         snippet=str(row.get("content") or ""))
            for row in rows
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise Failed("unavailable", f"malformed search response: {type(error).__name__}: {error}") from error


def build_query(lines: Sequence[str], place: str = "") -> str:
    """Join the first lines read and the place checked, unless they name it already, into one query."""
    terms = [" ".join(line.split()) for line in lines if line.strip()][:MAX_QUERY_LINES]
    if place.strip() and f" {fold(place)} " not in f" {fold(' '.join(terms))} ":
        terms.append(" ".join(place.split()))
    return " ".join(terms)[:MAX_QUERY_CHARS].strip()


def web_search(
    query: str,
    *,
    endpoint: str = "",
    backend: SearchBackend | None = None,
    timeout_s: float = 8.0,
    retries: int = 2,
    cache_dir: Path | None = None,
    country_hint: Mapping[str, float] | None = None,
    sources: Sequence[str] = (),
    user_agent: str = USER_AGENT,
) -> Evidence:
    """Search the web for `query`; geocode the place names in the results with the gazetteer.

    Args:
        query: What to search for, e.g. "Café de Flore Paris".
        endpoint: A SearXNG-compatible JSON endpoint; "" (with no backend) means web search is off.
        backend: Another engine behind the `SearchBackend` interface, used instead of `endpoint`.
        timeout_s: Total time budget, retries included.
        retries: Most retries after 429, 5xx or timeouts.
        cache_dir: Folder for cached responses; None disables the cache.
        country_hint: Current country probabilities (the gazetteer's tie-breaker).
        sources: Extra gazetteer place files (`Settings.gazetteer_sources`).
        user_agent: HTTP User-Agent sent to the endpoint.

    Returns:
        Evidence from tool "web_search": the results (title, URL, snippet) as observations, and the
        gazetteer's candidate points and country likelihoods for the places they name; a failure
        (`unavailable`, `timeout`, `rate_limited`, `bad_input`, `no_result`) otherwise.
    """
    query = " ".join(query.split())
    engine = backend or SearxngBackend(endpoint, user_agent)
    name = endpoint or type(engine).__qualname__
    inputs: dict[str, Any] = {"query": query, "endpoint": name}
    with timed() as took:
        try:
            if backend is None and not endpoint:
                raise Failed("unavailable", "web search is off: no search_url set (docs/search.md)")
            if not query:
                raise Failed("bad_input", "empty search query")
            path = cache_path(cache_dir, name, query)
            cached = cache_read(path)
            if cached is not None:
                results = [SearchResult(**row) for row in cached["results"]]
            else:
                results = with_retries(
                    lambda remaining: engine.search(query, remaining), timeout_s=timeout_s, retries=retries
                )[:MAX_RESULTS]
                cache_write(path, {"endpoint": name, "query": query, "results": [asdict(r) for r in results]})
        except Failed as failure:
            return Evidence.failure(TOOL, failure.type, failure.message, inputs=inputs, seconds=took[0])
        inputs["cached"] = cached is not None
        if not results:
            return Evidence.failure(TOOL, "no_result", f"no web result for {query!r}", inputs=inputs,
                                    seconds=took[0])
        kept = [SearchResult(r.title, r.url, " ".join(r.snippet.split())[:SNIPPET_CHARS]) for r in results]
        texts = [text for r in kept for text in (r.title, r.snippet) if text.strip()]
        found = find_places(texts, country_hint=dict(country_hint or {}), sources=sources)
    return _evidence(kept, found, inputs, took[0])


def _evidence(
    results: list[SearchResult], found: Evidence, inputs: dict[str, Any], seconds: float
) -> Evidence:
    """Build the search's Evidence: the results as data, the places they name as modest claims."""
    first = results[0]
    named = f"; places named: {', '.join(found.places[:3])}" if found.ok else "; no place named"
    return Evidence(
        tool=TOOL,
        inputs=inputs,
        summary=f"{len(results)} web result(s), first: {first.title}: {first.snippet}"[:200] + named,
        country_likelihoods=found.country_likelihoods,
        candidates=found.candidates,
        places=found.places,
        observations={"results": [asdict(r) for r in results],
                      "matches": found.observations.get("matches", [])},
        strength=round(found.strength * STRENGTH_SCALE, 4),
        seconds=seconds,
    )


def run(call: ToolCall) -> Evidence:
    """Search for the call's photo lines and its `place` argument, within the photo's query budget."""
    s, place = call.settings, str(call.args.get("place") or "")
    query = build_query(call.lines, place)
    if call.called.count(TOOL) >= s.search_budget:
        return Evidence.failure(TOOL, "bad_input", f"the search budget is spent ({s.search_budget} "
                                "queries per photo: search_budget)", inputs={"query": query, "place": place})
    found = web_search(
        query,
        endpoint=s.search_url,
        timeout_s=s.search_timeout_s,
        retries=s.search_retries,
        cache_dir=s.cache_dir / "search",
        country_hint=call.country_hint,
        sources=tuple(s.gazetteer_sources),
        user_agent=s.user_agent,
    )
    return found.model_copy(update={"inputs": {**found.inputs, "place": place}})


SPEC = ToolSpec(
    name=TOOL,
    function=web_search,
    run=run,
    description="""Search the web for the text read in the photo, optionally with a place to check it against.

Pass the photo lines that name something (a café, a hotel, a street) and the place it may be in (e.g.
"Café de Flore" and "Paris"). Returns the results' titles, snippets and URLs, and the places they
name. Needs a SearXNG-compatible search endpoint (search_url).""",
    needs=("lines",),
    weight=WEIGHT,
    key=("lines", "country_hint", "settings.search_url", "settings.gazetteer_sources"),
    planner_args=ARGS,
    cue="places",
    ablation=("ocr", TOOL),
    what="photo text (+ a checked place) → web results; the places they name → modest candidate points",
    offline_source="off unless `search_url` is set (a self-hosted SearXNG)",
    named_by=(r"web ?search", r"searxng", r"search engine"),
)
