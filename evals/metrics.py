"""The papers' geolocation metrics over scored predictions.

Distances are geodesic (WGS84). A prediction with no point is never turned into (0, 0): it counts as
wrong at every distance threshold and for the country, and is reported separately as `unanswered`.
For the headline figures a miss is an infinite error (so the median is reported honestly, as infinite,
once over half the photos are misses) and scores 0 GeoScore; the older `median_km`, `mean_km` and
`geoscore` keys are over answered photos only.

A label may give only the true country (country-level sets): such a row is scored on its country
(accuracy, per-country precision/recall/F1, the confusion matrix) and left out of every distance
metric, which are over the rows whose truth has coordinates (`n_located` of them).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
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
NO_GUESS = "none"
"""The confusion matrix's column of rows that guessed no country."""


@dataclass(frozen=True)
class Scored:
    """One photo's truth and prediction (and the confidence the agent gave its country).

    The true point is None for a country-only label.
    """

    true_lat: float | None
    true_lon: float | None
    true_country: str | None
    pred_lat: float | None
    pred_lon: float | None
    pred_country: str | None
    confidence: float = 0.0
    localizability: float | None = None

    @property
    def located(self) -> bool:
        """Whether the truth has coordinates (else the row counts for the country metrics only)."""
        return self.true_lat is not None and self.true_lon is not None

    @cached_property
    def distance_km(self) -> float | None:
        """Geodesic error in km, None when there was no predicted point or the truth has none."""
        if self.pred_lat is None or self.pred_lon is None or self.true_lat is None or self.true_lon is None:
            return None
        return distance_km(self.true_lat, self.true_lon, self.pred_lat, self.pred_lon)

    @property
    def error_km(self) -> float:
        """Geodesic error in km, infinite for a miss (no predicted point) and for a truth without a point.

        The distance metrics leave out rows whose truth has no point, so for them this is only a sort key.
        """
        d = self.distance_km
        return math.inf if d is None else d

    @property
    def country_correct(self) -> bool:
        """Whether a country was predicted and it is the true one."""
        return self.pred_country is not None and self.pred_country == self.true_country


