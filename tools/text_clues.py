"""Turn text read in a photo (OCR) into evidence about the country.

Sub-clues, each a relative likelihood per country with a trust weight: the Unicode scripts of the
letters, the language (lingua), phone numbers (phonenumbers), web domains and e-mail addresses (ccTLDs),
currency signs and codes, country names, and, only next to other clues, distinctive postcode formats.
The sub-clues are pooled log-linearly into one `Evidence`. The text is data: it is matched against
tables, never followed as instructions.

Likelihoods are P(clue | country), e.g. the share of a country's people who read a script or speak a
language, not head counts: the population prior is the belief's job, and counting it here again would
drown small countries (Taiwan against China for Han characters).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import regex

from geosleuth.core.countries import (
    all_countries,
    countries_for_calling_code,
    countries_for_language,
    country_names,
    find_country,
    normalize_name,
    script_shares,
)
from geosleuth.core.state import LIKELIHOOD_FLOOR, Evidence, timed
from geosleuth.tools.spec import TEXT_ARG, ToolCall, ToolSpec

TOOL = "text_clues"
MAX_CHARS = 20_000
"""Text beyond this many characters (all texts together) is ignored."""
MIN_LANGUAGE_LETTERS = 8
"""Texts with fewer letters are too short for language identification."""
CLUE_FLOOR = LIKELIHOOD_FLOOR
"""Smallest relative likelihood one sub-clue gives a country (OCR misreads, travellers, imports); the
same floor the belief gives the countries an evidence leaves out, so those need not be listed."""
WEAK_TLDS = frozenset("co tv io me ai ly fm am to cc ws nu tk gg la".split())
"""ccTLDs sold worldwide for their look, not their country."""
EXTRA_CURRENCY_SIGNS = {
    "руб": ("RUB",),
    "р.": ("RUB", "BYN"),
    "грн": ("UAH",),
    "лв": ("BGN",),
    "Rs": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"),
}
"""Everyday signs missing from CLDR's symbol tables, with the currencies they stand for."""
WORD_LIKE_NAMES = frozenset({"island", "suede", "gana", "chili", "turkey", "jersey"})
"""Country names (in some language) that are everyday words elsewhere: not clues in free text."""
MAX_PHONE_COUNTRIES = 12
"""A national number that fits more countries' numbering plans than this says nothing."""
MAX_POSTCODE_COUNTRIES = 4
"""A postcode shape that fits more countries' formats than this says nothing."""

_HOST = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?![\w-])", re.IGNORECASE
)
_POSTCODE = regex.compile(r"(?<![\w-])[A-Z0-9]{2,5}(?:[ -][A-Z0-9]{2,4})?(?![\w-])", regex.IGNORECASE)
_NUMBER = r"\d[\d.,' ]*"
_NATIONAL_PHONE = re.compile(r"(?<![\w+])\(?\d[\d ().\-/]{4,20}\d(?![\w])")
_NOT_WORDS = re.compile(r"\S*[\d@]\S*")
"""Tokens with digits or '@' (numbers, codes, e-mails): noise for language identification."""


@dataclass
class Clue:
    """One sub-clue: what was seen, the countries it fits (relative likelihoods), how much to trust it."""

    kind: str
    value: str
    countries: dict[str, float]
    weight: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        """Return the JSON-safe form recorded in the evidence's observations (top countries only)."""
        ranked = sorted(self.countries.items(), key=lambda item: (-item[1], item[0]))[:top]
        return {
            "kind": self.kind,
            "value": self.value,
            "countries": {code: round(like, 4) for code, like in ranked},
            "weight": round(self.weight, 3),
            **self.extra,
        }


def read_clues(texts: list[str]) -> Evidence:
    """Read country clues from text found in a photo.

    Args:
        texts: OCR lines or blocks, in reading order. Only the first `MAX_CHARS` characters are used.

    Returns:
        Evidence whose `country_likelihoods` pool all clues found, with `strength` growing with how
        distinctive they are, and `observations["clues"]` listing each one; a `no_result` failure when
        there is no text or no clue in it.
    """
    with timed() as clock:
        kept, budget = [], MAX_CHARS
        for text in texts:
            if budget <= 0:
                break
            piece = (text or "").strip()[:budget]
            budget -= len(piece)
            if piece:
                kept.append(piece)
        clues = _find_clues(kept) if kept else []
    inputs = {"texts": kept[:50], "n_texts": len(texts)}
    if not kept or not clues:
        message = "no country clue in the text" if kept else "no text to read clues from"
        return Evidence.failure(TOOL, "no_result", message, inputs=inputs, seconds=clock[0])
    likelihoods, strength = _pool(clues)
    top = sorted(likelihoods.items(), key=lambda item: (-item[1], item[0]))[:3]
    said = ", ".join(f"{c.kind} {c.value}" for c in clues[:6]) + (" ..." if len(clues) > 6 else "")
    summary = f"{said} -> " + ", ".join(code for code, _ in top)
    return Evidence(
        tool=TOOL,
        inputs=inputs,
        summary=summary,
        country_likelihoods=likelihoods,
        observations={"clues": [c.as_dict() for c in clues]},
        strength=strength,
        seconds=clock[0],
    )


