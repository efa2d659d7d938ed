"""The papers' geolocation metrics over scored predictions.

Distances are geodesic (WGS84). A prediction with no point is never turned into (0, 0): it counts as
wrong at every distance threshold and for the country, and is reported separately as `unanswered`.
For the headline figures a miss is an infinite error (so the median is reported honestly, as infinite,
once over half the photos are misses) and scores 0 GeoScore; the older `median_km`, `mean_km` and
`geoscore` keys are over answered photos only.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from geosleuth.core.countries import get_country
from geosleuth.core.geo import distance_km

THRESHOLDS_KM = (1, 25, 200, 750, 2500)
GEOSCORE_SCALE_KM = 1492.7
COVERAGE_STEPS = tuple(range(10, 101, 10))
"""Coverage points of `coverage_accuracy`, in percent of photos kept."""


@dataclass(frozen=True)
class Scored:
    """One photo's truth and prediction (and the confidence the agent gave its country)."""

    true_lat: float
    true_lon: float
    true_country: str | None
    pred_lat: float | None
    pred_lon: float | None
    pred_country: str | None
    confidence: float = 0.0
    localizability: float | None = None

    @cached_property
    def distance_km(self) -> float | None:
        """Geodesic error in km, None when there was no predicted point."""
        if self.pred_lat is None or self.pred_lon is None:
            return None
        return distance_km(self.true_lat, self.true_lon, self.pred_lat, self.pred_lon)

    @property
    def error_km(self) -> float:
        """Geodesic error in km, infinite for a miss (no predicted point)."""
        d = self.distance_km
        return math.inf if d is None else d

    @property
    def country_correct(self) -> bool:
        """Whether a country was predicted and it is the true one."""
        return self.pred_country is not None and self.pred_country == self.true_country


