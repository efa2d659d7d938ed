"""Country-name clue: names of countries, in any language CLDR knows, written in the text."""

from __future__ import annotations

from functools import cache

import regex

from geosleuth.core.countries import country_names, find_country, normalize_name
from geosleuth.tools.clues.base import Clue

WORD_LIKE_NAMES = frozenset({"island", "suede", "gana", "chili", "turkey", "jersey"})
"""Country names (in some language) that are everyday words elsewhere: not clues in free text."""

_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")


@cache
def _unspaced_names() -> dict[str, str]:
    """Return names written in scripts without spaces (found as substrings, not as words)."""
    return {name: code for name, code in country_names().items() if len(name) >= 2 and _UNSPACED.search(name)}


def country_name_clues(text: str) -> list[Clue]:
    """Return one clue per country name written in the text (as words, or inside CJK/Thai runs)."""
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