def scored_from_result(row: Mapping[str, Any]) -> Scored:
    """Build a `Scored` from one results.jsonl row (see docs: eval run folder).

    A row whose guess is null, or whose guess has no lat/lon, becomes a miss. A truth with a country
    and null lat/lon is a country-only label.

    Raises:
        ValueError: when the row has no usable truth (neither a point nor a country, or half a point).
    """
    truth = row.get("truth")
    try:
        if not isinstance(truth, Mapping):
            raise TypeError("no truth")
        if truth.get("lat") is None and truth.get("lon") is None and truth.get("country"):
            true_point: tuple[float | None, float | None] = (None, None)
        else:
            true_point = (float(truth["lat"]), float(truth["lon"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"result row {row.get('id', '?')!r} has no truth lat/lon or country") from exc
    guess = row.get("guess") or {}
    lat, lon = guess.get("lat"), guess.get("lon")
    point = (float(lat), float(lon)) if lat is not None and lon is not None else (None, None)
    return Scored(
        true_point[0], true_point[1], truth.get("country"), point[0], point[1],
        guess.get("country"), float(guess.get("confidence") or 0.0),
        None if row.get("localizability") is None else float(row["localizability"]),
    )


def geoscore(distance_km: float) -> float:
    """Return the GeoGuessr-style score 5000 * exp(-d / 1492.7) for an error of d km."""
    return 5000.0 * math.exp(-distance_km / GEOSCORE_SCALE_KM)


@dataclass(frozen=True)
class Metric:
    """A headline metric: a per-photo value aggregated by mean or median over all rows.

    A distance metric (`located_only`) is over the rows whose truth has coordinates; NaN when none has.
    """

    per_row: Callable[[Scored], float]
    aggregate: Literal["mean", "median"]
    located_only: bool = False

    def rows(self, rows: Iterable[Scored]) -> list[Scored]:
        """Return the rows this metric is computed over."""
        return [r for r in rows if r.located] if self.located_only else list(rows)

    def __call__(self, rows: Sequence[Scored]) -> float:
        """Return the metric over these rows."""
        values = [self.per_row(r) for r in self.rows(rows)]
        if not values:
            return math.nan
        return statistics.fmean(values) if self.aggregate == "mean" else statistics.median(values)


def accuracy_within(km: float) -> Metric:
    """Return the metric: the fraction of located rows with an error of at most `km` (misses are wrong)."""
    return Metric(lambda r: float(r.error_km <= km), "mean", located_only=True)


country_accuracy = Metric(lambda r: float(r.country_correct), "mean")
"""The fraction of rows whose predicted country is the true one."""
median_error_km = Metric(lambda r: r.error_km, "median", located_only=True)
"""The median error over located rows, misses counted as infinite (so inf once half or more miss)."""
mean_geoscore = Metric(lambda r: geoscore(r.error_km), "mean", located_only=True)
"""The mean GeoScore over located rows, a miss scoring 0."""

METRICS: dict[str, Metric] = {
    "country_accuracy": country_accuracy,
    **{f"within_{km}km": accuracy_within(km) for km in THRESHOLDS_KM},
    "median_km_all": median_error_km,
    "geoscore_all": mean_geoscore,
}
"""The headline metrics over all rows (misses included), by name; `bootstrap_ci` takes these names."""


def summarize(rows: Iterable[Scored]) -> dict[str, float | int]:
    """Compute country accuracy and macro-F1, accuracy within each threshold, median/mean error and GeoScore.

    Country accuracy and `macro_f1` are over all rows; the distance accuracies, `median_km_all` (misses
    infinite) and `geoscore_all` (misses 0) over the `n_located` rows whose truth has coordinates (NaN
    when none has); `median_km`, `mean_km` and `geoscore` over those that were answered too, and
    `unanswered` says how many rows had no predicted point.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no predictions to summarise")
    answered = [r.distance_km for r in rows if r.distance_km is not None]
    out: dict[str, float | int] = {
        "n": len(rows),
        "unanswered": sum(r.pred_lat is None or r.pred_lon is None for r in rows),
        "n_located": sum(r.located for r in rows),
    }
    out.update({name: metric(rows) for name, metric in METRICS.items()})
    out["macro_f1"] = macro_f1(rows)
    out["median_km"] = statistics.median(answered) if answered else math.nan
    out["mean_km"] = statistics.fmean(answered) if answered else math.nan
    out["geoscore"] = statistics.fmean(geoscore(d) for d in answered) if answered else math.nan
    return out


@dataclass(frozen=True)
class CountryScore:
    """One country as a class of the country-level classification: its counts, precision, recall and F1."""

    country: str
    support: int
    """Rows whose true country it is."""
    predicted: int
    """Rows whose guessed country it is (among rows with a known true country)."""
    correct: int

    @property
    def precision(self) -> float:
        """Share of the rows guessed as this country that are in it (0 when it was never guessed)."""
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        """Share of the rows in this country that were guessed as it (0 when none is)."""
        return self.correct / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0 when both are 0)."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def country_scores(rows: Iterable[Scored]) -> list[CountryScore]:
    """Return per-country precision, recall and F1 for every country that is a truth or a guess.

    Rows with no true country are left out (their guess cannot be judged); a row with no guess counts
    against its true country's recall only. Largest support first, then most guessed, then code.
    """
    labelled = [r for r in rows if r.true_country]
    support = Counter(r.true_country for r in labelled)
    predicted = Counter(r.pred_country for r in labelled if r.pred_country)
    correct = Counter(r.true_country for r in labelled if r.country_correct)
    scores = [CountryScore(c, support[c], predicted[c], correct[c]) for c in {*support, *predicted} if c]
    return sorted(scores, key=lambda s: (-s.support, -s.predicted, s.country))


def macro_f1(rows: Iterable[Scored]) -> float:
    """Return the mean F1 over the true countries (those with support); NaN when no row has one.

    Countries only ever guessed are not averaged: their false positives already lower recall of the
    true countries those rows were in.
    """
    f1s = [s.f1 for s in country_scores(rows) if s.support]
    return statistics.fmean(f1s) if f1s else math.nan


def confusion_matrix(rows: Iterable[Scored]) -> dict[str, dict[str, int]]:
    """Return {true country: {guessed country (NO_GUESS when none): rows}} over rows with a true country.

    True countries come largest first, as in `country_scores`; each row's guesses most frequent first.
    """
    labelled = [r for r in rows if r.true_country]
    order = {s.country: i for i, s in enumerate(country_scores(labelled))}
    cells: dict[str, Counter[str]] = defaultdict(Counter)
    for r in labelled:
        cells[str(r.true_country)][r.pred_country or NO_GUESS] += 1
    return {
        truth: dict(sorted(guesses.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order)), kv[0])))
        for truth, guesses in sorted(cells.items(), key=lambda kv: order[kv[0]])
    }


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

    Percentiles are nearest-rank, so infinite medians stay infinite instead of turning into NaN. A
    distance metric resamples the located rows; (NaN, NaN) when there are none.
    """
    import numpy as np

    if not rows:
        raise ValueError("no predictions to summarise")
    fn = METRICS[metric] if isinstance(metric, str) else metric
    kept = fn.rows(rows)
    if not kept:
        return math.nan, math.nan
    values = np.array([fn.per_row(r) for r in kept], dtype=float)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // len(values))  # resamples drawn at once, to bound memory
    stats = []
    for start in range(0, n, chunk):
        sample = values[rng.integers(0, len(values), size=(min(chunk, n - start), len(values)))]
        stats.append(sample.mean(axis=1) if fn.aggregate == "mean" else np.median(sample, axis=1))
    ranked = np.sort(np.concatenate(stats))
    tail = (1 - level) / 2
    return float(ranked[int(tail * (n - 1))]), float(ranked[math.ceil((1 - tail) * (n - 1))])