def _find_clues(texts: list[str]) -> list[Clue]:
    joined = "\n".join(texts)
    phone_clues, phone_spans = _phone_clues(joined)
    clues = _script_clues(joined) + _language_clues(texts) + _domain_clues(joined) + phone_clues
    clues += _currency_clues(joined) + _country_name_clues(joined)
    if clues:
        clues += _postcode_clues(_blank(joined, phone_spans))
    return clues


def _pool(clues: list[Clue]) -> tuple[dict[str, float], float]:
    """Pool clues log-linearly; return likelihoods above the floor and the pooled strength.

    Each country scores sum_i w_i log l_i. The strength S = 1 - prod(1 - w_i) and the likelihoods
    exp(score / S) are chosen so that the belief's update (strength x log ratio) adds back exactly
    the weighted sum.
    """
    strength = 1 - math.prod(1 - c.weight for c in clues)
    scores = {
        code: sum(c.weight * math.log(max(c.countries.get(code, 0.0), CLUE_FLOOR)) for c in clues)
        for code in all_countries()
    }
    peak = max(scores.values())
    out = {code: math.exp((s - peak) / strength) for code, s in scores.items()}
    kept = {code: round(v, 6) for code, v in out.items() if v > LIKELIHOOD_FLOOR * 1.001}
    return kept, round(min(strength, 1.0), 4)


def _relative(values: dict[str, float]) -> dict[str, float]:
    peak = max(values.values(), default=0.0)
    return {code: v / peak for code, v in values.items() if v > 0} if peak > 0 else {}


def _distinctiveness(likes: dict[str, float]) -> float:
    """Return 1 for a clue that fits one country, falling to 0 as it fits all of them about equally."""
    if not likes:
        return 0.0
    effective = sum(likes.values()) / max(likes.values())
    return max(0.0, 1 - math.log(max(effective, 1.0)) / math.log(len(all_countries())))


# --- scripts ------------------------------------------------------------------------------------------


@cache
def _script_patterns() -> dict[str, regex.Pattern[str]]:
    """Return a letter pattern per Unicode script that some country's languages are written in."""
    patterns = {}
    for script in script_shares():
        try:
            patterns[script] = regex.compile(rf"\p{{Script={script}}}")
        except regex.error:
            continue  # a writing system, not a Unicode script (Jpan, Hans, ...): its parts are listed too
    return patterns


def _script_clues(text: str) -> list[Clue]:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return []
    sample = "".join(letters)
    counts = {s: len(p.findall(sample)) for s, p in _script_patterns().items()}
    counts = {s: n for s, n in counts.items() if n}
    total = sum(counts.values()) or 1
    clues = []
    for script, n in sorted(counts.items(), key=lambda item: -item[1]):
        if n < 2 and total > 4:
            continue
        likes = _relative(script_shares()[script])
        amount = min(1.0, n / 4) * (0.5 + 0.5 * n / total)
        weight = max(0.1, min(0.95, _distinctiveness(likes))) * amount
        clues.append(Clue("script", script, likes, weight, {"letters": n}))
    return clues


# --- language -----------------------------------------------------------------------------------------


@cache
def _detector() -> Any:
    """Build the lingua detector once, for all spoken languages (no Latin), in low-accuracy mode.

    Measured: ~70 MB and 0.35 s to first answer, against ~1.1 GB and 10 s for the high-accuracy models.
    """
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_all_spoken_languages().with_low_accuracy_mode().build()


def _language_clues(texts: list[str]) -> list[Clue]:
    """Identify the language of the texts long enough, as one clue.

    The clue's likelihood mixes the countries of the detector's top three languages by confidence (so
    'Ristorante da Mario', read as 48 % Italian and 32 % Latin, still points to Italy). Its weight grows
    with the letters read (certainty 1 - exp(-letters / 50)) and with how distinctive the mixture is
    (English fits most countries a bit).
    """
    mass: dict[str, float] = defaultdict(float)
    letters_total = 0
    for raw in texts:
        text = _NOT_WORDS.sub(" ", _HOST.sub(" ", raw))
        letters = sum(ch.isalpha() for ch in text)
        if letters < MIN_LANGUAGE_LETTERS:
            continue
        letters_total += letters
        for guess in _detector().compute_language_confidence_values(text)[:3]:
            if guess.value >= 0.1:
                mass[guess.language.iso_code_639_1.name.lower()] += letters * guess.value
    if not mass:
        return []
    mixture: dict[str, float] = defaultdict(float)
    for lang, m in mass.items():
        for code, share in _shares(countries_for_language(lang)).items():
            mixture[code] += m * share
    likes = _relative(mixture)
    if not likes:
        return []
    total = sum(mass.values())
    ranked = sorted(mass.items(), key=lambda item: -item[1])
    weight = (0.7 + 0.25 * _distinctiveness(likes)) * (1 - math.exp(-letters_total / 50))
    extra = {"letters": letters_total, "languages": {lang: round(m / total, 3) for lang, m in ranked}}
    return [Clue("language", ranked[0][0], likes, weight, extra)]


