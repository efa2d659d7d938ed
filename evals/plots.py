"""Inline SVG plots for eval reports: the error CDF and a world map of truth vs prediction.

The SVG is plain text with no scripts, fonts or links to fetch, so an HTML report that inlines it is
self-contained. The basemap is the Natural Earth admin-0 polygons that `geosleuth.core.geo` loads, simplified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from geosleuth.core.geo import country_shapes
from geosleuth.evals.metrics import THRESHOLDS_KM

CDF_MIN_KM, CDF_MAX_KM = 0.1, 20_000.0
"""Range of the CDF's log x axis (half the Earth's circumference is ~20,000 km)."""
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
MAP_SIMPLIFY_DEG = 0.3
"""Douglas-Peucker tolerance of the basemap, in degrees (keeps the map ~60 kB)."""
MAP_MIN_AREA_DEG2 = 0.3
"""Islands smaller than this (in square degrees) are left off the basemap."""
Axis = Callable[[float], float]


@dataclass(frozen=True)
class MapPoint:
    """One photo on the world map: its true place, the predicted one (if any), and whether it was right."""

    true_lat: float
    true_lon: float
    pred_lat: float | None
    pred_lon: float | None
    correct: bool
    label: str = ""


def error_cdf_svg(series: Mapping[str, Sequence[float]], width: int = 640, height: int = 320) -> str:
    """Return an SVG of the cumulative share of photos within x km, x on a log axis.

    Args:
        series: name -> errors in km for every photo, misses as `math.inf` (they never reach the curve
            top, so a run with misses plateaus below 1).
        width: width of the SVG in pixels.
        height: height of the SVG in pixels.
    """
    left, right, top, bottom = 48, 16, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    log_lo, log_hi = math.log10(CDF_MIN_KM), math.log10(CDF_MAX_KM)

    def x(km: float) -> float:
        km = min(max(km, CDF_MIN_KM), CDF_MAX_KM)
        return left + (math.log10(km) - log_lo) / (log_hi - log_lo) * plot_w

    def y(frac: float) -> float:
        return top + (1 - frac) * plot_h

    parts = [_svg_open(width, height, "Error CDF")]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(frac):.1f}" y2="{y(frac):.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(frac) + 4:.1f}" text-anchor="end">{frac:.0%}</text>')
    for km in THRESHOLDS_KM:
        parts.append(f'<line x1="{x(km):.1f}" x2="{x(km):.1f}" y1="{top}" y2="{top + plot_h}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{x(km):.1f}" y="{top + plot_h + 14}" text-anchor="middle">{km:,} km</text>')
    for i, (name, errors) in enumerate(series.items()):
        colour, ly = COLOURS[i % len(COLOURS)], top + 14 + 16 * i
        parts.append(_cdf_path(sorted(errors), x, y, colour, name))
        parts.append(f'<rect x="{left + 8}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + 22}" y="{ly}">{escape(name)}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle">'
                 'error (km, log scale); share of all photos within it</text></svg>')
    return "".join(parts)


def _cdf_path(errors: Sequence[float], x: Axis, y: Axis, colour: str, name: str) -> str:
    """Return one CDF step line; `errors` sorted, misses (inf) never counted."""
    n = len(errors)
    points = [(x(CDF_MIN_KM), y(0))]
    for i, err in enumerate(errors):
        if math.isinf(err):
            break
        points += [(x(err), y(i / n)), (x(err), y((i + 1) / n))]
    reached = sum(not math.isinf(e) for e in errors) / n if n else 0.0
    points.append((x(CDF_MAX_KM), y(reached)))
    d = "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return (f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2">'
            f'<title>{escape(name)}</title></path>')


def world_map_svg(points: Iterable[MapPoint], width: int = 800) -> str:
    """Return an equirectangular SVG world map with a line from each true place to its prediction.

    True places are dots, green when the country was right and red when not; predictions are hollow
    rings joined to their truth by a thin line. Misses (no predicted point) show the dot only.
    """
    height = width // 2
    scale = width / 360

    def xy(lat: float, lon: float) -> str:
        return f"{(lon + 180) * scale:.1f},{(90 - lat) * scale:.1f}"

    parts = [_svg_open(width, height, "World map of truth and prediction"),
             f'<rect width="{width}" height="{height}" fill="#eef4fa"/>',
             f'<g transform="scale({scale:.4f})"><path d="{_basemap_path()}" fill="#d8d8d0" '
             'stroke="#b0b0a8" stroke-width="0.15"/></g>']
    dots = []
    for p in points:
        colour = "#2ca02c" if p.correct else "#d62728"
        title = f"<title>{escape(p.label)}</title>" if p.label else ""
        if p.pred_lat is not None and p.pred_lon is not None:
            parts.append(f'<path d="M{xy(p.true_lat, p.true_lon)} L{xy(p.pred_lat, p.pred_lon)}" '
                         f'stroke="{colour}" stroke-width="1" opacity="0.6"/>')
            cx, cy = xy(p.pred_lat, p.pred_lon).split(",")
            dots.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="none" stroke="{colour}">{title}</circle>')
        cx, cy = xy(p.true_lat, p.true_lon).split(",")
        dots.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}">{title}</circle>')
    return "".join(parts + dots) + "</svg>"


@lru_cache(maxsize=1)
def _basemap_path() -> str:
    """Return one SVG path (degrees: x = lon + 180, y = 90 - lat) of all simplified country outlines."""
    rings = []
    for country in country_shapes():
        geometry: Any = country.geometry  # shapely (Multi)Polygon
        simple = geometry.simplify(MAP_SIMPLIFY_DEG, preserve_topology=False)
        for polygon in getattr(simple, "geoms", [simple]):
            if polygon.is_empty or polygon.geom_type != "Polygon" or polygon.area < MAP_MIN_AREA_DEG2:
                continue
            coords = polygon.exterior.coords
            rings.append("M" + "L".join(f"{lon + 180:.1f} {90 - lat:.1f}" for lon, lat in coords) + "Z")
    return "".join(rings)


def _svg_open(width: int, height: int, label: str) -> str:
    return (f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
            'font-family="sans-serif" font-size="11">')
