"""Domain clue: web and e-mail hosts whose country-code top-level domain names a country."""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import HOST, Clue

WEAK_TLDS = frozenset("co tv io me ai ly fm am to cc ws nu tk gg la".split())
"""ccTLDs sold worldwide for their look, not their country."""


@cache
def _tld_table() -> dict[str, list[str]]:
    table: dict[str, list[str]] = defaultdict(list)
    for code, country in all_countries().items():
        for tld in country.tlds:
            table[tld.lstrip(".")].append(code)
    return dict(table)


def domain_clues(text: str) -> list[Clue]:
    """Return one clue per web or e-mail host whose top-level domain is a country's."""
    clues = []
    for host in dict.fromkeys(m.group(0) for m in HOST.finditer(text)):
        if len(host) < 5 or host not in (host.lower(), host.upper()):
            continue  # 'Mr.Li' is an abbreviation, not a Liechtenstein domain
        host = host.lower()
        tld = host.rsplit(".", 1)[-1]
        codes = _tld_table().get(tld)
        if not codes:
            continue
        clues.append(Clue("domain", host, dict.fromkeys(codes, 1.0), 0.15 if tld in WEAK_TLDS else 0.7))
    return clues


