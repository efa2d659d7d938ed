"""The `hypothesis` tool: check a place an LLM proposes against the gazetteer and the evidence so far.

An LLM that has seen what the tools read (text, scene labels, likely countries, candidate places)
names places, each with its reason ("Titusville, Florida: written on the sign"). Its coordinates are
never asked for (the embedded 1.5B model puts Titusville 200 km off); the name is checked instead:

1. **Geocoded.** The name must be a place of the gazetteer (exact name or alternate name, no fuzzy
   match) in the country it is said to be in, in the region when one is given; with the `geocode`
   tool enabled (a Nominatim server), a name the gazetteer lacks is looked up there.
2. **In the country.** An unknown country code, or a point outside that country, fails.
3. **Supported.** The country's current probability (the fused script, language, phone numbers,
   domains, place names and scene so far) must be at least `SUPPORT_RATIO` of the top country's,
   so a model cannot move the answer to a country the clues rule out. A place whose name was read
   in the photo, or proposed by a model that sees the photo, needs only `READ_SUPPORT_RATIO`: the
   name on the sign is evidence of its own, which the word-frequency weighing of the gazetteer may
   have set aside ("CHO LON" is a Saigon district, and three ordinary words to it).
4. **Known.** A town under `SMALL_PLACE` people counts only near a candidate point the evidence
   already has (the model chooses among the namesakes the tools found; it cannot add a town).
5. **Grounded or not.** A place whose name (any of its names: "Αθήνα" is Athens) was read in the
   photo counts at `READ_STRENGTH`; one only named by the model at `NAMED_STRENGTH`.

A checked hypothesis is Evidence of this tool: one candidate point at the place and a vote for its
country (fusion weight `WEIGHT`: about x3.2 on the odds when read, x1.8 when only named; a valid
phone number counts for more). One that fails a check is recorded as a `no_result` failure with the
reason and has no effect. Documented in docs/agent.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from geosleuth.core.countries import get_country
from geosleuth.core.geo import country_at, distance_km
from geosleuth.core.state import Candidate, Evidence, timed
from geosleuth.tools.gazetteer_index import Place, PlaceIndex, fold, get_index, radius_for, ranked_places
from geosleuth.tools.osm import geocode
from geosleuth.tools.spec import ToolCall, ToolSpec

TOOL = "hypothesis"
WEIGHT = 0.5
"""Fusion weight of a checked hypothesis (the log-linear pooling exponent)."""
READ_STRENGTH = 0.6
"""Strength of a hypothesis whose place name was read in the photo: weight x strength = 0.3, so its
country's odds rise by 50**0.3, about x3.2 (the unlisted countries sit at the likelihood floor)."""
NAMED_STRENGTH = 0.3
"""Strength of a hypothesis the model named without the name being read (about x1.8 on the odds)."""
NAMED_POINT_WEIGHT = 0.25
"""Weight of the point of a place the model named but the photo does not (its evidence's only point
otherwise weighs 1). Fusion ranks points by weight x strength, so it scores 0.075: under a town the
gazetteer matched in the photo's text (measured: Titusville, read on the Kennedy Space Center sign,
0.19), above nothing. A model that says "Orlando" beside "Titusville, Florida" no longer moves the
point 60 km; one that names London for a Sherlock Holmes restaurant still places it."""
SUPPORT_RATIO = 0.1
"""A hypothesis's country needs at least this fraction of the top country's probability."""
READ_SUPPORT_RATIO = 0.01
"""The same for a place whose name was read in the photo, or proposed by a model that sees it."""
LANDMARK_RADIUS_KM = 2.0
"""Radius of a checked landmark (a feature other than a populated place)."""
MAX_WORDS = 4
"""Longest run of words in the photo text looked up as a name (grounding)."""
ARGS = {
    "place": {"type": "string", "description": "the place's name, as written if it was read"},
    "region": {"type": "string", "description": "its first-level region, or ''"},
    "country_code": {"type": "string", "description": "ISO 3166-1 alpha-2 code"},
    "reason": {"type": "string", "description": "why, in a few words"},
}
"""The arguments a planner gives one hypothesis. No examples: the 1.5B model copies them as answers
(measured: "Titusville" proposed for a photo that never named it)."""
SMALL_PLACE = 100_000
"""A town under this many people counts only where the evidence already put a candidate point within
`NEAR_KM` of it: small models invent small towns ("Titusville" for a photo that never named it) and
revive ordinary words the gazetteer set aside ("Post, Texas" from "US POST OFFICE"), while they
know big cities (the London of a Sherlock Holmes restaurant). Landmarks are never small."""
NEAR_KM = 25.0
"""How close an earlier candidate must be to vouch for a small town (fusion's cluster radius)."""


