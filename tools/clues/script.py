"""Script clue: the Unicode scripts of the letters read, as likelihoods over the countries writing them.

A script's likelihood for a country is the share of its people who read the script
(`geosleuth.core.countries.script_shares`, CLDR population shares: 0.99 for Greek in Greece, 0.019 in
Albania), so a script written in one or two countries (Hangul, Greek, Thai, Georgian, Armenian, Hebrew)
is a strong clue. Latin is the exception: brand names, English, transliterated place names and number
plates put Latin letters on signs in every country, so Latin letters say almost nothing about where a
photo was taken. Its likelihood is near flat (`LATIN_ELSEWHERE`) and its weight tiny.
"""

from __future__ import annotations

from functools import cache

import regex

from geosleuth.core.countries import all_countries, script_shares
from geosleuth.tools.clues.base import Clue, distinctiveness, relative

LATIN_ELSEWHERE = 0.5
"""How often, relative to a country that writes its languages in Latin, Latin letters show in the text of
a country that does not (Japan, Russia, Saudi Arabia): about half as often. A modelling assumption, not a
measurement; with Latin's tiny weight the exact value hardly matters."""

MAX_WEIGHT = 0.95
"""The largest weight a script clue gets (OCR can misread a few letters as another script)."""

MIN_WEIGHT = 0.01
"""The smallest weight a script clue gets, so that a near-flat clue (Latin) is still recorded."""

KANA = ("Hira", "Kana")
"""Unicode scripts only Japanese is written in (with Han)."""


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


def letter_counts(text: str) -> dict[str, int]:
    """Return how many letters of the text are in each Unicode script (ISO 15924 codes), most first."""
    sample = "".join(ch for ch in text if ch.isalpha())
    counts = {script: len(pattern.findall(sample)) for script, pattern in _script_patterns().items()}
    return dict(sorted(((s, n) for s, n in counts.items() if n), key=lambda item: -item[1]))


def writing_system(counts: dict[str, int]) -> str | None:
    """Return the writing system of a text from its `letter_counts`: its main script, Jpan or Kore.

    Kana make a text Japanese (Jpan, with its Han characters) and Hangul makes it Korean (Kore); otherwise
    the script with the most letters wins ('Hani' for Han characters alone). None without letters.
    """
    if any(counts.get(s) for s in KANA):
        return "Jpan"
    if counts.get("Hang"):
        return "Kore"
    return max(counts, key=lambda s: counts[s]) if counts else None


@cache
def script_name(script: str) -> str:
    """Return the English name of an ISO 15924 script code ('Latn' -> 'Latin'), or the code itself."""
    from babel import Locale

    return str(Locale("en").scripts.get(script, script))


@cache
def script_likelihoods(script: str) -> dict[str, float]:
    """Return the relative likelihood, per country, of seeing letters of a script in its photos' text."""
    table = script_shares().get(script, {})
    if script == "Latn":
        return relative({code: LATIN_ELSEWHERE + (1 - LATIN_ELSEWHERE) * table.get(code, 0.0)
                         for code in all_countries()})
    return relative(table)


def script_clues(text: str) -> list[Clue]:
    """Return one clue per script with enough letters in the text.

    The weight grows with how distinctive the script is (Hangul: two countries; Latin: all of them about
    equally) and with how many of the letters are in it (a lone Greek letter in Latin text is a misread).
    """
    counts = letter_counts(text)
    total = sum(counts.values()) or 1
    clues = []
    for script, n in counts.items():
        if n < 2 and total > 4:
            continue
        likes = dict(script_likelihoods(script))
        amount = min(1.0, n / 4) * (0.5 + 0.5 * n / total)
        weight = max(MIN_WEIGHT, min(MAX_WEIGHT, distinctiveness(likes)) * amount)
        clues.append(Clue("script", script, likes, weight, {"letters": n, "name": script_name(script)}))
    return clues
