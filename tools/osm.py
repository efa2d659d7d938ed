"""OpenStreetMap look-ups: named features near a candidate area (Overpass) and geocoding (Nominatim).

Both go to configurable endpoints, so a private Overpass or Nominatim server can stand in for the
public ones. Every successful response is kept in an on-disk cache (one JSON file per request,
named by the sha256 of endpoint and query: `geosleuth.tools.online`), so a repeated query never
touches the network.
Transient failures (HTTP 429, 5xx, timeouts) are retried with exponential backoff, all within
`timeout_s`; a network that is not there at all (connection refused, DNS failure, unreachable)
fails at once. Failures come back as `Evidence.failure("osm", ...)`, never as exceptions:
`unavailable`, `timeout` (also Overpass's "runtime error: Query timed out" remark),
`rate_limited` (429), `bad_input` (an invalid query) or `no_result`.

Overpass requests are sent with urllib (overpy's own client has no timeout) and parsed with
`overpy.Overpass(url=endpoint)`, which also turns Overpass remarks into exceptions.
"""

from __future__ import annotations

import math
import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax import SAXException

from geosleuth.core.state import Candidate, ErrorType, Evidence, timed
from geosleuth.tools.online import BACKOFF_S, with_retries
from geosleuth.tools.online import Failed as _Failed
from geosleuth.tools.online import cache_path as _cache_path
from geosleuth.tools.online import cache_read as _cache_read
from geosleuth.tools.online import cache_write as _cache_write
from geosleuth.tools.online import network_failure as _network_failure
from geosleuth.tools.online import status_failure as _status_failure
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

if TYPE_CHECKING:
    import overpy

TOOL = "osm"

DEFAULT_OVERPASS_URL = "https://overpass-api.de/api/interpreter"
DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org"
USER_AGENT = "geosleuth/0.1 (photo geolocation research tool)"

_NAME_KEYS = "^(name|name:[A-Za-z_-]+|alt_name|official_name|old_name|short_name)$"
_REGEX_SPECIAL = re.compile(r"([.\[\]{}()\\*+?^$|])")
_KIND_TAGS = ("place", "amenity", "shop", "tourism", "railway", "highway", "building", "leisure", "natural")

def _escape_ql_regex(name: str) -> str:
    """Escape a name for a POSIX regex inside an Overpass QL double-quoted string."""
    regex = _REGEX_SPECIAL.sub(r"\\\1", " ".join(name.split()))
    return regex.replace("\\", "\\\\").replace('"', '\\"')


def build_overpass_query(
    names: list[str],
    *,
    around: tuple[float, float, float] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    timeout_s: float = 25,
    limit: int = 50,
) -> str:
    """Build an Overpass QL query for nodes and ways whose name (or name:*, alt_name, ...) is one of names.

    Args:
        names: Names to match whole, case-insensitively; regex characters are escaped.
        around: (lat, lon, radius_km) circle to search in.
        bbox: (south, west, north, east) box to search in, used when `around` is None.
        timeout_s: Server-side time limit written into the query.
        limit: Most elements to return.

    Returns:
        The query text (JSON output, ways with their centre point).
    """
    if around is not None:
        lat, lon, radius_km = around
        area = f"(around:{radius_km * 1000:.0f},{lat:.6f},{lon:.6f})"
    elif bbox is not None:
        area = "({:.6f},{:.6f},{:.6f},{:.6f})".format(*bbox)
    else:
        raise ValueError("give an area: around=(lat, lon, radius_km) or bbox=(south, west, north, east)")
    pattern = "^(" + "|".join(_escape_ql_regex(n) for n in names) + ")$"
    clauses = "\n".join(f'  {kind}[~"{_NAME_KEYS}"~"{pattern}",i]{area};' for kind in ("node", "way"))
    return f"[out:json][timeout:{max(1, math.ceil(timeout_s))}];\n(\n{clauses}\n);\nout center {limit};"


