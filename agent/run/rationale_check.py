"""The rationale check: an answer's rationale may name only evidence that the run has.

A small model cites evidence it never had ("the OSM data" when osm never ran), so the rationale is
read for three kinds of claim, each checked against the run's successful Evidence:

* tool: words for a registered tool (its `ToolSpec.named_by`: "OpenStreetMap", "Overpass" -> osm),
  backed when that tool has a successful Evidence; or words for a kind of text clue (`CLUE_WORDS`:
  "phone number" -> phone), backed when a text_clues Evidence read a clue of that kind. A sentence
  that says nothing was found ("there is no GPS data") agrees with a tool that ran and failed.
* country: a capitalised country name (`geosleuth.core.countries`, any language, less
  `NOT_COUNTRIES`; short forms in `COUNTRY_ALIASES`), backed when it is the answer's country, when
  some Evidence gives it at least `COUNTRY_RATIO` of that Evidence's top likelihood, or when some
  candidate point lies in it.
* place: another capitalised phrase of one to three words that the gazetteer has exactly, as a town
  of at least `MIN_POPULATION` people or as a landmark, that is no language, script or brand name
  ("Hindi", "Carrefour"), and that more likely names the place than is an ordinary word
  (`word_rarity.place_chance` >= `MIN_PLACE_CHANCE`: "Reading the sign" claims no town); backed
  when the phrase, or the found place's name, is in the text read from the photo or in some
  Evidence's places, candidate labels or summary.

Every sentence that holds an unbacked claim is dropped, and each unbacked claim gets one flag line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import regex

from geosleuth.core.countries import find_country, normalize_name
from geosleuth.core.state import Evidence
from geosleuth.run.toolnode import photo_lines
from geosleuth.tools import registry
from geosleuth.tools.clues.base import Finder, blank, first_matches
from geosleuth.tools.clues.brand import brands
from geosleuth.tools.clues.country_name import WORD_LIKE_NAMES
from geosleuth.tools.gazetteer import LANDMARK_POPULATION
from geosleuth.tools.gazetteer_index import fold, search_places
from geosleuth.tools.word_rarity import place_chance

CLUE_WORDS: dict[str, tuple[str, ...]] = {
    "phone": (r"(?:tele)?phone numbers?", r"area codes?", r"dial(?:l)?ing codes?", r"calling codes?"),
    "domain": (r"domains?", r"websites?", r"urls?", r"web address(?:es)?", r"e-?mail address(?:es)?"),
    "plate": (r"licen[cs]e plates?", r"number plates?", r"registration plates?"),
    "postcode": (r"post ?codes?", r"postal codes?", r"zip ?codes?"),
}
"""Regexes for words that name a kind of text_clues clue (its `kind` in `observations["clues"]`)."""

COUNTRY_ALIASES = {
    "US": "US", "U.S.": "US", "USA": "US", "U.S.A.": "US", "UK": "GB", "U.K.": "GB", "UAE": "AE",
    "Holland": "NL",
}
"""Short or everyday country names the name index lacks or leaves to codes (matched with case)."""

NOT_COUNTRIES = WORD_LIKE_NAMES | {"salvador", "granada", "guadalupe", "santa lucia", "san martin", "franca"}
"""Country names in some language that in English text are ordinary words or big towns elsewhere
(Salvador, Brazil; Granada, Spain): the names that the gazetteer has as a town of 100k in another country."""

COUNTRY_RATIO = 0.5
"""An Evidence backs a country it gives at least this fraction of its top likelihood."""
MIN_POPULATION = 100_000
"""A capitalised phrase is a place claim only for a town at least this big (or a landmark)."""
MIN_PLACE_CHANCE = 0.05
"""Below this `place_chance` a phrase is an ordinary word ("Nice", "Reading", "Split"), not a claim."""
MAX_COUNTRY_WORDS = 4
MAX_PLACE_WORDS = 3
"""The longest phrases looked up as a country ("Bosnia and Herzegovina") and as a place."""

_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b\w\.)\s+")
"""A sentence ends at '.', '!' or '?' before a space, not after an initial ("U.S.", "e.g.")."""
_DENIAL = re.compile(r"\b(?:not|nor|rather than|instead of|than)\s+(?:in\s+|the\s+)?$", re.IGNORECASE)
"""Words right before a name that deny it ("still Paris, not Portugal"): a denial claims nothing."""
_NEGATION = re.compile(r"\b(?:no|not|none|nothing|without|never|lacks?|missing)\b|n't", re.IGNORECASE)
_WORD = regex.compile(r"\p{L}[\p{L}\p{M}]*(?:[-'’](?![sS]\b)\p{L}[\p{L}\p{M}]*)*")
_ALIAS = re.compile(
    r"(?<![\w.])(" + "|".join(map(re.escape, sorted(COUNTRY_ALIASES, key=len, reverse=True))) + r")(?!\w)"
)

Kind = Literal["tool", "place", "country", "denial"]


@dataclass(frozen=True)
class CheckedRationale:
    """A rationale with its unbacked sentences dropped, the flags raised and every claim it made."""

    text: str
    flags: list[str]
    claims: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """Return the JSON-safe form (for `--json` and traces)."""
        return {"text": self.text, "flags": list(self.flags), "claims": [dict(c) for c in self.claims]}


@dataclass(frozen=True)
class _Claim:
    kind: Kind
    said: str
    flag: str  # empty when the evidence backs the claim


@dataclass(frozen=True)
class _Trace:
    """What the run's successful Evidence backs: tools, clue kinds, countries and folded texts."""

    ran: frozenset[str]
    ok: frozenset[str]
    clue_kinds: frozenset[str]
    countries: frozenset[str]
    texts: tuple[str, ...]

    @classmethod
    def of(cls, evidence: Sequence[Evidence], answer_country: str | None) -> _Trace:
        good = [e for e in evidence if e.ok]
        countries = {answer_country.upper()} if answer_country else set()
        kinds: set[str] = set()
        texts = [*photo_lines(evidence)]
        for e in good:
            peak = max(e.country_likelihoods.values(), default=0.0)
            likely = e.country_likelihoods.items()
            countries |= {c for c, like in likely if peak > 0 and like >= COUNTRY_RATIO * peak}
            countries |= {c.country_code for c in e.candidates if c.country_code}
            if e.tool == "text_clues":
                kinds |= {str(clue.get("kind")) for clue in e.observations.get("clues", [])}
            texts += [*e.places, *(c.label for c in e.candidates), e.summary]
        return cls(
            ran=frozenset(e.tool for e in evidence),
            ok=frozenset(e.tool for e in good),
            clue_kinds=frozenset(kinds),
            countries=frozenset(countries),
            texts=tuple(f" {fold(t)} " for t in texts if t),
        )

    def has_text(self, names: set[str]) -> bool:
        """Whether any of these folded names is written in the photo or a successful Evidence."""
        return any(f" {name} " in text for name in names if name for text in self.texts)


