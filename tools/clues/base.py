"""What every text sub-clue shares: the `Clue` record, likelihood helpers and text patterns."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol, TypeVar

from geosleuth.core.countries import all_countries
from geosleuth.core.state import LIKELIHOOD_FLOOR

CLUE_FLOOR = LIKELIHOOD_FLOOR
"""Smallest relative likelihood one sub-clue gives a country (OCR misreads, travellers, imports); the
same floor the belief gives the countries an evidence leaves out, so those need not be listed."""

HOST = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?![\w-])", re.IGNORECASE
)
NUMBER = r"\d[\d.,' ]*"
NOT_WORDS = re.compile(r"\S*[\d@]\S*")
"""Tokens with digits or '@' (numbers, codes, e-mails): noise for language identification."""


R = TypeVar("R")


class Finder(Protocol):
    """A compiled pattern of `re` or `regex`: what `first_matches` needs of it."""

    def finditer(self, string: str) -> Iterator[Any]:
        """Yield the pattern's matches in a text."""


def first_matches(
    rules: Iterable[tuple[Finder, R]], text: str, skip: Callable[[int, int], bool] | None = None
) -> Iterator[tuple[R, Any]]:
    """Yield (rule, match) for each rule's matches, in rule order, leaving out overlapping ones.

    A match that overlaps one yielded before (an earlier, more specific rule read that text), or that
    `skip(start, end)` rejects, is left out.
    """
    taken: list[tuple[int, int]] = []
    for pattern, rule in rules:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(a < end and start < b for a, b in taken) or (skip is not None and skip(start, end)):
                continue
            taken.append((start, end))
            yield rule, match


@dataclass
class Clue:
    """One sub-clue: what was seen, the countries it fits (relative likelihoods), how much to trust it."""

    kind: str
    value: str
    countries: dict[str, float]
    weight: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        """Return the JSON-safe form recorded in the evidence's observations (top countries only).

        When more than `top` countries share the best likelihood, none is listed (listing the first
        codes of a tie would read as evidence for them); `ties` then says how many share it.
        """
        peak = max(self.countries.values(), default=0.0)
        tied = sum(1 for like in self.countries.values() if like == peak)
        ranked = sorted(self.countries.items(), key=lambda item: (-item[1], item[0]))[:top]
        listed = {} if tied > top else {code: round(like, 4) for code, like in ranked}
        return {
            "kind": self.kind,
            "value": self.value,
            "countries": listed,
            **({"ties": tied} if tied > top else {}),
            "weight": round(self.weight, 3),
            **self.extra,
        }


def relative(values: dict[str, float]) -> dict[str, float]:
    """Scale likelihoods so the largest is 1, dropping zeros."""
    peak = max(values.values(), default=0.0)
    return {code: v / peak for code, v in values.items() if v > 0} if peak > 0 else {}


def distinctiveness(likes: dict[str, float]) -> float:
    """Return 1 for a clue that fits one country, falling to 0 as it fits all of them about equally."""
    if not likes:
        return 0.0
    effective = sum(likes.values()) / max(likes.values())
    return max(0.0, 1 - math.log(max(effective, 1.0)) / math.log(len(all_countries())))


# --- scripts ------------------------------------------------------------------------------------------

def shares(counts: dict[str, float]) -> dict[str, float]:
    """Turn head counts per country into shares of each country's population."""
    countries = all_countries()
    return {code: n / countries[code].population for code, n in counts.items()}



def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the given character spans of a text with spaces (so later clues skip them)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def parse_shares(spec: str) -> dict[str, float]:
    """Read 'GB IE:0.8 AU:0.5' (country codes, each with a relative likelihood, 1 when left out)."""
    out = {}
    for item in spec.split():
        code, _, share = item.partition(":")
        out[code] = float(share) if share else 1.0
    return out


def read_table(name: str) -> list[dict[str, str]]:
    """Return the rows of a CSV table shipped in the package, by its path under `geosleuth.tools`."""
    text = resources.files("geosleuth.tools").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))