def _fetch_overpass(endpoint: str, query: str, timeout: float, user_agent: str) -> tuple[str, str]:
    """POST one query with `user_agent`; return (content type, body) or raise `_Failed`."""
    request = urllib.request.Request(
        endpoint,
        data=urllib.parse.urlencode({"data": query}).encode(),
        headers={"User-Agent": user_agent, "Accept": "application/json, application/osm3s+xml"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.headers.get("Content-Type", ""), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace") if error.fp else ""
        raise _status_failure(error.code, body, error.headers.get("Retry-After")) from error
    except (urllib.error.URLError, OSError, HTTPException) as error:
        raise _network_failure(error) from error


def _parse_overpass(endpoint: str, content_type: str, body: str) -> overpy.Result:
    """Parse an Overpass body with overpy; raise `_Failed` on remarks or malformed data."""
    import overpy
    from overpy import exception as overpy_errors

    api = overpy.Overpass(url=endpoint)
    head = body.lstrip()[:100]
    try:
        if "json" in content_type or head.startswith("{"):
            return api.parse_json(body)
        if "xml" in content_type or head.startswith("<?xml") or head.startswith("<osm"):
            return api.parse_xml(body)
    except overpy_errors.OverpassRuntimeError as error:
        kind: ErrorType = "timeout" if "timed out" in error.msg else "unavailable"
        raise _Failed(kind, f"Overpass: {error.msg}") from error
    except (overpy_errors.OverpassRuntimeRemark, overpy_errors.OverpassUnknownError) as error:
        raise _Failed("unavailable", f"Overpass: {error.msg}") from error
    except (ValueError, KeyError, TypeError, AttributeError, SAXException) as error:
        raise _Failed("unavailable", f"malformed Overpass response: {error}") from error
    raise _Failed("unavailable", f"malformed Overpass response (content type {content_type!r})")


def query_overpass(
    names: list[str],
    *,
    around: tuple[float, float, float] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    endpoint: str = DEFAULT_OVERPASS_URL,
    timeout_s: float = 20.0,
    cache_dir: Path | None = None,
    retries: int = 2,
    limit: int = 50,
    user_agent: str = USER_AGENT,
) -> Evidence:
    """Find OpenStreetMap nodes and ways named like text seen in the photo, inside a candidate area.

    Args:
        names: Names read in the photo (shop, street, station, ...); matched whole, case-insensitively,
            against name, name:*, alt_name, official_name, old_name and short_name.
        around: (lat, lon, radius_km) circle to search.
        bbox: (south, west, north, east) box to search, when `around` is not given.
        endpoint: Overpass interpreter URL.
        timeout_s: Total time budget, retries included.
        cache_dir: Folder for cached responses; None disables the cache.
        retries: Most retries after 429, 5xx or timeouts.
        limit: Most elements to return.
        user_agent: HTTP User-Agent sent to the server (`Settings.user_agent` in a run).

    Returns:
        Evidence from tool "osm": a candidate point per element (ways by their centre), the names
        found, and country likelihoods where elements carry `addr:country`.
    """
    names = [" ".join(n.split()) for n in names if n and n.strip()]
    inputs: dict[str, Any] = {"names": names, "around": around, "bbox": bbox, "endpoint": endpoint}
    with timed() as took:
        try:
            if not names:
                raise _Failed("bad_input", "no names to look for")
            try:
                query = build_overpass_query(
                    names, around=around, bbox=bbox, timeout_s=timeout_s, limit=limit
                )
            except ValueError as error:
                raise _Failed("bad_input", str(error)) from error
            path = _cache_path(cache_dir, endpoint, query)
            cached = _cache_read(path)
            if cached is not None:
                result = _parse_overpass(endpoint, cached["content_type"], cached["body"])
            else:
                content_type, body = with_retries(
                    lambda remaining: _fetch_overpass(endpoint, query, remaining, user_agent),
                    timeout_s=timeout_s, retries=retries, backoff_s=BACKOFF_S,
                )
                result = _parse_overpass(endpoint, content_type, body)
                _cache_write(path, {"endpoint": endpoint, "query": query, "content_type": content_type,
                                    "body": body})
        except _Failed as failure:
            return Evidence.failure("osm", failure.type, failure.message, inputs=inputs, seconds=took[0])
    inputs["cached"] = cached is not None
    return _overpass_evidence(result, inputs, took[0])


def _overpass_evidence(result: Any, inputs: dict[str, Any], seconds: float) -> Evidence:
    points = [(n, float(n.lat), float(n.lon), 0.3) for n in result.nodes]
    points += [(w, float(w.center_lat), float(w.center_lon), 1.0) for w in result.ways
               if w.center_lat is not None and w.center_lon is not None]
    if not points:
        return Evidence.failure(
            "osm", "no_result", f"no OpenStreetMap feature named {inputs['names']} there",
            inputs=inputs, seconds=seconds,
        )
    countries: Counter[str] = Counter()
    candidates = []
    for element, lat, lon, radius in points:
        tags = element.tags
        code = (tags.get("addr:country") or tags.get("is_in:country_code") or "").upper()
        code = code if len(code) == 2 and code.isalpha() else None
        if code:
            countries[code] += 1
        kind = next((f"{k}={tags[k]}" for k in _KIND_TAGS if k in tags), "feature")
        name = tags.get("name", "")
        label = f"{name} ({kind}, OSM {type(element).__name__.lower()} {element.id})"
        candidates.append(Candidate(lat=lat, lon=lon, label=label, country_code=code, radius_km=radius))
    names = sorted({e.tags["name"] for e, *_ in points if "name" in e.tags})
    return Evidence(
        tool="osm",
        inputs=inputs,
        summary=f"{len(points)} OpenStreetMap feature(s) found: {', '.join(names[:5])}",
        country_likelihoods=dict(countries),
        candidates=candidates,
        places=names,
        observations={"elements": len(points)},
        strength=min(0.8, 0.35 + 0.1 * len(names)),
        seconds=seconds,
    )


def query_extract(
    extract: Path,
    cache_dir: Path,
    *,
    names: Sequence[str] = (),
    kinds: Sequence[str] = (),
    around: tuple[float, float, float] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    country: str | None = None,
) -> Evidence:
    """Answer an `osm` question from the local index of `extract`, as Evidence like the Overpass path's.

    Args:
        extract: The configured `osm_extract`: an extract (its index is where `index_path` says) or an index.
        cache_dir: The run's cache folder (where `geosleuth osm import` put the index).
        names: Names read in the photo; searched in `around`, else `bbox`, else `country`.
        kinds: Feature kinds to find around `around` instead of names (`osm_local.find_kinds` says how).
        around: (lat, lon, radius_km) circle.
        bbox: (south, west, north, east) box.
        country: ISO alpha-2 code.

    Returns:
        Evidence from tool "osm": a candidate per feature, or a failure (`unavailable` without an
        index, `bad_input`, `no_result`).
    """
    from geosleuth.tools.osm_local import OsmIndexError, find_kinds, find_names, index_path, read_meta

    index = index_path(extract, cache_dir)
    clean = [" ".join(n.split()) for n in names if n and n.strip()]
    inputs: dict[str, Any] = {"names": clean, "kinds": list(kinds), "around": around, "bbox": bbox,
                              "country": country, "index": str(index)}
    with timed() as took:
        try:
            read_meta(index)
            if kinds:
                if around is None:
                    raise ValueError("kinds are searched around a point")
                found = find_kinds(index, list(kinds), around=around)
            elif not clean:
                raise ValueError("no names to look for")
            else:
                found = find_names(index, clean, around=around, bbox=bbox, country=country)
        except OsmIndexError as exc:
            return Evidence.failure("osm", "unavailable", str(exc), inputs=inputs, seconds=took[0])
        except ValueError as exc:
            return Evidence.failure("osm", "bad_input", str(exc), inputs=inputs, seconds=took[0])
        except sqlite3.DatabaseError as exc:  # a damaged index
            return Evidence.failure("osm", "unavailable", f"{index}: {exc}", inputs=inputs, seconds=took[0])
    if not found.nodes and not found.ways:
        what = f"of kind {list(kinds)}" if kinds else f"named {clean}"
        return Evidence.failure("osm", "no_result", f"no OpenStreetMap feature {what} there in {index.name}",
                                inputs=inputs, seconds=took[0])
    inputs["local"] = True
    return _overpass_evidence(found, inputs, took[0])


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """Return (scheme, domain-with-path) for geopy from a URL or a bare host name."""
    if "://" not in endpoint:
        return "https", endpoint.rstrip("/")
    parts = urllib.parse.urlsplit(endpoint)
    return parts.scheme, (parts.netloc + parts.path).rstrip("/")


def _geopy_failure(error: BaseException) -> _Failed:
    """Classify a geopy error by walking to its root cause (HTTP status or socket error)."""
    from geopy import exc
    from geopy.adapters import AdapterHTTPError

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, AdapterHTTPError):
            return _status_failure(seen.status_code, seen.text or "", seen.headers.get("retry-after"))
        if not isinstance(seen, exc.GeopyError) and isinstance(seen, OSError | HTTPException):
            return _network_failure(seen)
        seen = seen.__cause__ or seen.__context__
    if isinstance(error, exc.GeocoderTimedOut):
        return _Failed("timeout", f"Nominatim: {error}", retry=True)
    return _Failed("unavailable", f"Nominatim: {error}")


def _fetch_nominatim(
    endpoint: str, query: str, limit: int, timeout: float, user_agent: str
) -> list[dict[str, Any]]:
    """Run one Nominatim search through geopy; return the raw result dicts or raise `_Failed`."""
    from geopy import exc
    from geopy.adapters import URLLibAdapter
    from geopy.geocoders import Nominatim

    scheme, domain = _split_endpoint(endpoint)
    geolocator = Nominatim(domain=domain, scheme=scheme, user_agent=user_agent, adapter_factory=URLLibAdapter)
    try:
        found = geolocator.geocode(
            query, exactly_one=False, limit=limit, addressdetails=True, timeout=timeout
        )
    except exc.GeocoderParseError as error:
        raise _Failed("unavailable", f"malformed Nominatim response: {error}") from error
    except exc.GeopyError as error:
        raise _geopy_failure(error) from error
    return [location.raw for location in found or []]


def geocode(
    query: str,
    *,
    endpoint: str = DEFAULT_NOMINATIM_URL,
    timeout_s: float = 10.0,
    cache_dir: Path | None = None,
    user_agent: str = USER_AGENT,
    retries: int = 2,
    limit: int = 5,
) -> Evidence:
    """Geocode free text (an address, a place or landmark name) with Nominatim.

    Args:
        query: Text to look up, e.g. "Karlsplatz, Wien".
        endpoint: Nominatim base URL ("https://host[/path]") or bare host name (https assumed).
        timeout_s: Total time budget, retries included.
        cache_dir: Folder for cached responses; None disables the cache.
        user_agent: HTTP User-Agent; the public server requires a meaningful one.
        retries: Most retries after 429, 5xx or timeouts.
        limit: Most results to ask for.

    Returns:
        Evidence from tool "osm": a candidate per result (radius from its bounding box) and
        country likelihoods from the results' country codes, weighted by Nominatim importance.
    """
    query = " ".join(query.split())
    inputs: dict[str, Any] = {"query": query, "endpoint": endpoint}
    with timed() as took:
        try:
            if not query:
                raise _Failed("bad_input", "empty geocoding query")
            path = _cache_path(cache_dir, endpoint, f"search?limit={limit}&q={query}")
            cached = _cache_read(path)
            if cached is not None:
                rows = cached["results"]
            else:
                rows = with_retries(
                    lambda remaining: _fetch_nominatim(endpoint, query, limit, remaining, user_agent),
                    timeout_s=timeout_s, retries=retries, backoff_s=BACKOFF_S,
                )
                _cache_write(path, {"endpoint": endpoint, "query": query, "results": rows})
        except _Failed as failure:
            return Evidence.failure("osm", failure.type, failure.message, inputs=inputs, seconds=took[0])
    inputs["cached"] = cached is not None
    return _nominatim_evidence(rows, inputs, took[0])


def _bbox_radius_km(row: dict[str, Any]) -> float:
    """Half the diagonal of a Nominatim bounding box [south, north, west, east], in km (>= 0.1)."""
    try:
        south, north, west, east = (float(v) for v in row["boundingbox"])
    except (KeyError, TypeError, ValueError):
        return 1.0
    mid = math.radians((south + north) / 2)
    dy, dx = (north - south) * 111.2, (east - west) * 111.2 * math.cos(mid)
    return max(0.1, min(1000.0, math.hypot(dx, dy) / 2))


def _nominatim_evidence(rows: list[dict[str, Any]], inputs: dict[str, Any], seconds: float) -> Evidence:
    if not rows:
        return Evidence.failure("osm", "no_result", f"Nominatim found nothing for {inputs['query']!r}",
                                inputs=inputs, seconds=seconds)
    likes: defaultdict[str, float] = defaultdict(float)
    candidates = []
    for rank, row in enumerate(rows):
        weight = float(row.get("importance") or 0.0) or 1.0 / (rank + 1)
        code = str((row.get("address") or {}).get("country_code", "")).upper() or None
        if code and len(code) == 2:
            likes[code] += weight
        else:
            code = None
        candidates.append(Candidate(
            lat=float(row["lat"]), lon=float(row["lon"]), weight=weight, label=row.get("display_name", ""),
            country_code=code, radius_km=_bbox_radius_km(row),
        ))
    share = max(likes.values()) / sum(likes.values()) if likes else 0.0
    return Evidence(
        tool="osm",
        inputs=inputs,
        summary=f"Nominatim: {len(rows)} result(s); best: {rows[0].get('display_name', '')}",
        country_likelihoods={code: round(v, 6) for code, v in likes.items()},
        candidates=candidates,
        places=[row.get("display_name", "") for row in rows],
        observations={"osm_ids": [f"{r.get('osm_type')}/{r.get('osm_id')}" for r in rows]},
        strength=round(0.2 + 0.4 * share, 4),
        seconds=seconds,
    )


def run(call: ToolCall) -> Evidence:
    """Search OSM for this call's photo lines around a point, with the run's endpoint.

    The point is the call's `near` argument ([lat, lon]: the planner checking a proposed place) when
    given, else the best candidate point. With `osm_extract` set the local index answers instead
    (`geosleuth.tools.osm_local`), also for the arguments `bbox` or `country` (names searched there,
    not around the point) and `kinds` (features of those kinds around the point).
    """
    s, point = call.settings, call.point
    near = call.args.get("near")
    if near is not None:
        lat, lon = float(near[0]), float(near[1])
    elif point is not None:
        lat, lon = point.lat, point.lon
    else:
        return Evidence.failure(TOOL, "bad_input", "no candidate point to search around")
    if s.osm_extract is not None:
        bbox, country = call.args.get("bbox"), call.args.get("country")
        return query_extract(
            s.osm_extract, s.cache_dir, names=call.lines, kinds=call.args.get("kinds", ()),
            around=None if bbox or country else (lat, lon, s.osm_radius_km), bbox=bbox, country=country,
        )
    return query_overpass(
        list(call.lines),
        around=(lat, lon, s.osm_radius_km),
        endpoint=s.overpass_url,
        timeout_s=s.osm_timeout_s,
        cache_dir=s.cache_dir / "osm",
        retries=s.osm_retries,
        user_agent=s.user_agent,
    )


SPEC = ToolSpec(
    name=TOOL,
    function=query_overpass,
    run=run,
    description="""Check whether OpenStreetMap has features named like the photo's text near a candidate.

Use it to confirm a guess from the gazetteer: it searches the names read in the photo (shops,
streets, stations) around the point and returns the matching features' locations. Needs network
access to an Overpass server, or a local extract imported with `geosleuth osm import`.""",
    needs=("lines", "point"),
    weight=0.8,
    key=("lines", "point", "settings.overpass_url", "settings.osm_radius_km", "settings.osm_extract"),
    planner_args=TEXT_ARG,
    cue="places",
    ablation=("ocr", "gazetteer", TOOL),
    what="named features near a candidate point (Overpass), cached, with retries",
    offline_source="configurable endpoints",
    named_by=(r"open ?street ?maps?", r"osm", r"overpass"),
)