def check_rationale(
    text: str, evidence: Sequence[Evidence], *, answer_country: str | None
) -> CheckedRationale:
    """Check the tools, countries and places a rationale names against the run's Evidence.

    Args:
        text: The rationale as the model wrote it.
        evidence: Every Evidence of the run, failures included (they back nothing).
        answer_country: ISO alpha-2 code of the committed answer, None when there is none.

    Returns:
        The rationale without the sentences that make an unbacked claim ("" when none is left), one
        flag per unbacked claim and every claim found, each once (twice where one sentence backs
        it and another does not).
    """
    trace = _Trace.of(evidence, answer_country)
    kept: list[str] = []
    claims: dict[tuple[str, str, str], _Claim] = {}
    for sentence in _SENTENCE_END.split(text.strip()):
        found = _claims(sentence, trace)
        if not any(claim.flag for claim in found):
            kept.append(sentence)
        for claim in found:
            claims.setdefault((claim.kind, claim.said.casefold(), claim.flag), claim)
    return CheckedRationale(
        text=" ".join(kept).strip(),
        flags=[c.flag for c in claims.values() if c.flag],
        claims=[{"kind": c.kind, "said": c.said, "backed": not c.flag} for c in claims.values()],
    )


@cache
def _tool_rules() -> tuple[tuple[Finder, tuple[str, str]], ...]:
    """Return (pattern, (tool, clue kind or "")) for the registered tools and, with text_clues, the clues."""
    known = registry()
    words = [((name, ""), w) for name, spec in known.items() for w in spec.named_by]
    if "text_clues" in known:
        words += [(("text_clues", kind), w) for kind, ws in CLUE_WORDS.items() for w in ws]
    return tuple((re.compile(rf"(?<![\w-]){w}(?![\w-])", re.IGNORECASE), rule) for rule, w in words)