def _names_read(lines: Sequence[str], index: PlaceIndex) -> set[int]:
    """Return the geonameids of every place one of whose names is a run of words in the photo text."""
    found: set[int] = set()
    for line in lines:
        words = fold(line).split()
        for start in range(len(words)):
            for end in range(start + 1, min(len(words), start + MAX_WORDS) + 1):
                key_id = index.key_of.get(" ".join(words[start:end]))
                if key_id is not None:
                    found.update(int(index.geonameid[-int(p) - 1 if p < 0 else int(p)])
                                 for p in index.places_of(key_id))
    return found


def _in_region(place: Place, region: str) -> bool:
    key = fold(region)
    return bool(key) and (key in fold(place.admin1) or fold(place.admin1) in key)


def _near(place: Place, candidates: Sequence[Candidate]) -> bool:
    """Whether an earlier candidate point of the same country lies within `NEAR_KM` of the place."""
    return any(
        (c.country_code or place.country_code) == place.country_code
        and distance_km(c.lat, c.lon, place.lat, place.lon) <= NEAR_KM
        for c in candidates
    )


def _geocoded(
    name: str, region: str, code: str, index: PlaceIndex, candidates: Sequence[Candidate]
) -> Place | None:
    """Return the gazetteer's place of that name in `code`, or None.

    Among namesakes, one the evidence already placed a candidate near comes first ("GRAND ISLE VT"
    is Grand Isle, Vermont, whatever region the model gives), then one in the model's region.
    """
    found = [place for place, _ in ranked_places(name, code, 25, False, index)]
    near = [place for place in found if _near(place, candidates)]
    in_region = [place for place in found if _in_region(place, region)]
    return next(iter(near or in_region or found), None)


