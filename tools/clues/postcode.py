"""Postcode clue: postcodes written the way only a few countries write them.

Four address shapes name their country outright (general knowledge; Wikipedia "Postal codes in
Japan", "ZIP Code", "List of U.S. state and territory abbreviations", "Postal codes in Germany",
"Postal codes in Switzerland and Liechtenstein", "Postal codes in Lithuania", "Postal codes in
Latvia"; the UPU's "Postal addressing systems" pages): the postal mark 〒 before a Japanese code
(〒100-0001), a US state abbreviation before a ZIP code (IL 62701, VT. 05472, ZIP+4 too), the old
European prefix of a country's vehicle letters before the code and town (D-80331 München, CH-8001
Zürich, LT-01103 Vilnius), and a London postal district after a street's name, as London's street
name plates write it ("NORTHUMBERLAND STREET WC2", "Abbey Road NW8"; Wikipedia "London postal
district": the districts date from 1857-1917 and are painted on the plates; weight 0.6, enough
to beat the United States' 7-fold lead in the prior). Then tokens shaped like the postcodes
(GeoNames formats) of at most `MAX_POSTCODE_COUNTRIES` countries (SW1A 1AA, K1A 0B1, 1012 AB,
00-950, 1000-001, 01310-100). Bare numbers (10115 Berlin) fit dozens of formats and are not read,
nor letters then digits (RTX 4090, E330: model numbers more often than Maltese or Eswatini
postcodes) unless the letters are the country's own code (AD500), nor tokens with lower-case
letters ("the 2nd": postcodes are written in capitals). The caller reads postcodes only next to
other clues.
"""

from __future__ import annotations

import re
from functools import cache

import regex

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import Clue, blank

MAX_POSTCODE_COUNTRIES = 4
"""A postcode shape that fits more countries' formats than this says nothing."""

US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
US_TERRITORIES = {"PR": "PR", "VI": "VI", "GU": "GU", "AS": "AS", "MP": "MP"}
"""USPS abbreviations of territories that have their own country code, and ZIP codes."""

POSTAL_PREFIXES = {
    "D": "DE", "F": "FR", "I": "IT", "A": "AT", "B": "BE", "CH": "CH", "FL": "LI", "NL": "NL", "L": "LU",
    "E": "ES", "P": "PT", "DK": "DK", "S": "SE", "N": "NO", "FIN": "FI", "PL": "PL", "CZ": "CZ",
    "SK": "SK", "H": "HU", "SLO": "SI", "HR": "HR", "LT": "LT", "LV": "LV", "EST": "EE", "GR": "GR",
}
"""International vehicle letters once written before European postcodes (and still by LT and LV)."""

TOWN = r"(?:[A-ZÀ-Ý][a-zà-ÿß]{2,}|[A-ZÀ-Ý]{3,})"

_POSTCODE = regex.compile(r"(?<![\w-])[A-Z0-9]{2,5}(?:[ -][A-Z0-9]{2,4})?(?![\w-])", regex.IGNORECASE)
_MODEL_LIKE = re.compile(r"([A-Za-z]+) ?\d+")
"""Letters then digits: the shape of model numbers and codes as much as of Maltese or Bruneian postcodes."""
_JAPAN = re.compile(r"〒 ?\d{3}-?\d{4}(?!\d)")
_STATES = "|".join(US_STATES.split() + list(US_TERRITORIES))
_US = re.compile(rf"(?<![\w-])({_STATES})\.? \d{{5}}(?:-\d{{4}})?(?![\w-])")
_PREFIXES = "|".join(sorted(POSTAL_PREFIXES, key=len, reverse=True))
_LONDON = re.compile(
    r"(?<![\w-])(?:street|st|road|rd|avenue|ave|lane|place|square|gardens|terrace|crescent|grove|hill|"
    r"row|walk|mews|court|close|gate|way|yard|embankment|bridge|circus|market)\.?,? "
    r"(?-i:((?:EC|WC|NW|SE|SW|N|E|W)\d{1,2}[A-Z]?))(?![\w-])",
    re.IGNORECASE,
)
"""A street type word in any case, then a London postal district in capitals (EC1, WC2, SW1A, NW8, E14)."""
_PREFIXED = re.compile(rf"(?<![\w-])({_PREFIXES}) ?-(\d{{3}} ?\d{{2}}|\d{{4,5}}) {TOWN}")


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


def postcode_clues(text: str) -> list[Clue]:
    """Return the postcode clues of a text: whole address shapes first, then distinctive postcode tokens."""
    clues, spans = _address_clues(text)
    rest = blank(text, spans)
    for token in dict.fromkeys(m.group(0) for m in _POSTCODE.finditer(rest, overlapped=True)):
        if not any(ch.isdigit() for ch in token) or token.replace(" ", "").isdigit():
            continue  # bare numbers fit dozens of formats: a shape needs a letter or a hyphen
        if token != token.upper():
            continue  # postcodes are written in capitals; GeoNames' GB pattern would take 'the 2nd'
        codes = [code for code, fmt in _postcode_formats().items() if fmt.fullmatch(token)]
        model = _MODEL_LIKE.fullmatch(token)
        if model:  # 'RTX 4090', 'E330': only a country's own code before the digits (AD500) counts
            codes = [code for code in codes if code == model.group(1).upper()]
        if 0 < len(codes) <= MAX_POSTCODE_COUNTRIES:
            clues.append(Clue("postcode", token, dict.fromkeys(codes, 1.0), 0.2))
    return clues


def _address_clues(text: str) -> tuple[list[Clue], list[tuple[int, int]]]:
    """Read the shapes that name their country (〒, state + ZIP, London district, vehicle-letter prefix)."""
    clues, spans = [], []
    for match in _JAPAN.finditer(text):
        clues.append(Clue("postcode", match.group(0), {"JP": 1.0}, 0.5, {"shape": "postal mark"}))
        spans.append(match.span())
    for match in _US.finditer(text):
        country = US_TERRITORIES.get(match.group(1), "US")
        clues.append(Clue("postcode", match.group(0), {country: 1.0}, 0.35, {"shape": "state and ZIP"}))
        spans.append(match.span())
    for match in _LONDON.finditer(text):
        clues.append(Clue("postcode", match.group(0), {"GB": 1.0}, 0.6, {"shape": "London district"}))
        spans.append(match.span())
    for match in _PREFIXED.finditer(text):
        country = POSTAL_PREFIXES[match.group(1)]
        fmt = _postcode_formats().get(country)
        if fmt and fmt.fullmatch(match.group(2)):
            clues.append(Clue("postcode", match.group(0), {country: 1.0}, 0.35, {"shape": "country prefix"}))
            spans.append(match.span())
    return clues, spans