def scored_from_result(row: Mapping[str, Any]) -> Scored:
    """Build a `Scored` from one results.jsonl row (see docs: eval run folder).

    A row whose guess is null, or whose guess has no lat/lon, becomes a miss.

    Raises:
        ValueError: when the row has no usable truth.
    """
    try:
        truth = row["truth"]
        true_lat, true_lon = float(truth["lat"]), float(truth["lon"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"result row {row.get('id', '?')!r} has no truth lat/lon") from exc
    guess = row.get("guess") or {}
    lat, lon = guess.get("lat"), guess.get("lon")
    point = (float(lat), float(lon)) if lat is not None and lon is not None else (None, None)
    return Scored(
        true_lat, true_lon, truth.get("country"), point[0], point[1],
        guess.get("country"), float(guess.get("confidence") or 0.0),
        None if row.get("localizability") is None else float(row["localizability"]),
    )


def geoscore(distance_km: float) -> float:
    """Return the GeoGuessr-style score 5000 * exp(-d / 1492.7) for an error of d km."""
    return 5000.0 * math.exp(-distance_km / GEOSCORE_SCALE_KM)


@dataclass(frozen=True)
class Metric:
    """A headline metric: a per-photo value aggregated by mean or median over all rows."""

    per_row: Callable[[Scored], float]
    aggregate: Literal["mean", "median"]

    def __call__(self, rows: Sequence[Scored]) -> float:
        """Return the metric over these rows."""
        values = [self.per_row(r) for r in rows]
        return statistics.fmean(values) if self.aggregate == "mean" else statistics.median(values)


def accuracy_within(km: float) -> Metric:
    """Return the metric: the fraction of rows with an error of at most `km` (misses are wrong)."""
    return Metric(lambda r: float(r.error_km <= km), "mean")


country_accuracy = Metric(lambda r: float(r.country_correct), "mean")
"""The fraction of rows whose predicted country is the true one."""
median_error_km = Metric(lambda r: r.error_km, "median")
"""The median error over all rows, misses counted as infinite (so inf once half or more miss)."""
mean_geoscore = Metric(lambda r: geoscore(r.error_km), "mean")
"""The mean GeoScore over all rows, a miss scoring 0."""

METRICS: dict[str, Metric] = {
    "country_accuracy": country_accuracy,
    **{f"within_{km}km": accuracy_within(km) for km in THRESHOLDS_KM},
    "median_km_all": median_error_km,
    "geoscore_all": mean_geoscore,
}
"""The headline metrics over all rows (misses included), by name; `bootstrap_ci` takes these names."""


def summarize(rows: Iterable[Scored]) -> dict[str, float | int]:
    """Compute country accuracy, accuracy within each threshold, median/mean error and GeoScore.

    Accuracies, `median_km_all` (misses infinite) and `geoscore_all` (misses 0) are over all rows;
    `median_km`, `mean_km` and `geoscore` are over answered rows only, and `unanswered` says how many
    rows had no point.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no predictions to summarise")
    answered = [r.distance_km for r in rows if r.distance_km is not None]
    out: dict[str, float | int] = {"n": len(rows), "unanswered": len(rows) - len(answered)}
    out.update({name: metric(rows) for name, metric in METRICS.items()})
    out["median_km"] = statistics.median(answered) if answered else math.nan
    out["mean_km"] = statistics.fmean(answered) if answered else math.nan
    out["geoscore"] = statistics.fmean(geoscore(d) for d in answered) if answered else math.nan
    return out


def breakdown(rows: Iterable[Scored], key: Callable[[Scored], str]) -> dict[str, dict[str, float | int]]:
    """Summarise rows grouped by `key` (e.g. true continent or country), largest group first."""
    groups: dict[str, list[Scored]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return {name: summarize(group) for name, group in ordered}


def continent_of(row: Scored) -> str:
    """Return the GeoNames continent code (EU, AS, ...) of the row's true country, '??' when unknown."""
    if not row.true_country:
        return "??"
    try:
        return get_country(row.true_country).continent
    except KeyError:
        return "??"


def per_continent(rows: Iterable[Scored]) -> dict[str, dict[str, float | int]]:
    """Summarise rows by the continent of the true country."""
    return breakdown(rows, continent_of)


def per_country(rows: Iterable[Scored]) -> dict[str, dict[str, float | int]]:
    """Summarise rows by the true country ('??' when the truth has none)."""
    return breakdown(rows, lambda r: r.true_country or "??")


@dataclass(frozen=True)
class CoveragePoint:
    """Accuracy on the share of photos the agent was most confident about."""

    coverage: float
    n: int
    min_confidence: float
    country_accuracy: float
    within_200km: float


def coverage_accuracy(
    rows: Iterable[Scored],
    steps: Sequence[int] = COVERAGE_STEPS,
    by: Literal["confidence", "localizability"] = "confidence",
) -> list[CoveragePoint]:
    """Return the coverage-accuracy curve: rows sorted by `by`, highest first.

    `by` is the agent's confidence in its country, or the photo's localizability score (abstention).
    For each coverage c% in `steps`, the top ceil(c% of n) rows are kept and their country accuracy and
    accuracy within 200 km computed. Ties keep the rows' order; misses have confidence 0 and a missing
    localizability counts as 0. `min_confidence` of each point is the lowest kept score.
    """
    ranked = sorted(rows, key=lambda r: -(getattr(r, by) or 0.0))
    if not ranked:
        raise ValueError("no predictions to summarise")
    within_200 = accuracy_within(200)
    points = []
    for pct in steps:
        kept = ranked[: max(1, math.ceil(len(ranked) * pct / 100))]
        points.append(
            CoveragePoint(
                pct / 100, len(kept), getattr(kept[-1], by) or 0.0, country_accuracy(kept), within_200(kept)
            )
        )
    return points


def bootstrap_ci(
    rows: Sequence[Scored],
    metric: str | Metric,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Return a percentile bootstrap confidence interval for a metric.

    Args:
        rows: the scored photos.
        metric: a name in `METRICS` or a `Metric`.
        n: number of resamples (with replacement, same size as `rows`).
        seed: seed of the resampling, so reports are reproducible.
        level: coverage of the interval (0.95: the 2.5th and 97.5th percentiles).

    Percentiles are nearest-rank, so infinite medians stay infinite instead of turning into NaN.
    """
    import numpy as np

    if not rows:
        raise ValueError("no predictions to summarise")
    fn = METRICS[metric] if isinstance(metric, str) else metric
    values = np.array([fn.per_row(r) for r in rows], dtype=float)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(values))  # resamples drawn at once, to bound memory
    stats = []
    for start in range(0, n, chunk):
        sample = values[rng.integers(0, len(values), size=(min(chunk, n - start), len(values)))]
        stats.append(sample.mean(axis=1) if fn.aggregate == "mean" else np.median(sample, axis=1))
    ranked = np.sort(np.concatenate(stats))
    tail = (1 - level) / 2
    return float(ranked[int(tail * (n - 1))]), float(ranked[math.ceil((1 - tail) * (n - 1))])