def check_hypothesis(
    place: str,
    region: str,
    country_code: str,
    reason: str,
    *,
    lines: Sequence[str] = (),
    country_hint: Mapping[str, float] | None = None,
    candidates: Sequence[Candidate] = (),
    seen: bool = False,
    sources: Sequence[str] = (),
    nominatim: Mapping[str, Any] | None = None,
) -> Evidence:
    """Check one proposed place (see the module docstring); a failed check is a `no_result` Evidence.

    Args:
        place: The place's name, optionally followed by ", region".
        region: Its first-level region, or "".
        country_code: ISO 3166-1 alpha-2 code of its country.
        reason: The proposer's reason, recorded with the evidence.
        lines: The lines of text read from the photo (grounding).
        country_hint: Current country probabilities (support).
        candidates: The candidate points of the evidence so far (namesakes, small towns).
        seen: The proposer sees the photo (a looser support check).
        sources: Extra gazetteer place files (`Settings.gazetteer_sources`).
        nominatim: Keyword arguments of `geosleuth.tools.osm.geocode` (endpoint, timeout_s, ...) to look
            up a name the gazetteer lacks; None keeps the check offline.
    """
    name, _, rest = place.partition(",")
    name, region = name.strip(), (region or rest).strip()
    code = country_code.strip().upper()
    inputs = {"place": place, "region": region, "country_code": code, "reason": reason, "seen": seen}
    observations: dict[str, Any] = {**inputs, "checked": False}

    def fail(why: str) -> Evidence:
        return Evidence.failure(
            TOOL, "no_result", f"unchecked: {name or '?'} ({code or '?'}): {why}", inputs=inputs,
            observations={**observations, "why": why},
        )

    with timed() as took:
        try:
            country = get_country(code)
        except KeyError:
            return fail(f"unknown country code {country_code!r}")
        index = get_index(sources)
        found = _geocoded(name, region, code, index, candidates) if name else None
        point: tuple[float, float, float, str] | None = None
        grounded = bool(name) and f" {fold(name)} " in f" {fold(' '.join(lines))} "
        if found is not None:
            radius = radius_for(found.population) if found.feature == "P" else LANDMARK_RADIUS_KM
            point = (found.lat, found.lon, radius, found.label())
            grounded = grounded or found.geonameid in _names_read(lines, index)
        hint = dict(country_hint or {})
        top = max(hint.values(), default=0.0)
        ratio = READ_SUPPORT_RATIO if grounded or seen else SUPPORT_RATIO
        if top > 0 and hint.get(code, 0.0) < ratio * top:
            return fail(f"{country.name} is not supported by the evidence (p={hint.get(code, 0.0):.3f})")
        if found is not None and found.feature == "P" and found.population < SMALL_PLACE \
                and not _near(found, candidates):
            return fail(f"{found.label()} is a small town no other evidence points to")
        if point is None and name and nominatim is not None:
            looked = geocode(f"{name}, {region}" if region else name, **nominatim)
            inside = [c for c in looked.candidates if (c.country_code or "").upper() == code]
            if looked.ok and inside:
                point = (inside[0].lat, inside[0].lon, inside[0].radius_km, inside[0].label or name)
        if point is None:
            elsewhere = [p.country_code for p, _ in ranked_places(name, None, 5, False, index)]
            where = f" (it is in {', '.join(dict.fromkeys(elsewhere))})" if elsewhere else ""
            return fail(f"no place of that name in {country.name}{where}")
        lat, lon, radius, label = point
        if country_at(lat, lon) not in (code, None):
            return fail(f"the point ({lat:.3f}, {lon:.3f}) is not in {country.name}")
    how = "read in the photo" if grounded else "named by the model"
    return Evidence(
        tool=TOOL,
        inputs=inputs,
        summary=f"checked: {label}, {how} ({reason})" if reason else f"checked: {label}, {how}",
        country_likelihoods={code: 1.0},
        candidates=[Candidate(lat=lat, lon=lon, label=label, country_code=code, radius_km=radius,
                              weight=1.0 if grounded else NAMED_POINT_WEIGHT)],
        places=[label],
        observations={**observations, "checked": True, "grounded": grounded, "point": [lat, lon],
                      "label": label},
        strength=READ_STRENGTH if grounded else NAMED_STRENGTH,
        seconds=took[0],
    )


def run(call: ToolCall) -> Evidence:
    """Check the hypothesis in the call's args against the photo lines and the current belief."""
    s, args = call.settings, call.args
    nominatim = None
    if "geocode" in s.tools:  # the user enabled online geocoding
        nominatim = {"endpoint": s.nominatim_url, "timeout_s": s.osm_timeout_s,
                     "cache_dir": s.cache_dir / "osm", "user_agent": s.user_agent, "retries": s.osm_retries}
    return check_hypothesis(
        str(args.get("place", "")), str(args.get("region", "")), str(args.get("country_code", "")),
        str(args.get("reason", "")), lines=call.lines, country_hint=call.country_hint,
        candidates=call.candidates,
        seen=bool(args.get("seen", False)), sources=tuple(s.gazetteer_sources), nominatim=nominatim,
    )


SPEC = ToolSpec(
    name=TOOL,
    function=check_hypothesis,
    run=run,
    description="""Check a place proposed for the photo: geocode it, and test it against the evidence.

Pass the place's name, region, country code and the reason for it. A place that is in the gazetteer,
in that country, and in a country the evidence supports becomes a candidate point; any other is
recorded and has no effect.""",
    needs=(),
    weight=WEIGHT,
    key=("lines", "country_hint", "candidates", "settings.gazetteer_sources", "settings.tools"),
    planner_args=ARGS,
    ablation=(),
    what="an LLM's proposed place → checked (gazetteer, country, support) candidate point, or no effect",
    offline_source="the gazetteer (GeoNames); Nominatim only with `geocode` enabled",
)
