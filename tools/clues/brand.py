"""Brand clue: names of chains whose shops, banks, fuel stations or post offices are national.

The table, `tools/data/brands.csv` (at most 150 rows), lists supermarkets, banks, fuel, post and
telecoms companies with the countries they trade in, each row citing the company's Wikipedia article
(`source`); never fitted to benchmark labels. A chain in several countries has a relative share per
country (1 home market; about 0.5 a large foreign one; 0.1 to 0.3 a few stores), read from the article's
operations and store counts. `names` are the spellings and scripts it is written in (';' between).

Names match as whole words, case-insensitive, longest first ("Aldi Süd" before "Aldi"); a space, hyphen
or apostrophe in a name may be missing ("7 Eleven", "Sainsburys"). Names in scripts written without
spaces (セブン-イレブン, 中国邮政) match inside a run. Brands that are ordinary words or common names
(`ordinary_word`: Spar, Coop, Total, Target, Boots) match only as written or in capitals and weigh
`ORDINARY_WEIGHT`, against up to `BRAND_WEIGHT` (less as a chain spreads over more countries).

A second table, `tools/data/global_brands.csv`, lists brands sold all over the world whose names are
also names of places in the gazetteer (TOYOTA is Toyota, Aichi; CORONA is Corona, California; FANTA
is an alternate name of Vantaa): they are no clue to a country, and the gazetteer reads them as
ordinary words (`global_brand_names`). Each row cites the brand's Wikipedia article and names the
place it matches; a row is there only because the gazetteer matched that place when the name was
read alone (tested).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

from geosleuth.tools.clues.base import Clue, distinctiveness, first_matches, parse_shares, read_table
from geosleuth.tools.word_rarity import UNSPACED_LETTER

DATA_FILES = ("data/brands.csv", "data/global_brands.csv")
"""The package tables this module reads (hashed into the tool cache key by `ToolSpec.source_hash`)."""

BRAND_WEIGHT = 0.4
ORDINARY_WEIGHT = 0.15

_UNSPACED = re.compile(UNSPACED_LETTER)
"""Kana, Han and Hangul: scripts whose words run together, so names are matched inside runs."""


@dataclass(frozen=True)
class Brand:
    """One row of brands.csv: the chain, where it trades, and whether its name is an ordinary word."""

    name: str
    countries: dict[str, float]
    ordinary: bool
    source: str


@cache
def _rows() -> tuple[tuple[Brand, tuple[str, ...]], ...]:
    """Read brands.csv: each brand with its spellings."""
    return tuple(
        (
            Brand(row["brand"], parse_shares(row["countries"]), row["ordinary_word"] == "yes", row["source"]),
            tuple(row["names"].split(";")),
        )
        for row in read_table(DATA_FILES[0])
    )


@cache
def global_brand_names() -> tuple[str, ...]:
    """Return the names of the global brands that are also place names, as written in the table."""
    return tuple(name for row in read_table(DATA_FILES[1]) for name in row["names"].split(";"))


@cache
def brands() -> dict[str, Brand]:
    """Return the brand table keyed by every spelling of each brand, folded for lookup."""
    return {_fold(name): brand for brand, names in _rows() for name in names}


def _fold(name: str) -> str:
    return re.sub(r"[\s'’-]", "", name).casefold()


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Return the patterns of the brands matched in any case, and of the ordinary words matched as written."""
    loose, exact = [], []
    for brand, names in _rows():
        for name in names:
            if brand.ordinary:
                exact += [_piece(name), _piece(name.upper())]
            else:
                loose.append(_piece(name))

    def join(pieces: list[str]) -> str:
        return "|".join(sorted(set(pieces), key=len, reverse=True))

    return re.compile(join(loose), re.IGNORECASE), re.compile(join(exact))


def _piece(name: str) -> str:
    """Turn a name into a pattern: optional separators, word edges except beside unspaced scripts."""
    body = "".join(r"[\s'’-]?" if ch in " -'’" else re.escape(ch) for ch in name)
    start = "" if _UNSPACED.match(name[0]) else r"(?<!\w)"
    end = "" if _UNSPACED.match(name[-1]) else r"(?!\w)"
    return start + body + end


def brand_clues(text: str) -> list[Clue]:
    """Return one clue per brand named in the text, with how often it was named."""
    loose, exact = _patterns()
    seen: Counter[str] = Counter()
    found: dict[str, Brand] = {}
    for _, match in first_matches(((loose, None), (exact, None)), text):
        brand = brands()[_fold(match.group(0))]
        found[brand.name] = brand
        seen[brand.name] += 1
    clues = []
    for name, n in seen.most_common():
        brand = found[name]
        top = ORDINARY_WEIGHT if brand.ordinary else BRAND_WEIGHT
        weight = top * (0.5 + 0.5 * distinctiveness(brand.countries))
        extra = {"count": n, "source": brand.source}
        clues.append(Clue("brand", name, dict(brand.countries), round(weight, 4), extra))
    return clues
