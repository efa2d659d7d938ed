"""A country's answer point when nothing names a place, on the real GeoNames places of the gazetteer."""

from __future__ import annotations

import numpy as np
import pytest

from geosleuth.core.geo import country_at, distance_km
from geosleuth.tools.country_points import country_point
from geosleuth.tools.gazetteer_index import get_index


@pytest.mark.parametrize("code", ["US", "AU", "CN"])
def test_the_point_is_the_largest_city_with_the_populations_mean_distance(code):
    index = get_index()
    rows = [i for i, c in enumerate(index.countries) if c == code and index.population[i] > 0]
    biggest = max(rows, key=lambda i: index.population[i])
    point = country_point(code)
    assert point is not None and country_at(point.lat, point.lon) == code
    assert (point.lat, point.lon) == (index.lat[biggest], index.lon[biggest])
    assert point.place == index.names[biggest]
    weights = np.array([index.population[i] for i in rows], dtype=float)
    km = np.array([distance_km(point.lat, point.lon, float(index.lat[i]), float(index.lon[i])) for i in rows])
    assert float(km @ weights / weights.sum()) == pytest.approx(point.mean_km, rel=0.01)


def test_the_us_point_is_new_york_not_washington_and_unknown_codes_have_none():
    point = country_point("us")
    assert point is not None and point.place == "New York City" and 1000 < point.mean_km < 2500
    assert country_point("ZZ") is None
