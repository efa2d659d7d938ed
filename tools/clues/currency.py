"""Currency clue: currency signs and codes, and how the amounts beside them are written.

A sign or code (€, ₹, zł, CHF) points to the countries using that currency: CLDR via babel, with the
symbols of each country's own locales (₦) but not their lettered abbreviations, which are words
elsewhere ('Le', 'den'), and the everyday signs CLDR lacks. An amount says more: where the sign goes
and which mark separates the decimals follow each locale's CLDR currency pattern (babel
`Locale.currency_formats`, `Locale.number_symbols`, `Locale.currency_symbols`): "12,50 €" is written
in Germany, France, Italy or Spain, "€12.50" in Ireland or Malta, "€ 12,50" in the Netherlands or
Austria; "$12.99" in the US, Canada or Australia, "$ 12,99" in Argentina, Chile or Colombia. A country
whose locales write amounts otherwise keeps `OTHER_FORMAT` (menus and tourist prices vary). A bare
dollar sign fits some forty countries and counts only before or after an amount, with a small weight.
"Fr. 5.–" (the Swiss dash for whole francs; Wikipedia "Swiss franc") counts only in that shape, since
"Mo–Fr. 9–18" is a time.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from functools import cache
from typing import Any, NamedTuple

import regex

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import NUMBER, Clue, distinctiveness, relative

EXTRA_CURRENCY_SIGNS = {
    "руб": ("RUB",),
    "р.": ("RUB", "BYN"),
    "грн": ("UAH",),
    "лв": ("BGN",),
    "Rs": ("INR", "PKR", "LKR", "NPR", "MUR", "SCR"),
}
"""Everyday signs missing from CLDR's symbol tables, with the currencies they stand for."""

OTHER_FORMAT = 0.4
"""Likelihood, relative to countries whose locales write amounts that way, for those that do not."""
MIN_LANGUAGE_SHARE = 0.2
"""A country's languages spoken by at least this share give the locales whose formats it writes."""
DOLLAR_WEIGHT = 0.15
"""Most weight a bare '$' amount gets."""

AMOUNT = r"\d{1,3}(?:[.,'’ \u00a0\u202f]\d{3})+(?:[.,](?:\d{2}|[-–—]{1,2}))?|\d+(?:[.,](?:\d{2}|[-–—]{1,2}))?"
"""An amount of money: digits with group marks, then maybe two decimals or a dash for none."""
SWISS_FRANCS = regex.compile(r"(?<!\w)S?Fr\. ?\d{1,4}\.(?:[-–—]{1,2}|\d{2}(?!\s?[-–]\s?\d| ?Uhr))")


class Format(NamedTuple):
    """How an amount is written: the sign 'before' or 'after' it, and the decimal mark ('' if none seen)."""

    position: str
    decimal: str


@cache
def _locales() -> dict[str, list[Any]]:
    """Return the babel locales of each country's main languages (share >= `MIN_LANGUAGE_SHARE`)."""
    from babel import Locale, localedata

    out: dict[str, list[Any]] = {}
    for code, country in all_countries().items():
        langs = [lang for lang, share in country.languages if share >= MIN_LANGUAGE_SHARE] or [
            lang for lang, _ in country.languages[:1]
        ]
        idents = [f"{lang.replace('-', '_')}_{code}" for lang in langs]
        out[code] = [Locale.parse(i) for i in idents if localedata.exists(i)]
    return out


def _from_cldr() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[Format]]]:
    """Return what the locales' CLDR data says: the local signs and the amount formats."""
    return _build_local_signs(), _build_formats()


@cache
def _cldr() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[Format]]]:
    """Return the CLDR tables, cached on disk: reading ~350 locales with babel costs 2.5 s a process."""
    from geosleuth.core.cache import cached_pickle, source_key

    return cached_pickle(
        "currency-cldr", source_key(["babel"], extra="currency-cldr-1"), _from_cldr,
        lambda value: isinstance(value, tuple) and len(value) == 2,
    )


def _local_signs() -> dict[str, frozenset[str]]:
    """Map each sign a country's own locales write for its currency ('$', '₦', 'kr.') to those countries."""
    return _cldr()[0]


def _formats() -> dict[str, frozenset[Format]]:
    """Map each country to the ways its locales write amounts of money (CLDR currency patterns)."""
    return _cldr()[1]


def _build_local_signs() -> dict[str, frozenset[str]]:
    """Build `_local_signs` from the locales."""
    table: dict[str, set[str]] = defaultdict(set)
    for code, locales in _locales().items():
        for currency in all_countries()[code].currencies:
            for locale in locales:
                table[locale.currency_symbols.get(currency, currency)].add(code)
    return {sign: frozenset(codes) for sign, codes in table.items()}


