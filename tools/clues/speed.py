"""Unit clue: speeds in mph or km/h, and distances in miles or kilometres, as on road signs.

Miles per hour are the legal unit of road speed in the United States and its territories, the United
Kingdom and its Crown dependencies and overseas territories, Liberia, Samoa and several Caribbean
countries (Wikipedia "Speed limits by country", "Miles per hour"); those countries also sign distances in
miles. Nearly everywhere else signs say km/h and km, which speaks mildly against the mile countries
(their cars show km/h too). Units count only next to a number ('55 MPH', '80 km/h', '3 miles', '½ mi'),
except a sign's standalone 'MPH'; weights stay modest (speedometers, imported cars, travel writing).
"""

from __future__ import annotations

import re

from geosleuth.core.countries import all_countries
from geosleuth.tools.clues.base import Clue, parse_shares

MILE_COUNTRIES = (
    "US PR GU VI AS MP GB IM JE GG KY VG TC AI MS FK SH LR WS AG BS BZ DM GD KN LC VC"
)
"""Countries and territories signing speeds in mph and distances in miles."""
METRIC_IN_MILE_COUNTRIES = 0.1
"""Relative likelihood of km/h or km in a mile country, against 1 in a metric one."""

_NUMBER = r"(?<![\w.,])(?:\d+(?:[.,]\d+)?|\d*[¼½¾])"
UNITS = (
    ("mph", re.compile(rf"{_NUMBER} ?(?:mph|MPH|m\.p\.h\.)(?!\w)|(?<!\w)MPH(?!\w)"), True, 0.35),
    ("km/h", re.compile(rf"{_NUMBER} ?(?:km/h|km/u|kmh|kph|KPH|KMH|км/ч|公里/小时)(?![\w/])"), False, 0.25),
    ("miles", re.compile(rf"{_NUMBER} ?(?:miles?|mi|MILES?)(?![\w/])"), True, 0.2),
    ("km", re.compile(rf"{_NUMBER} ?(?:km|KM|Km|км)(?![\w/])"), False, 0.15),
)
"""(unit, pattern, whether it is the mile countries', weight)."""


def unit_clues(text: str) -> list[Clue]:
    """Return one clue per unit of speed or distance seen, with how often it was seen."""
    miles = parse_shares(MILE_COUNTRIES)
    clues = []
    for unit, pattern, imperial, weight in UNITS:
        n = len(pattern.findall(text))
        if not n:
            continue
        if imperial:
            likes = dict(miles)
        else:
            likes = {c: METRIC_IN_MILE_COUNTRIES if c in miles else 1.0 for c in all_countries()}
        clues.append(Clue("unit", unit, likes, round(weight * min(1.0, 0.7 + 0.15 * n), 4), {"count": n}))
    return clues
