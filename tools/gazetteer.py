"""Find place names in text read from a photo and turn them into candidate points (the gazetteer tool).

The index (GeoNames towns, airports, extra place files; search, reverse lookup) is
`geosleuth.tools.gazetteer_index`. Here each OCR line is cut into phrases, looked up, and every
reading of a phrase as a place is weighed by how likely the phrase is to mean that place at all:

* credits, watermarks, date stamps and map-viewer labels are set aside first
  (`geosleuth.tools.nonplace_text`: "© Google" is not Topeka, Kansas);
* the chance that the phrase names the place rather than being ordinary text, from word frequencies
  and the place's size (`geosleuth.tools.word_rarity`): "Titusville" is the town, "Mission" and
  "Noble" are mostly words; a landmark counts as a town of `LANDMARK_POPULATION`;
* an alternate name counts less than a primary one (the index scores it 0.95), is weak when it looks
  nothing like the primary name in the same script (a former name, a nickname, a foreign exonym:
  "Waterloo" for Austin, "Garden City" for Singapore, "Lüttich" for Liège; the local names "Köln",
  "Praha", "Firenze" are alike enough), and does not count at all when it is also an ordinary word
  ("Google" for Topeka);
* the layout: a phrase that is a whole line and capitalised reads like a name, a lower-case word
  inside a longer line like a word (`IN_LINE`, `LOWER_CASE`);
* the region or country written beside it multiplies the odds by `CONTEXT_ODDS` and keeps only the
  namesakes there ("Titusville, Florida", "Grand Isle VT").

A reading is weak when it is more likely ordinary text than the place (chance times layout below
`WEAK_CHANCE`), when it is a fuzzy match (a misread matched to a near name is a guess on a guess:
"ROND POINT" is not Rodd Point, Australia), an alternate name unlike the primary one, a short
alternate name of a small place (`SHORT_ALIAS`), or the name of a brand sold all over the world
(`geosleuth.tools.clues.brand.global_brand_names`: TOYOTA on a sign is the carmaker, not Toyota,
Aichi; CORONA the beer, not Corona, California). A weak reading counts only with support: the
region or country written in the text, another phrase's reading that is not weak within `NEAR_KM`
(two weak readings never prop each other up: among 25 namesakes each, two ordinary words
nearly always have a pair of towns near each other), or a country hint of at least `HINT_SUPPORT`
(a hint makes it a candidate point but never a vote for a country, so the belief is not fed back to
itself). Country likelihoods and the evidence's strength follow the readings' chances, so a lone
common word cannot commit a run.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import Any

import pycountry
from rapidfuzz import fuzz

from geosleuth.core.countries import get_country
from geosleuth.core.geo import distance_km
from geosleuth.core.state import LIKELIHOOD_FLOOR, Candidate, Evidence, timed
from geosleuth.tools.clues.brand import global_brand_names
from geosleuth.tools.gazetteer_index import Place, fold, get_index, pop_factor, radius_for, ranked_places
from geosleuth.tools.nonplace_text import split_place_text
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec
from geosleuth.tools.word_rarity import UNSPACED_LETTER, country_languages, place_chance

TOOL = "gazetteer"

WEAK_CHANCE = 0.2
"""A reading whose chance of naming the place (times its layout factor) is below this is weak: the
ordinary reading is more than four times as likely. Not even odds, because towns scatter about the
word-frequency model by a factor of about three (half a Zipf unit), and a big city is mentioned as
often as its metropolitan area, not its city proper, suggests: Boston (654k) is 4.7 in English, 4.1
expected, a chance of 0.3."""
CONTEXT_ODDS = 100.0
"""Odds factor for a place whose region or country name is also written in the text: such a name is
written beside a town's name on many signs and addresses (a third, say), beside an ordinary word
seldom (the chance that some text names the one region, of dozens, where a town of that name lies)."""
NEAR_KM = 50.0
"""Another phrase's strong reading this close supports a weak reading (towns on one sign, one address).
Not a whole region: nearly every ordinary word is the name of some town in Texas or in Hauts-de-France."""
HINT_SUPPORT = 0.5
"""Smallest country hint (belief probability) that lets a weak reading there be a candidate point."""
HINT_ONLY_STRENGTH = 0.05
"""Strength of evidence whose readings all stand on the country hint alone (points, no country votes)."""
LANDMARK_POPULATION = 300_000
"""A landmark (feature other than "P") is weighed like a town of this many people: it has none of
its own, it is in the index because people go there and write about it, and its name is precise
("Central Park" then stands on its own, a single word such as "Museum" or "Terminal" does not)."""
LANDMARK_RADIUS_KM = 2.0
"""How far a photo naming a landmark may be from its point."""
SHORT_ALIAS = 4
"""An alternate name of at most this many letters (Han, kana and Hangul aside) is weak unless its
place has `SHORT_ALIAS_POPULATION` people: GeoNames lists many alternate names a place, so short
letter strings, OCR garbles among them, are nearly all some village's alternate name ("Alth", "Sine",
"Dara", "Rube")."""
SHORT_ALIAS_POPULATION = 500_000
"""Few places are this big, so a chance hit on one of their short alternate names ("Wien", "Roma") is rare."""
UNLIKE = 0.5
"""rapidfuzz ratio (0-1) of the folded phrase to the primary name under which the two look nothing
alike. Only names in the primary name's script are compared: a name in another script ("Москва",
"東京") is how the place is written there."""
IN_LINE = 0.7
"""Layout factor of a phrase that is only part of its line (a word in a sentence, a shop's sign)."""
JOIN_WORDS = 3
"""Two adjacent lines of at most this many words each are also read as one ("Melton | Mowbray",
"SANDGATE | TOWN HALL"): signs break a name over lines."""
LOWER_CASE = 0.15
"""Layout factor of a phrase written in lower case: names are capitalised, so a lower-case phrase is
weak whatever its rarity (a word, a logo, a misread: "cove", "got", "mava")."""

_UNSPACED = re.compile(UNSPACED_LETTER + "{2,}")
"""Runs of Han, kana or Hangul: scripts written without spaces between words."""
_WORD = re.compile(r"(?<!\d)[^\W\d_]+(?:['’-][^\W\d_]+)*(?!\d)")
"""A word: letters (with inner apostrophes and hyphens), not glued to digits as in a plate '4LAE651'."""
_WEB = re.compile(r"\S*(?:@|://|www\.)\S*|\S+\.(?:com|net|org|info|[a-z]{2})\b\S*")

STOP_WORDS = frozenset(
    "a an and are as at by for from in into is it no not of on or the to with your our you we".split()
)
"""Function words that never start or end a place-name n-gram."""

STREET_BEFORE = frozenset(
    "rue bd boulevard av avenue allee allée chemin place pl via viale piazza corso calle c carrer avda "
    "avinguda paseo rua travessa ul ulica ulitsa aleja strada str".split()
)
"""Street-type words written before a street's name (French, Italian, Spanish, Catalan, Portuguese,
Polish, Russian, Romanian address forms): "Bd Saint-Germain" names a street, not Saint-Germain."""

STREET_AFTER = frozenset(
    "street st road rd avenue ave av boulevard blvd lane ln drive dr way place pl court ct terrace "
    "highway hwy parkway pkwy strasse straße str weg gasse allee platz ring damm ufer laan straat "
    "gatan gata vej vegen veien katu utca".split()
)
"""Street-type words written after a street's name (English, German, Dutch, Nordic, Finnish,
Hungarian): "Wheeling Avenue" names a street, not Wheeling."""

_POSTCODE_BEFORE = r"(?<![\w-])(?:[A-Z]{1,2}-)?\d{4,6}\s+"
"""A postcode right before a name: the town of a postal address ("75006 Paris", "D-80331 München")."""


@dataclass(frozen=True, slots=True)
class _Reading:
    """One place a phrase may name, and how much it may."""

    place: Place
    quality: float  # match quality: 1 exact primary name, 0.95 exact alternate, <= 0.9 fuzzy
    chance: float  # P(the phrase names this place, not ordinary text), context included
    in_context: bool  # its region or country is written in the text
    weak: bool  # counts only with support
    votes: bool = True  # False: a candidate point only (supported by the country hint alone)


@dataclass(frozen=True, slots=True)
class _Phrase:
    """A phrase of a line with its readings."""

    text: str
    length: float  # its length factor (`_length`): short strings match some name by chance
    layout: float
    readings: tuple[_Reading, ...]


def _phrases(line: str, max_words: int = 3) -> list[tuple[int, int, str, list[str]]]:
    """Return (start, end, text, line words) spans of a line worth looking up, longest first."""
    words = _words(line)
    spans: list[tuple[int, int, str, list[str]]] = []
    lengths = list(range(min(max_words, len(words)), 0, -1))
    if len(words) > max_words and len(words) <= 6:
        lengths.insert(0, len(words))
    for size in lengths:
        for start in range(len(words) - size + 1):
            chunk = [fold(w) for w in words[start : start + size]]
            if chunk[0] in STOP_WORDS or chunk[-1] in STOP_WORDS or sum(len(w) for w in chunk) < 3:
                continue
            spans.append((start, start + size, " ".join(words[start : start + size]), words))
    for run in _UNSPACED.finditer(line):  # CJK: every 2-8 character substring, longest first,
        text, base = run.group(), 10_000 + run.start()  # at character offsets past the word indices
        for size in range(min(8, len(text)), 1, -1):
            spans += [(base + i, base + i + size, text[i : i + size], [text]) 
                      for i in range(len(text) - size + 1)]
    return spans


def _words(line: str) -> list[str]:
    """Return the words of a line as `_phrases` counts them (web addresses and Han/kana/Hangul runs aside)."""
    return [w for w in _WORD.findall(_WEB.sub(" ", line)) if not _UNSPACED.fullmatch(w)]


def _line_phrases(line: str, context: str, index: Any, crossing: int | None = None) -> list[_Phrase]:
    """Look up the phrases of one line and weigh the places they match (longest phrases first).

    Args:
        line: The line (or two short lines joined).
        context: The folded text of all lines (where a region or country name may be written).
        index: The place index to search.
        crossing: For two joined lines, the number of words of the first: only phrases spanning the
            join are looked up, and only exactly (a misread matched across a line break is noise).
    """
    out: list[_Phrase] = []
    taken: list[tuple[int, int]] = []
    looked_up: set[str] = set()
    for start, end, phrase, words in _phrases(line):
        if crossing is not None and not start < crossing < end:
            continue
        if phrase in looked_up or any(s <= start and end <= e for s, e in taken):
            continue
        looked_up.add(phrase)
        letters = len(fold(phrase).replace(" ", ""))
        fuzzy = crossing is None and letters >= 5 and not _UNSPACED.fullmatch(phrase)
        found = ranked_places(phrase, None, 25, fuzzy, index=index)
        if not found:
            continue
        taken.append((start, end))
        layout = _layout(phrase, words, start, end)
        after = words[end] if end < len(words) else ""
        rest = f" {context.replace(fold(phrase), ' ')} "
        address = (_street_name(words, start, end), _postal_town(line, phrase))
        readings = _readings(phrase, found, layout, rest, after, address)
        if readings:
            out.append(_Phrase(phrase, _length(phrase, letters), layout, readings))
    return out


def _layout(phrase: str, words: list[str], start: int, end: int) -> float:
    """Return how much the phrase's writing reads like a name: a whole line, capitalised, is 1.

    Words of one or two letters ("km", "St") do not make a line longer; Han, kana and Hangul have no
    capitals and no spaces, so a run of them counts as capitalised and as a line of its own.
    """
    if _UNSPACED.fullmatch(phrase):
        return 1.0
    own_line = all(len(w) < 3 for w in words[:start] + words[end:])
    capitalised = not phrase[0].islower()
    return (1.0 if own_line else IN_LINE) * (1.0 if capitalised else LOWER_CASE)


def _length(phrase: str, letters: int) -> float:
    """Return the length factor of a phrase: short letter strings match some name by chance.

    Han, kana and Hangul runs get 1: their chance of naming the place is already scored by their
    length (`geosleuth.tools.word_rarity`), and three characters are a whole name ("東京都").
    """
    return 1.0 if _UNSPACED.fullmatch(phrase) else min(1.0, 0.5 + letters / 16)


@cache
def _global_brands() -> frozenset[str]:
    """Return the folded names of the global brands that are also place names."""
    return frozenset(fold(name) for name in global_brand_names())


@cache
def _region_codes() -> dict[tuple[str, str], str]:
    """Map (country, folded region name) to the region's ISO 3166-2 letters ("Vermont" -> "VT")."""
    codes = {}
    for sub in pycountry.subdivisions:
        suffix = sub.code.split("-", 1)[1]
        if suffix.isalpha():
            codes[(sub.country_code, fold(sub.name))] = suffix
    return codes


def _in_context(place: Place, rest: str, after: str) -> bool:
    """Whether the place's region or country is written in the text.

    Args:
        place: The place a phrase may name.
        rest: The folded text of all lines minus the phrase, padded with spaces.
        after: The word written right after the phrase, as written ("VT" in "GRAND ISLE VT").
    """
    names = [place.admin1, get_country(place.country_code).name] if place.country_code else [place.admin1]
    if any(len(key := fold(name)) >= 4 and f" {key} " in rest for name in names if name):
        return True
    return bool(after) and after == _region_codes().get((place.country_code, fold(place.admin1)))


def _population(place: Place) -> int:
    """Return the population a place is weighed by (a landmark's is `LANDMARK_POPULATION`)."""
    return place.population if place.feature == "P" else LANDMARK_POPULATION


def _street_name(words: list[str], start: int, end: int) -> bool:
    """Whether the phrase at words[start:end] is written as a street's name ("Bd Saint-Germain")."""
    before = fold(words[start - 1]) if 0 < start <= len(words) else ""
    after = fold(words[end]) if end < len(words) else ""  # CJK spans lie past the words: neither
    return before in STREET_BEFORE or after in STREET_AFTER


def _postal_town(line: str, phrase: str) -> bool:
    """Whether the phrase follows a postcode in the line, as the town of an address does."""
    return re.search(_POSTCODE_BEFORE + re.escape(phrase) + r"(?!\w)", line) is not None


def _readings(
    phrase: str, found: list[tuple[Place, float]], layout: float, rest: str, after: str,
    address: tuple[bool, bool] = (False, False),
) -> tuple[_Reading, ...]:
    """Weigh each place a phrase matched; keep only the namesakes in context when some are.

    `address` says whether the phrase is written as a street's name (then every reading is weak) and
    whether it follows a postcode (then it counts as in context, like a region written beside it).
    """
    street, postal = address
    key = fold(phrase)
    single = " " not in key and not _UNSPACED.search(phrase)
    brand = key in _global_brands()
    readings = []
    for place, quality in found:
        chance = place_chance(phrase, _population(place), country_languages(place.country_code))
        primary = fold(place.name)
        alias = quality < 1.0  # an alternate name, or a fuzzy match
        unlike = alias and primary.isascii() == key.isascii() and fuzz.ratio(key, primary) < UNLIKE * 100
        if unlike and chance < WEAK_CHANCE:
            continue  # an alternate that is an ordinary word or a brand: "Google" for Topeka
        in_context = postal or _in_context(place, rest, after)
        if in_context and chance < 1.0:
            odds = CONTEXT_ODDS * chance / (1.0 - chance)
            chance = odds / (1.0 + odds)
        fuzzy = quality < 0.95
        short_alias = (
            single and alias and len(key) <= SHORT_ALIAS and _population(place) < SHORT_ALIAS_POPULATION
        )
        weak = chance * layout < WEAK_CHANCE or unlike or fuzzy or short_alias or street or brand
        readings.append(_Reading(place, quality, chance, in_context, weak))
    if any(r.in_context for r in readings):
        readings = [r for r in readings if r.in_context]
    return tuple(readings)


def _near(a: Place, b: Place) -> bool:
    """Whether two places lie within `NEAR_KM` of each other (a cheap box test first)."""
    degrees = NEAR_KM / 111.0
    east = abs((a.lon - b.lon + 180) % 360 - 180) * math.cos(math.radians(a.lat))
    if abs(a.lat - b.lat) > degrees or east > degrees:
        return False
    return distance_km(a.lat, a.lon, b.lat, b.lon) <= NEAR_KM


def _has_support(reading: _Reading, others: list[_Reading]) -> bool:
    """Whether another phrase's strong reading lies within `NEAR_KM` of a weak one."""
    return any(not other.weak and _near(reading.place, other.place) for other in others)


def _supported(phrases: list[_Phrase], hint: dict[str, float]) -> list[_Phrase]:
    """Drop the weak readings nothing supports; mark those only the country hint supports as non-voting."""
    out = []
    for phrase in phrases:
        others = [r for p in phrases if fold(p.text) != fold(phrase.text) for r in p.readings]
        kept = []
        for reading in phrase.readings:
            if not reading.weak or reading.in_context or _has_support(reading, others):
                kept.append(reading)
            elif hint.get(reading.place.country_code, 0.0) >= HINT_SUPPORT:
                kept.append(replace(reading, votes=False))
        if kept:
            out.append(replace(phrase, readings=tuple(kept)))
    return out


def find_places(
    texts: list[str], *, country_hint: dict[str, float] | None = None, limit: int = 5,
    sources: Sequence[str] = (),
) -> Evidence:
    """Find place names in OCR text lines and turn them into candidate points and country likelihoods.

    Credits, watermarks, date stamps and viewer labels are set aside first. Each line is looked up
    whole (up to six words) and as 1-3-word n-grams, longest first (a span inside an already matched
    longer span is skipped, as are n-grams that start or end with a stop word); every place a phrase
    matches is weighed as the module docstring says, and weak readings without support are dropped.
    Country likelihoods sum, over phrases, each phrase's confidence times the share of its readings
    in each country. `country_hint` (e.g. the current belief) re-ranks the candidate points and may
    support a weak reading as a point; it never enters the likelihoods.

    Args:
        texts: OCR text lines.
        country_hint: Optional probabilities per ISO alpha-2 country used to rank candidates.
        limit: Most candidate points to return.
        sources: Extra place files merged into the index (`Settings.gazetteer_sources`).

    Returns:
        Evidence from tool "gazetteer"; a `no_result` failure when nothing matches.
    """
    hint = country_hint or {}
    with timed() as took:
        lines, set_aside = split_place_text(texts)
        inputs = {"texts": list(texts), "set_aside": set_aside, "country_hint": country_hint, "limit": limit}
        index = get_index(sources)
        context = fold(" ".join(lines))
        phrases = [p for line in lines for p in _line_phrases(line, context, index)]
        sizes = [len(_words(line)) for line in lines]
        joined = [
            p for i in range(len(lines) - 1)
            if 0 < sizes[i] <= JOIN_WORDS and 0 < sizes[i + 1] <= JOIN_WORDS
            for p in _line_phrases(f"{lines[i]} {lines[i + 1]}", context, index, crossing=sizes[i])
        ]
        if joined:  # "Melton | Mowbray": the name broken over two lines replaces its halves
            phrases = [p for p in phrases if not any(fold(p.text) in fold(j.text) for j in joined)] + joined
        phrases = _supported(phrases, hint)
    if not phrases:
        return Evidence.failure(
            TOOL, "no_result", "no place name found in the text", inputs=inputs, seconds=took[0]
        )
    return _evidence(phrases, hint, limit, inputs, took[0])


def _shares(readings: Sequence[_Reading]) -> dict[int, float]:
    """Share of one phrase's meaning per place: exactness, then the chance of the reading and the size."""
    raw = {
        r.place.geonameid: r.quality**4 * (_population(r.place) + 1000) ** 0.75 * r.chance
        for r in readings
    }
    total = sum(raw.values()) or 1.0
    return {g: w / total for g, w in raw.items()}


def _confidence(phrase: _Phrase) -> float:
    """Return how much a phrase counts: match quality, length, layout and its readings' chance.

    Only the voting readings count when there are any, so the country hint never changes it.
    """
    readings = [r for r in phrase.readings if r.votes] or phrase.readings
    shares = _shares(readings)
    chance = sum(shares[r.place.geonameid] * r.chance for r in readings)
    quality = min(1.0, max(r.quality for r in readings))
    return quality * phrase.length * phrase.layout * chance


def _evidence(
    phrases: list[_Phrase], hint: dict[str, float], limit: int, inputs: dict[str, Any], seconds: float
) -> Evidence:
    """Weigh the phrases' readings into candidate points, country likelihoods and a strength."""
    by_id = {r.place.geonameid: r.place for phrase in phrases for r in phrase.readings}
    support: dict[int, float] = defaultdict(float)
    likes: dict[str, float] = defaultdict(float)
    votes: list[dict[str, float]] = []  # per phrase: confidence x share of its voting readings, by country
    confidences = [_confidence(phrase) for phrase in phrases]
    for phrase, confidence in zip(phrases, confidences, strict=True):
        for gid, share in _shares(phrase.readings).items():
            support[gid] += confidence * share * pop_factor(_population(by_id[gid]))
        per_country: dict[str, float] = defaultdict(float)
        for gid, share in _shares([r for r in phrase.readings if r.votes]).items():
            per_country[by_id[gid].country_code] += confidence * share
        for code, value in per_country.items():
            likes[code] += value
        votes.append(per_country)

    def ranked(gid: int) -> float:
        """Support of a place times the agreement of all phrases, and of the hint, with its country."""
        score = support[gid]
        for weights in (likes, hint):
            if (peak := max(weights.values(), default=0.0)) > 0:
                score *= max(weights.get(by_id[gid].country_code, 0.0) / peak, LIKELIHOOD_FLOOR)
        return score

    best = sorted(support, key=lambda g: (-ranked(g), -by_id[g].population))[:limit]
    top = by_id[best[0]]
    strength = HINT_ONLY_STRENGTH
    if likes:
        top_country = max(likes, key=likes.__getitem__)
        agreeing = sorted((v.get(top_country, 0.0) for v in votes), reverse=True)
        pop_term = min(1.0, max(0.0, (math.log10(max(_population(top), 1)) - 3) / 3.5))
        country_share = likes[top_country] / sum(likes.values())
        strength = agreeing[0] * (0.2 + 0.3 * pop_term + 0.2 * country_share)
        strength = min(0.9, strength + 0.12 * min(sum(agreeing[1:]), 2.0))
    candidates = [
        Candidate(
            lat=by_id[g].lat, lon=by_id[g].lon, weight=max(ranked(g), 1e-6), label=by_id[g].label(),
            country_code=by_id[g].country_code,
            radius_km=radius_for(by_id[g].population) if by_id[g].feature == "P" else LANDMARK_RADIUS_KM,
        )
        for g in best
    ]
    return Evidence(
        tool=TOOL,
        inputs=inputs,
        summary=f"{len(phrases)} place name(s) matched; best: {top.label()}",
        country_likelihoods={code: round(v, 6) for code, v in likes.items() if v > 0},
        candidates=candidates,
        places=[by_id[g].label() for g in best],
        observations={"matches": [_described(p, c) for p, c in zip(phrases, confidences, strict=True)]},
        strength=round(strength, 4),
        seconds=seconds,
    )


def _described(phrase: _Phrase, confidence: float) -> dict[str, Any]:
    """Return a phrase's match as the evidence records it: its three likeliest places and their chances."""
    shares = _shares(phrase.readings)
    readings = sorted(phrase.readings, key=lambda r: -shares[r.place.geonameid])[:3]
    return {
        "phrase": phrase.text,
        "confidence": round(confidence, 4),
        "places": [
            {**asdict(r.place), "chance": round(r.chance, 4), "weak": r.weak, "votes": r.votes}
            for r in readings
        ],
    }


def run(call: ToolCall) -> Evidence:
    """Find the places named in this call's photo lines, ties broken by the current country belief."""
    return find_places(
        list(call.lines), country_hint=dict(call.country_hint), sources=tuple(call.settings.gazetteer_sources)
    )


SPEC = ToolSpec(
    name=TOOL,
    function=find_places,
    run=run,
    description="""Look up names of towns, cities and landmarks written in text read from the photo (a sign).

Pass the text lines read from the image, one per line. Returns candidate locations of matching
places (offline GeoNames data, towns of 1000+ people, airports, and any extra place files) and how
strongly the names point to each country. Everyday words that are also town names ("Mission",
"Central") count only next to other clues; photo credits and watermarks ("© Google") are ignored.""",
    needs=("lines",),
    weight=0.8,  # place names read by OCR can be shop names or misreads
    key=("lines", "country_hint", "settings.gazetteer_sources"),
    planner_args=TEXT_ARG,
    cue="places",
    ablation=("ocr", TOOL),
    what="place and airport names → candidate points, weighed by how rare the name is as a word "
    "(wordfreq), layout and support; point → nearest place",
    offline_source="GeoNames cities ≥ 1000 people, IATA airports (`airportsdata`), your GeoNames/OSM files",
    named_by=(r"geonames", r"gazetteer"),
)