def _shares(counts: dict[str, float]) -> dict[str, float]:
    """Turn head counts per country into shares of each country's population."""
    countries = all_countries()
    return {code: n / countries[code].population for code, n in counts.items()}


# --- phones -------------------------------------------------------------------------------------------


def _phone_clues(text: str) -> tuple[list[Clue], list[tuple[int, int]]]:
    """Read international numbers (+CC), then national ones tried in every country's numbering plan."""
    import phonenumbers as pn

    clues, spans = [], []
    for match in pn.PhoneNumberMatcher(text, None, leniency=pn.Leniency.POSSIBLE):
        number = match.number
        spans.append((match.start, match.end))
        region = pn.region_code_for_number(number)
        if pn.is_valid_number(number) and region in all_countries():
            clues.append(Clue("phone", match.raw_string, {region: 1.0}, 0.9, {"valid": True}))
        else:
            code = number.country_code  # None only for a number without one: no countries then
            likes = dict.fromkeys(countries_for_calling_code(code), 1.0) if code else {}
            if likes:
                clues.append(Clue("phone", match.raw_string, likes, 0.5, {"valid": False}))
    for found in _NATIONAL_PHONE.finditer(text):
        start, end = found.span()
        digits = re.findall(r"\d+", found.group(0))
        if any(a < end and start < b for a, b in spans) or not 8 <= len("".join(digits)) <= 13:
            continue
        likes = _national_regions(found.group(0), digits)
        if likes:
            spans.append((start, end))
            clues.append(Clue("phone", found.group(0), likes, 0.3, {"valid": True, "national": True}))
    return clues, spans


def _national_regions(raw: str, digits: list[str]) -> dict[str, float]:
    """Return the countries a nationally written number (8 to 13 digits) fits, or {} when it fits too many.

    A number grouped exactly as a country writes its numbers ('04 78 42 11 00' in France) points
    there (1.0); countries where it is merely valid keep a little (0.3).
    """
    import phonenumbers as pn

    valid: dict[str, bool] = {}
    for region in all_countries():
        try:
            number = pn.parse(raw, region)
        except pn.NumberParseException:
            continue
        actual = pn.region_code_for_number(number)
        if actual in valid or actual not in all_countries() or not pn.is_valid_number(number):
            continue
        written = re.findall(r"\d+", pn.format_number(number, pn.PhoneNumberFormat.NATIONAL))
        valid[actual] = written == digits
    exact = [code for code, grouped in valid.items() if grouped]
    if exact:
        fits = len(exact) <= MAX_PHONE_COUNTRIES
        return {code: 1.0 if grouped else 0.3 for code, grouped in valid.items()} if fits else {}
    if len(digits) > 1:
        return {}  # grouped as no country writes its numbers: a date, a postcode, a price, not a phone
    return dict.fromkeys(valid, 1.0) if len(valid) <= MAX_PHONE_COUNTRIES else {}


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


# --- domains ------------------------------------------------------------------------------------------


@cache
def _tld_table() -> dict[str, list[str]]:
    table: dict[str, list[str]] = defaultdict(list)
    for code, country in all_countries().items():
        for tld in country.tlds:
            table[tld.lstrip(".")].append(code)
    return dict(table)


def _domain_clues(text: str) -> list[Clue]:
    clues = []
    for host in dict.fromkeys(m.group(0) for m in _HOST.finditer(text)):
        if len(host) < 5 or host not in (host.lower(), host.upper()):
            continue  # 'Mr.Li' is an abbreviation, not a Liechtenstein domain
        host = host.lower()
        tld = host.rsplit(".", 1)[-1]
        codes = _tld_table().get(tld)
        if not codes:
            continue
        clues.append(Clue("domain", host, dict.fromkeys(codes, 1.0), 0.15 if tld in WEAK_TLDS else 0.7))
    return clues


# --- currencies ---------------------------------------------------------------------------------------


