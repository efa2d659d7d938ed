"""Currency clue: currency signs and codes next to amounts, as the countries using that currency."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from functools import cache

import regex

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import NUMBER, Clue, distinctiveness

EXTRA_CURRENCY_SIGNS = {
    "руб": ("RUB",),
    "р.": ("RUB", "BYN"),
    "грн": ("UAH",),
    "лв": ("BGN",),
    "Rs": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"),
}
"""Everyday signs missing from CLDR's symbol tables, with the currencies they stand for."""


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
        rf"|(?<!\w)(?P<pre>{alt})\s?{NUMBER}"
        rf"|{NUMBER}\s?(?P<post>{alt})(?!\w)"
    )


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def currency_clues(text: str) -> list[Clue]:
    """Return one clue per currency sign or code found, with how often it was seen."""
    seen: Counter[str] = Counter()
    for match in _currency_pattern().finditer(text):
        seen[match.group("sym") or match.group("pre") or match.group("post")] += 1
    clues = []
    for sign, n in seen.most_common():
        likes = dict.fromkeys(_currency_table()[sign], 1.0)
        weight = min(0.7, 0.1 + distinctiveness(likes)) * min(1.0, 0.6 + 0.2 * n)
        clues.append(Clue("currency", sign, likes, weight, {"count": n}))
    return clues
