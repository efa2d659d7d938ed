"""The population median point of a country, on the real GeoNames places of the gazetteer."""

from __future__ import annotations

import numpy as np
import pytest

from geosleuth.core.countries import get_country
from geosleuth.core.geo import country_at, distance_km
from geosleuth.tools.country_points import country_point
from geosleuth.tools.gazetteer_index import get_index


def mean_distance_km(code: str, lat: float, lon: float) -> float:
    """Population-weighted mean distance (km) from a point to a country's places, computed here."""
    index = get_index()
    rows = [i for i, c in enumerate(index.countries) if c == code and index.population[i] > 0]
    weights = np.array([index.population[i] for i in rows], dtype=float)
    km = np.array([distance_km(lat, lon, float(index.lat[i]), float(index.lon[i])) for i in rows])
    return float(km @ weights / weights.sum())


@pytest.mark.parametrize("code", ["US", "AU", "BR"])
def test_the_median_point_is_closer_to_the_people_than_the_capital(code):
    point, country = country_point(code), get_country(code)
    assert point is not None and country_at(point.lat, point.lon) == code
    at_capital = mean_distance_km(code, country.capital_lat, country.capital_lon)
    at_point = mean_distance_km(code, point.lat, point.lon)
    assert at_point == pytest.approx(point.mean_km, rel=0.01)
    assert at_point <= at_capital
    if code == "US":
        assert at_point < 0.9 * at_capital  # Washington lies at the eastern edge of the population


def test_the_us_point_is_in_the_midwest_and_unknown_codes_have_none():
    point = country_point("us")
    assert point is not None and 36 < point.lat < 42 and -92 < point.lon < -84
    assert country_point("ZZ") is None
