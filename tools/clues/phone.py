"""Phone clue: international numbers by calling code, national ones by every numbering plan they fit."""

from __future__ import annotations

import re

from geosleuth.core.countries import all_countries, countries_for_calling_code
from geosleuth.tools.clues.base import Clue

MAX_PHONE_COUNTRIES = 12
"""A national number that fits more countries' numbering plans than this says nothing."""

_NATIONAL_PHONE = re.compile(r"(?<![\w+])\(?\d[\d ().\-/]{4,20}\d(?![\w])")


def phone_clues(text: str) -> tuple[list[Clue], list[tuple[int, int]]]:
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

