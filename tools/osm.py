"""OpenStreetMap look-ups: named features near a candidate area (Overpass) and geocoding (Nominatim).

Both go to configurable endpoints, so a private Overpass or Nominatim server can stand in for the
public ones. Every successful response is kept in an on-disk cache (one JSON file per request,
named by the sha256 of endpoint and query), so a repeated query never touches the network.
Transient failures (HTTP 429, 5xx, timeouts) are retried with exponential backoff, all within
`timeout_s`; a network that is not there at all (connection refused, DNS failure, unreachable)
fails at once. Failures come back as `Evidence.failure("osm", ...)`, never as exceptions:
`unavailable`, `timeout` (also Overpass's "runtime error: Query timed out" remark),
`rate_limited` (429), `bad_input` (an invalid query) or `no_result`.

Overpass requests are sent with urllib (overpy's own client has no timeout) and parsed with
`overpy.Overpass(url=endpoint)`, which also turns Overpass remarks into exceptions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from xml.sax import SAXException

from geosleuth.core.state import Candidate, ErrorType, Evidence, timed
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

if TYPE_CHECKING:
    import overpy

TOOL = "osm"

DEFAULT_OVERPASS_URL = "https://overpass-api.de/api/interpreter"
DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org"
USER_AGENT = "geosleuth/0.1 (photo geolocation research tool)"

BACKOFF_S = 0.5
"""First wait before a retry; each further retry waits twice as long (or what Retry-After asks)."""

_NAME_KEYS = "^(name|name:[A-Za-z_-]+|alt_name|official_name|old_name|short_name)$"
_REGEX_SPECIAL = re.compile(r"([.\[\]{}()\\*+?^$|])")
_RETRYABLE_STATUS: dict[int, ErrorType] = {
    429: "rate_limited", 500: "unavailable", 502: "unavailable", 503: "unavailable", 504: "timeout"
}
_KIND_TAGS = ("place", "amenity", "shop", "tourism", "railway", "highway", "building", "leisure", "natural")

T = TypeVar("T")


class _Failed(Exception):
    """A classified failure of one request; `retry` says whether trying again may help."""

    def __init__(self, type: ErrorType, message: str, *, retry: bool = False, wait: float | None = None):
        super().__init__(message)
        self.type: ErrorType = type
        self.message = message
        self.retry = retry
        self.wait = wait


def _cache_path(cache_dir: Path | None, endpoint: str, query: str) -> Path | None:
    if cache_dir is None:
        return None
    digest = hashlib.sha256(f"{endpoint}\n{query}".encode()).hexdigest()
    return Path(cache_dir) / f"{digest}.json"


def _cache_read(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))  # as _cache_write wrote it
        return payload
    except (OSError, ValueError):
        return None


def _cache_write(path: Path | None, payload: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # an unwritable cache only costs a network call next time


def _with_retries(call: Callable[[float], T], *, timeout_s: float, retries: int) -> T:
    """Run call(remaining_seconds), retrying retryable failures with backoff until the deadline."""
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failed("timeout", f"no answer within {timeout_s:g} s")
        try:
            return call(remaining)
        except _Failed as failure:
            wait = failure.wait if failure.wait is not None else BACKOFF_S * 2**attempt
            if not failure.retry or attempt >= retries or time.monotonic() + wait >= deadline:
                raise
            time.sleep(wait)
            attempt += 1


def _network_failure(error: BaseException) -> _Failed:
    """Classify a connection-level error: a missing network fails at once, a timeout may be retried."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError | socket.timeout) or "timed out" in str(reason):
        return _Failed("timeout", f"request timed out: {reason}", retry=True)
    if isinstance(reason, ConnectionResetError | HTTPException):
        return _Failed("unavailable", f"connection dropped: {reason}", retry=True)
    return _Failed("unavailable", f"service unreachable: {reason}")


def _status_failure(status: int, body: str = "", retry_after: str | None = None) -> _Failed:
    """Classify an HTTP error status."""
    if status in _RETRYABLE_STATUS:
        wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        return _Failed(_RETRYABLE_STATUS[status], f"HTTP {status}", retry=True, wait=wait)
    if status == 400:
        detail = " ".join(re.sub(r"<[^>]+>", " ", body).split())[:300]
        return _Failed("bad_input", f"HTTP 400 (query rejected): {detail}")
    return _Failed("unavailable", f"HTTP {status}")


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
                content_type, body = _with_retries(
                    lambda remaining: _fetch_overpass(endpoint, query, remaining, user_agent),
                    timeout_s=timeout_s, retries=retries,
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
                rows = _with_retries(
                    lambda remaining: _fetch_nominatim(endpoint, query, limit, remaining, user_agent),
                    timeout_s=timeout_s, retries=retries,
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
    given, else the best candidate point.
    """
    s, point = call.settings, call.point
    near = call.args.get("near")
    if near is not None:
        lat, lon = float(near[0]), float(near[1])
    elif point is not None:
        lat, lon = point.lat, point.lon
    else:
        return Evidence.failure(TOOL, "bad_input", "no candidate point to search around")
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
access to an Overpass server.""",
    needs=("lines", "point"),
    weight=0.8,
    key=("lines", "point", "settings.overpass_url", "settings.osm_radius_km"),
    planner_args=TEXT_ARG,
    cue="places",
    ablation=("ocr", "gazetteer", TOOL),
    what="named features near a candidate point (Overpass), cached, with retries",
    offline_source="configurable endpoints",
    named_by=(r"open ?street ?maps?", r"osm", r"overpass"),
)
