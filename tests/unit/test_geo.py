"""Distances and point -> country on the real Natural Earth polygons."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geosleuth.core.geo import country_at, distance_km

lat_st = st.floats(-90, 90, allow_nan=False)
lon_st = st.floats(-180, 180, allow_nan=False)


def haversine_km(a, b, c, d, r=6371.0088):
    p1, p2, dl = math.radians(a), math.radians(c), math.radians(d - b)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def test_known_distances():
    # On the WGS84 ellipsoid one degree along the equator is a*pi/180, along the meridian ~110.574 km.
    assert distance_km(0, 0, 0, 1) == pytest.approx(6378.137 * math.pi / 180, abs=1e-3)
    assert distance_km(0, 0, 1, 0) == pytest.approx(110.574, abs=0.01)
    # Long routes agree with the spherical haversine to within the ellipsoid's flattening (~0.5 %).
    for route in [(48.8566, 2.3522, 40.7128, -74.0060), (51.5074, -0.1278, -33.8688, 151.2093)]:
        assert distance_km(*route) == pytest.approx(haversine_km(*route), rel=0.006)


@given(lat_st, lon_st, lat_st, lon_st)
def test_distance_is_a_symmetric_bounded_nonnegative_function(a, b, c, d):
    ab = distance_km(a, b, c, d)
    assert ab >= 0
    assert ab <= 20_004  # half the meridional circumference
    assert math.isclose(ab, distance_km(c, d, a, b), rel_tol=1e-9, abs_tol=1e-9)


@given(lat_st, lon_st)
def test_distance_to_itself_is_zero(a, b):
    assert distance_km(a, b, a, b) == 0


@pytest.mark.parametrize("bad", [(91, 0), (0, 181), (math.nan, 0)])
def test_invalid_coordinates_raise(bad):
    with pytest.raises(ValueError):
        distance_km(*bad, 0, 0)


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (48.8566, 2.3522, "FR"),  # Paris: France's ISO_A2 is -99 in Natural Earth, ISO_A2_EH is FR
        (59.9139, 10.7522, "NO"),  # Oslo: same for Norway
        (43.7384, 7.4246, "MC"),
        (28.5729, -80.6490, "US"),  # Kennedy Space Center
        (35.6762, 139.6503, "JP"),
        (-33.8688, 151.2093, "AU"),
        (1.3521, 103.8198, "SG"),
        (36.0, -5.2, "ES"),  # Strait of Gibraltar, at sea but within 30 km of the coast
        (0.0, 0.0, None),  # Gulf of Guinea, far from land
    ],
)
def test_country_at(lat, lon, code):
    assert country_at(lat, lon) == code


def test_the_cached_country_shapes_are_the_shapefile_s(monkeypatch, tmp_path):
    """The pickled shapes in the user cache hold the same codes, names and polygons as the shapefile."""
    from geosleuth.core import geo

    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(tmp_path))
    geo.country_shapes.cache_clear()
    try:
        built = geo.country_shapes()  # built and saved
        assert len(list(tmp_path.glob("country-shapes-*.pickle"))) == 1
        geo.country_shapes.cache_clear()
        loaded = geo.country_shapes()  # loaded from the file
        assert [(s.code, s.name, s.area_km2) for s in loaded] == [(s.code, s.name, s.area_km2) for s in built]
        assert all(a.geometry.equals_exact(b.geometry, 0) for a, b in zip(loaded, built, strict=True))
    finally:
        geo.country_shapes.cache_clear()
