"""The papers' geolocation metrics over scored predictions.

Distances are geodesic (WGS84). A prediction with no point is never turned into (0, 0): it counts as
wrong at every distance threshold and for the country, and is reported separately as `unanswered`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

THRESHOLDS_KM = (1, 25, 200, 750, 2500)
GEOSCORE_SCALE_KM = 1492.7


@dataclass(frozen=True)
class Scored:
    """One photo's truth and prediction."""

    true_lat: float
    true_lon: float
    true_country: str | None
    pred_lat: float | None
    pred_lon: float | None
    pred_country: str | None

    @property
    def distance_km(self) -> float | None:
        """Geodesic error in km, None when there was no predicted point."""
        from agent.geo import distance_km

        if self.pred_lat is None or self.pred_lon is None:
            return None
        return distance_km(self.true_lat, self.true_lon, self.pred_lat, self.pred_lon)


def geoscore(distance_km: float) -> float:
    """Return the GeoGuessr-style score 5000 * exp(-d / 1492.7) for an error of d km."""
    return 5000.0 * math.exp(-distance_km / GEOSCORE_SCALE_KM)


def summarize(rows: Iterable[Scored]) -> dict[str, float | int]:
    """Compute country accuracy, accuracy within each threshold, median/mean error and GeoScore.

    Accuracies are fractions of all rows (unanswered rows count as wrong); error statistics and
    GeoScore are over answered rows only, and `unanswered` says how many rows had no point.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no predictions to summarise")
    distances = [row.distance_km for row in rows]
    answered = [d for d in distances if d is not None]
    n = len(rows)
    out: dict[str, float | int] = {
        "n": n,
        "unanswered": n - len(answered),
        "country_accuracy": sum(
            r.pred_country is not None and r.pred_country == r.true_country for r in rows
        ) / n,
    }
    for km in THRESHOLDS_KM:
        out[f"within_{km}km"] = sum(d is not None and d <= km for d in distances) / n
    out["median_km"] = statistics.median(answered) if answered else math.nan
    out["mean_km"] = statistics.fmean(answered) if answered else math.nan
    out["geoscore"] = statistics.fmean(geoscore(d) for d in answered) if answered else math.nan
    return out