def _build_formats() -> dict[str, frozenset[Format]]:
    """Build `_formats` from the locales."""
    out = {}
    for code, locales in _locales().items():
        found = set()
        for locale in locales:
            pattern = locale.currency_formats["standard"].pattern.split(";")[0]
            digits = min(i for i in (pattern.find("#"), pattern.find("0")) if i >= 0)
            position = "before" if pattern.find("¤") < digits else "after"
            found.add(Format(position, locale.number_symbols["latn"]["decimal"]))
        out[code] = frozenset(found)
    return out


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
            table[sign].add(code)
    for sign, codes in _local_signs().items():
        if _is_symbol(sign):  # lettered local signs ('Le', 'den', 'VT') are everyday words and codes too
            table[sign] |= codes
    for sign, currencies in EXTRA_CURRENCY_SIGNS.items():
        table[sign] |= set().union(*(by_currency[c] for c in currencies))
    for sign in ("$", "¤", "\u200b"):  # the bare dollar sign fits some forty countries: amounts only
        table.pop(sign, None)
    return {sign: frozenset(codes) for sign, codes in table.items()}


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _is_symbol(sign: str) -> bool:
    return any(unicodedata.category(ch) == "Sc" for ch in sign)


@cache
def _sign_alternatives() -> tuple[str, str]:
    """Return the regex alternatives of the symbolic signs (€, ₹) and of the lettered ones (zł, CHF)."""
    signs = sorted(_currency_table(), key=len, reverse=True)
    symbolic = [s for s in signs if not _has_letter(s) and _is_symbol(s)]
    wordy = [s for s in signs if _has_letter(s) and len(s) >= 2]
    return "|".join(regex.escape(s) for s in symbolic), "|".join(regex.escape(s) for s in wordy)


@cache
def _currency_pattern() -> regex.Pattern[str]:
    """Match a currency sign (€, ₹) anywhere, and a lettered sign or code (zł, CHF) next to an amount."""
    symbolic, wordy = _sign_alternatives()
    return regex.compile(
        rf"(?P<sym>{symbolic})"
        rf"|(?<!\w)(?P<pre>{wordy})\s?{NUMBER}"
        rf"|{NUMBER}\s?(?P<post>{wordy})(?!\w)"
    )


@cache
def _amount_pattern() -> regex.Pattern[str]:
    """Match an amount with its sign before or after it (the bare '$' included)."""
    symbolic, wordy = _sign_alternatives()
    sign = rf"(?:{symbolic}|(?<![A-Za-z])\$|(?<!\w)(?:{wordy})(?!\w))"
    return regex.compile(
        rf"(?P<before>{sign}) ?(?P<num>{AMOUNT})(?!\d)|(?<![\d.,])(?P<num2>{AMOUNT}) ?(?P<after>{sign})"
    )


def _format(position: str, number: str) -> Format:
    """Tell how an amount was written: decimals ('12,50', '5.–') or group marks ('10.000') show the mark."""
    found = regex.search(r"([.,])(?:\d{2}|[-–—]+)$", number)
    if found:
        return Format(position, found.group(1))
    group = regex.search(r"\d([.,])\d{3}$", number)
    return Format(position, {".": ",", ",": "."}[group.group(1)] if group else "")


def _fits(written: Format, ways: frozenset[Format]) -> bool:
    return any(w.position == written.position and written.decimal in ("", w.decimal) for w in ways)


def currency_clues(text: str) -> list[Clue]:
    """Return one clue per currency sign or code found, shaped by how its amounts are written."""
    seen: Counter[str] = Counter()
    for match in _currency_pattern().finditer(text):
        seen[match.group("sym") or match.group("pre") or match.group("post")] += 1
    amounts: dict[str, list[Format]] = defaultdict(list)
    for match in _amount_pattern().finditer(text):
        before = match.group("before")
        amounts[before or match.group("after")].append(
            _format("before" if before else "after", match.group("num") or match.group("num2"))
        )
    for match in SWISS_FRANCS.finditer(text):
        amounts["Fr."].append(Format("before", "."))
    clues = []
    for sign in dict.fromkeys([*(s for s, _ in seen.most_common()), *amounts]):
        codes = {"$": _local_signs().get("$", frozenset()), "Fr.": frozenset({"CH", "LI"})}.get(sign)
        codes = codes if codes is not None else _currency_table()[sign]
        written = amounts.get(sign, [])
        likes = relative({c: _likelihood(written, _formats().get(c, frozenset())) for c in codes})
        n = max(seen[sign], len(written))
        weight = min(0.7, 0.1 + distinctiveness(likes)) * min(1.0, 0.6 + 0.2 * n) + (0.1 if written else 0.0)
        if sign == "$":
            weight = min(weight, DOLLAR_WEIGHT)
        extra: dict[str, Any] = {"count": n}
        if written:
            extra["amounts"] = [f"{w.position} {w.decimal or '?'}" for w in written[:5]]
        clues.append(Clue("currency", sign, likes, round(weight, 4), extra))
    return clues


def _likelihood(written: list[Format], ways: frozenset[Format]) -> float:
    """Return the mean fit of the amounts seen with a country's ways of writing them (1 without amounts)."""
    if not written:
        return 1.0
    return sum(1.0 if _fits(w, ways) else OTHER_FORMAT for w in written) / len(written)