@cache
def _currency_table() -> dict[str, frozenset[str]]:
    """Map each currency sign and ISO code to the countries using that currency now."""
    table: dict[str, set[str]] = defaultdict(set)
    by_currency: dict[str, set[str]] = defaultdict(set)
    for code, country in all_countries().items():
        for currency in country.currencies:
            table[currency].add(code)
            by_currency[currency].add(code)
        for sign in country.currency_symbols:
            if sign not in ("$", "¤"):  # the bare dollar sign fits some forty countries
                table[sign].add(code)
    for sign, currencies in EXTRA_CURRENCY_SIGNS.items():
        table[sign] |= set().union(*(by_currency[c] for c in currencies))
    return {sign: frozenset(codes) for sign, codes in table.items()}


@cache
def _currency_pattern() -> regex.Pattern[str]:
    """Match a currency sign (€, ₹) anywhere, and a lettered sign or code (zł, CHF) next to an amount."""
    signs = sorted(_currency_table(), key=len, reverse=True)
    symbolic = [s for s in signs if not _has_letter(s) and any(unicodedata.category(ch) == "Sc" for ch in s)]
    wordy = [s for s in signs if _has_letter(s) and len(s) >= 2]
    alt = "|".join(regex.escape(s) for s in wordy)
    return regex.compile(
        rf"(?P<sym>{'|'.join(regex.escape(s) for s in symbolic)})"
        rf"|(?<!\w)(?P<pre>{alt})\s?{_NUMBER}"
        rf"|{_NUMBER}\s?(?P<post>{alt})(?!\w)"
    )


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _currency_clues(text: str) -> list[Clue]:
    seen: Counter[str] = Counter()
    for match in _currency_pattern().finditer(text):
        seen[match.group("sym") or match.group("pre") or match.group("post")] += 1
    clues = []
    for sign, n in seen.most_common():
        likes = dict.fromkeys(_currency_table()[sign], 1.0)
        weight = min(0.7, 0.1 + _distinctiveness(likes)) * min(1.0, 0.6 + 0.2 * n)
        clues.append(Clue("currency", sign, likes, weight, {"count": n}))
    return clues


# --- country names ------------------------------------------------------------------------------------

_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")


@cache
def _unspaced_names() -> dict[str, str]:
    """Return names written in scripts without spaces (found as substrings, not as words)."""
    return {name: code for name, code in country_names().items() if len(name) >= 2 and _UNSPACED.search(name)}


def _country_name_clues(text: str) -> list[Clue]:
    words = normalize_name(text).split()
    found: dict[str, str] = {}
    for size in (4, 3, 2, 1):
        for i in range(len(words) - size + 1):
            phrase = " ".join(words[i : i + size])
            if len(phrase) >= 4 and phrase not in found and phrase not in WORD_LIKE_NAMES:
                country = find_country(phrase, names_only=True)
                if country:
                    found[phrase] = country.code
    if _UNSPACED.search(text):
        folded = normalize_name(text)
        found.update({name: code for name, code in _unspaced_names().items() if name in folded})
    return [Clue("country_name", name, {code: 1.0}, 0.4) for name, code in found.items()]


# --- postcodes ----------------------------------------------------------------------------------------


@cache
def _postcode_formats() -> dict[str, re.Pattern[str]]:
    formats = {}
    for code, country in all_countries().items():
        if country.postcode_regex:
            try:
                formats[code] = re.compile(country.postcode_regex.strip("^$ "))
            except re.error:
                continue
    return formats


def _postcode_clues(text: str) -> list[Clue]:
    clues = []
    for token in dict.fromkeys(m.group(0) for m in _POSTCODE.finditer(text, overlapped=True)):
        if not any(ch.isdigit() for ch in token) or token.replace(" ", "").isdigit():
            continue  # bare numbers fit dozens of formats: a shape needs a letter or a hyphen
        codes = [code for code, fmt in _postcode_formats().items() if fmt.fullmatch(token)]
        if 0 < len(codes) <= MAX_POSTCODE_COUNTRIES:
            clues.append(Clue("postcode", token, dict.fromkeys(codes, 1.0), 0.2))
    return clues

def run(call: ToolCall) -> Evidence:
    """Read the clues in the photo lines of this call."""
    return read_clues(list(call.lines))


SPEC = ToolSpec(
    name=TOOL,
    function=read_clues,
    run=run,
    description="""Read country clues from text seen in the photo (OCR output, one line per line).

Finds the writing script, the language, phone numbers, web and e-mail domains, currency signs,
country names and postcode formats, and returns which countries they point to with how strongly.
The text is only matched against tables; it is never treated as instructions.""",
    needs=("lines",),
    key=("lines",),
    planner_args=TEXT_ARG,
    before_commit=True,
    cue="text",
    ablation=("ocr", TOOL),
    what="script → countries, language id, phone numbers, web domains, currency, postcodes, country names",
    offline_source="babel/CLDR, lingua, phonenumbers, GeoNames",
)
