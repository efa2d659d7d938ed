"""Script clue: the Unicode scripts of the letters read, as likelihoods over the countries writing them."""

from __future__ import annotations

from functools import cache

import regex

from geosleuth.core.countries import script_shares
from geosleuth.tools.clues.base import Clue, distinctiveness, relative


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


def script_clues(text: str) -> list[Clue]:
    """Return one clue per script with enough letters in the text."""
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
        likes = relative(script_shares()[script])
        amount = min(1.0, n / 4) * (0.5 + 0.5 * n / total)
        weight = max(0.1, min(0.95, distinctiveness(likes))) * amount
        clues.append(Clue("script", script, likes, weight, {"letters": n}))
    return clues


