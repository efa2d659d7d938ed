"""Postcode clue: tokens shaped like the postcodes of only a few countries (GeoNames formats)."""

from __future__ import annotations

import re
from functools import cache

import regex

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import Clue

MAX_POSTCODE_COUNTRIES = 4
"""A postcode shape that fits more countries' formats than this says nothing."""

_POSTCODE = regex.compile(r"(?<![\w-])[A-Z0-9]{2,5}(?:[ -][A-Z0-9]{2,4})?(?![\w-])", regex.IGNORECASE)


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
    """Return one clue per token shaped like the postcodes of at most `MAX_POSTCODE_COUNTRIES` countries."""
    clues = []
    for token in dict.fromkeys(m.group(0) for m in _POSTCODE.finditer(text, overlapped=True)):
        if not any(ch.isdigit() for ch in token) or token.replace(" ", "").isdigit():
            continue  # bare numbers fit dozens of formats: a shape needs a letter or a hyphen
        codes = [code for code, fmt in _postcode_formats().items() if fmt.fullmatch(token)]
        if 0 < len(codes) <= MAX_POSTCODE_COUNTRIES:
            clues.append(Clue("postcode", token, dict.fromkeys(codes, 1.0), 0.2))
    return clues