def _claims(sentence: str, trace: _Trace) -> list[_Claim]:
    """Return the claims of one sentence: tools first, then countries and places in the words left."""
    found: list[_Claim] = []
    spans: list[tuple[int, int]] = []
    negated = _NEGATION.search(sentence) is not None
    for (tool, kind), match in first_matches(_tool_rules(), sentence):
        spans.append(match.span())
        found.append(_Claim("tool", match.group(0), _tool_flag(match.group(0), tool, kind, negated, trace)))
    for match in _ALIAS.finditer(blank(sentence, spans)):
        spans.append(match.span())
        if not _DENIAL.search(sentence[: match.start()]):
            found.append(_country(match.group(0), COUNTRY_ALIASES[match.group(0)], trace))
    return found + _name_claims(blank(sentence, spans), trace)


def _tool_flag(said: str, tool: str, kind: str, negated: bool, trace: _Trace) -> str:
    """Return why a tool claim is unbacked, "" when it is backed."""
    if negated and tool in trace.ran:
        return ""  # "no GPS data", "no phone number": true of a tool that ran and found none
    if kind:
        return "" if kind in trace.clue_kinds else f"names {said}, but text_clues read no {kind} clue"
    if tool in trace.ok:
        return ""
    return f"names {said}, but {tool} {'found nothing' if tool in trace.ran else 'did not run'}"


def _country(said: str, code: str, trace: _Trace) -> _Claim:
    flag = "" if code in trace.countries else f"names {said}, which no evidence points to"
    return _Claim("country", said, flag)


def _name_claims(sentence: str, trace: _Trace) -> list[_Claim]:
    """Return the country and place claims among the sentence's capitalised phrases, longest first."""
    words = list(_WORD.finditer(sentence))
    found: list[_Claim] = []
    i = 0
    while i < len(words):
        for size in range(min(MAX_COUNTRY_WORDS, len(words) - i), 0, -1):
            claim = _name_claim(sentence, words[i : i + size], trace)
            if claim:
                found.append(claim)
                i += size
                break
        else:
            # "New Mexico", "New England": a name of its own, not the country it continues
            i += 2 if words[i].group(0) == "New" and _joined(sentence, words[i : i + 2]) else 1
    return found


def _joined(sentence: str, words: list[Any]) -> str:
    """Return the words as one phrase if capitalised at both ends and single-spaced, else ""."""
    if not words or not (words[0].group(0)[0].isupper() and words[-1].group(0)[0].isupper()):
        return ""
    gaps = [sentence[a.end() : b.start()] for a, b in zip(words, words[1:], strict=False)]
    return sentence[words[0].start() : words[-1].end()] if all(g == " " for g in gaps) else ""


def _name_claim(sentence: str, words: list[Any], trace: _Trace) -> _Claim | None:
    """Return the country or place claim these words make, None when they name neither."""
    phrase = _joined(sentence, words)
    if not phrase:
        return None
    if _DENIAL.search(sentence[: words[0].start()]):
        return _Claim("denial", phrase, "")
    key = normalize_name(phrase)
    country = None if key in NOT_COUNTRIES or len(key) < 4 else find_country(phrase, names_only=True)
    if country:
        return _country(phrase, country.code, trace)
    if len(words) > MAX_PLACE_WORDS:
        return None
    places = _places(phrase)
    if not places:
        return None
    backed = trace.has_text({fold(phrase), *places})
    return _Claim("place", phrase, "" if backed else f"names {phrase}, which no evidence points to")


@cache
def _not_places() -> frozenset[str]:
    """Return the folded English names of languages and scripts (CLDR): "Hindi" names no town."""
    from babel import Locale

    english = Locale("en")
    return frozenset(fold(name) for name in (*english.languages.values(), *english.scripts.values()))


@cache
def _places(phrase: str) -> frozenset[str]:
    """Return the folded names of the towns and landmarks a phrase names exactly (empty: no place claim)."""
    if fold(phrase) in _not_places() or re.sub(r"[\s'’-]", "", phrase).casefold() in brands():
        return frozenset()
    found = [
        (p.name, p.population if p.feature == "P" else LANDMARK_POPULATION)
        for p in search_places(phrase, fuzzy=False)
        if p.feature == "S" or (p.feature == "P" and p.population >= MIN_POPULATION)
    ]
    if not found or place_chance(phrase, max(pop for _, pop in found)) < MIN_PLACE_CHANCE:
        return frozenset()
    return frozenset(fold(name) for name, _ in found)
