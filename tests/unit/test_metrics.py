"""The papers' metrics on hand-checkable cases."""

from __future__ import annotations

import math

import pytest

from geosleuth.evals.metrics import (
    NO_GUESS,
    Metric,
    Scored,
    bootstrap_ci,
    confusion_matrix,
    country_scores,
    coverage_accuracy,
    geoscore,
    macro_f1,
    per_continent,
    per_country,
    scored_from_result,
    summarize,
)


def test_geoscore_endpoints():
    assert geoscore(0) == 5000
    assert geoscore(1492.7) == pytest.approx(5000 / math.e)


def test_summary_counts_unanswered_as_wrong_never_as_zero_zero():
    rows = [
        Scored(48.8566, 2.3522, "FR", 48.8566, 2.3522, "FR"),  # exact
        Scored(48.8566, 2.3522, "FR", 45.7640, 4.8357, "FR"),  # Lyon, ~392 km
        Scored(0.1, 0.1, "XX", None, None, None),  # unanswered: must not score as (0, 0), 15 km away
    ]
    out = summarize(rows)
    assert out["n"] == 3 and out["unanswered"] == 1
    assert out["country_accuracy"] == pytest.approx(2 / 3)
    assert out["within_1km"] == pytest.approx(1 / 3)
    assert out["within_25km"] == pytest.approx(1 / 3)
    assert out["within_750km"] == pytest.approx(2 / 3)
    assert out["median_km"] == pytest.approx(391.5 / 2, abs=1.5)
    assert out["geoscore"] == pytest.approx((5000 + geoscore(391.5)) / 2, abs=2)


def test_empty_is_an_error():
    with pytest.raises(ValueError):
        summarize([])


PARIS, LONDON, TOKYO = (48.8566, 2.3522), (51.5074, -0.1278), (35.6762, 139.6503)
PARIS_LONDON_KM = 343.92  # WGS84 geodesic (a sphere gives ~343.5)


def _rows_with_misses(misses: int) -> list[Scored]:
    rows = [
        Scored(*PARIS, "FR", *PARIS, "FR", 0.9),  # exact
        Scored(*PARIS, "FR", *LONDON, "GB", 0.6),  # wrong country, 343.9 km
        Scored(*TOKYO, "JP", *PARIS, "FR", 0.2),  # ~9,700 km
    ]
    return rows + [Scored(*LONDON, "GB", None, None, None, 0.0)] * misses


def test_headline_metrics_count_misses_as_wrong_infinite_and_zero_score():
    rows = _rows_with_misses(2)
    assert rows[1].distance_km == pytest.approx(PARIS_LONDON_KM, abs=0.01)
    out = summarize(rows)
    assert out["n"] == 5 and out["unanswered"] == 2
    assert out["country_accuracy"] == pytest.approx(1 / 5)
    assert out["within_1km"] == pytest.approx(1 / 5)
    assert out["within_200km"] == pytest.approx(1 / 5)
    assert out["within_750km"] == pytest.approx(2 / 5)
    assert out["within_2500km"] == pytest.approx(2 / 5)
    # sorted errors: 0, 343.9, 9700, inf, inf -> the median is the real 9,700 km error
    assert out["median_km_all"] == pytest.approx(rows[2].distance_km)
    scores = 5000 + geoscore(PARIS_LONDON_KM) + geoscore(rows[2].distance_km) + 0 + 0
    assert out["geoscore_all"] == pytest.approx(scores / 5)
    # over answered rows only, with the misses stated
    assert out["mean_km"] == pytest.approx((PARIS_LONDON_KM + rows[2].distance_km) / 3, abs=0.01)
    assert out["median_km"] == pytest.approx(PARIS_LONDON_KM, abs=0.01)


def test_median_is_infinite_once_half_or_more_are_misses():
    assert math.isinf(summarize(_rows_with_misses(3))["median_km_all"])
    assert math.isinf(summarize(_rows_with_misses(4))["median_km_all"])
    everything_missed = summarize([Scored(*PARIS, "FR", None, None, None)] * 2)
    assert math.isinf(everything_missed["median_km_all"]) and everything_missed["geoscore_all"] == 0
    assert math.isnan(everything_missed["mean_km"])


def test_result_rows_without_a_point_are_misses_never_zero_zero():
    truth = {"lat": 0.1, "lon": 0.1, "country": None}
    for guess in (None, {"country": "FR", "lat": None, "lon": None, "confidence": 0.5},
                  {"country": None, "lat": 0.0, "lon": None, "confidence": 0.0}):
        scored = scored_from_result({"id": "x", "truth": truth, "guess": guess})
        assert scored.distance_km is None and math.isinf(scored.error_km)
        assert summarize([scored])["within_25km"] == 0
    answered = scored_from_result({"id": "y", "truth": {"lat": PARIS[0], "lon": PARIS[1], "country": "FR"},
                                   "guess": {"country": "GB", "lat": LONDON[0], "lon": LONDON[1],
                                             "confidence": 0.25}})
    assert answered.error_km == pytest.approx(PARIS_LONDON_KM, abs=0.01)
    assert answered.confidence == 0.25 and not answered.country_correct
    with pytest.raises(ValueError, match="no truth"):
        scored_from_result({"id": "z", "truth": {"lat": None}, "guess": None})


def test_per_continent_and_per_country_groups():
    rows = _rows_with_misses(1)
    continents = per_continent(rows)
    assert list(continents) == ["EU", "AS"]  # largest group first
    assert continents["EU"]["n"] == 3 and continents["EU"]["unanswered"] == 1
    assert continents["EU"]["country_accuracy"] == pytest.approx(1 / 3)
    assert continents["AS"]["country_accuracy"] == 0
    countries = per_country(rows)
    assert {k: v["n"] for k, v in countries.items()} == {"FR": 2, "GB": 1, "JP": 1}
    assert countries["FR"]["within_1km"] == pytest.approx(1 / 2)


def test_coverage_accuracy_ranks_by_confidence():
    rows = _rows_with_misses(1) + [Scored(*TOKYO, "JP", *TOKYO, "JP", 0.95)] * 5
    curve = coverage_accuracy(rows)
    assert [p.coverage for p in curve] == pytest.approx([i / 10 for i in range(1, 11)])
    # the 5 most confident (0.95) are all right, then 0.9 right, 0.6 wrong, 0.2 wrong, the miss wrong
    assert [p.n for p in curve] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 9]
    assert [p.country_accuracy for p in curve[:6]] == [1.0] * 6
    assert curve[6].country_accuracy == pytest.approx(6 / 7) and curve[6].min_confidence == 0.6
    assert curve[-1].country_accuracy == pytest.approx(6 / 9)
    assert curve[-1].within_200km == pytest.approx(6 / 9)


def test_bootstrap_ci_is_reproducible_and_brackets_the_estimate():
    rows = _rows_with_misses(2) * 20
    low, high = bootstrap_ci(rows, "country_accuracy", n=500, seed=1)
    assert (low, high) == bootstrap_ci(rows, "country_accuracy", n=500, seed=1)
    assert 0.05 < low < 0.2 < high < 0.35
    assert bootstrap_ci([Scored(*PARIS, "FR", *PARIS, "FR")] * 10, "within_1km") == (1.0, 1.0)
    low, high = bootstrap_ci(_rows_with_misses(3), "median_km_all", n=200)
    assert 0 <= low < 1000 and math.isinf(high)  # nearest-rank percentiles: no NaN from inf - inf
    mean_low, mean_high = bootstrap_ci(rows, Metric(lambda r: r.confidence, "mean"), n=200)
    assert mean_low < 0.34 < mean_high


def test_coverage_by_localizability_is_the_abstention_curve():
    right = Scored(*TOKYO, "JP", *TOKYO, "JP", 0.1, 0.9)
    wrong = Scored(*TOKYO, "JP", 0.0, 0.0, "US", 0.9, 0.05)
    unscored = Scored(*TOKYO, "JP", *TOKYO, "JP", 0.5)  # no localizability: ranked last
    curve = coverage_accuracy([wrong, unscored, right, right], steps=(50, 75, 100), by="localizability")
    # most locatable first: the two right answers, then the wrong one (confidence ranks them the other way)
    assert [p.n for p in curve] == [2, 3, 4]
    assert [p.country_accuracy for p in curve] == pytest.approx([1.0, 2 / 3, 0.75])
    assert [p.min_confidence for p in curve] == pytest.approx([0.9, 0.05, 0.0])
    assert coverage_accuracy([wrong, right], steps=(50,))[0].country_accuracy == 0.0


def _country_table() -> list[Scored]:
    """Ten rows judged on their country alone; one has no true country (open sea) and is not a class."""
    pairs = [("FR", "FR"), ("FR", "FR"), ("FR", "DE"), ("DE", "DE"), ("DE", "FR"), ("JP", "JP"), ("JP", None),
             ("JP", "KR"), ("IT", "FR"), (None, "US")]
    return [Scored(None, None, truth, None, None, guess) for truth, guess in pairs]


def test_per_country_precision_recall_f1_by_hand():
    scores = {s.country: s for s in country_scores(_country_table())}
    assert [s.country for s in country_scores(_country_table())] == ["FR", "JP", "DE", "IT", "KR"]
    # FR: 3 true, guessed 4 times (twice right, and for DE and IT): P 2/4, R 2/3, F1 2PR/(P+R) = 4/7
    fr = scores["FR"]
    assert (fr.support, fr.predicted, fr.correct) == (3, 4, 2)
    assert (fr.precision, fr.recall, fr.f1) == pytest.approx((0.5, 2 / 3, 4 / 7))
    assert (scores["DE"].precision, scores["DE"].recall, scores["DE"].f1) == pytest.approx((0.5, 0.5, 0.5))
    # JP: guessed once (right), missed once with no guess and once as KR: P 1, R 1/3, F1 0.5
    assert (scores["JP"].precision, scores["JP"].recall, scores["JP"].f1) == pytest.approx((1, 1 / 3, 0.5))
    assert (scores["IT"].predicted, scores["IT"].f1) == (0, 0)  # never guessed: precision 0, not an error
    assert (scores["KR"].support, scores["KR"].precision, scores["KR"].f1) == (0, 0, 0)
    assert "US" not in scores  # the guess of a row with no true country cannot be judged
    # macro-F1 over the four true countries (KR, only guessed, is listed but not averaged)
    assert macro_f1(_country_table()) == pytest.approx((4 / 7 + 0.5 + 0.5 + 0) / 4)
    assert math.isnan(macro_f1([Scored(None, None, None, None, None, "FR")]))


def test_confusion_matrix_rows_are_true_countries_largest_first():
    matrix = confusion_matrix(_country_table())
    assert list(matrix) == ["FR", "JP", "DE", "IT"]
    assert matrix["FR"] == {"FR": 2, "DE": 1} and matrix["DE"] == {"FR": 1, "DE": 1}
    assert matrix["JP"] == {"JP": 1, "KR": 1, NO_GUESS: 1} and matrix["IT"] == {"FR": 1}
    assert sum(sum(row.values()) for row in matrix.values()) == 9


def test_distance_metrics_are_over_rows_with_coordinates_only():
    located = [Scored(*PARIS, "FR", *PARIS, "FR"), Scored(*PARIS, "FR", *LONDON, "GB"),
               Scored(*TOKYO, "JP", None, None, "JP")]
    rows = located + _country_table()
    out = summarize(rows)
    assert out["n"] == 13 and out["n_located"] == 3
    assert out["country_accuracy"] == pytest.approx((1 + 1 + 4) / 13)
    assert out["within_1km"] == pytest.approx(1 / 3) and out["within_750km"] == pytest.approx(2 / 3)
    assert out["median_km_all"] == pytest.approx(PARIS_LONDON_KM, abs=0.01)  # of 0, 343.9 and a miss (inf)
    assert out["median_km"] == pytest.approx(PARIS_LONDON_KM / 2, abs=0.01)
    assert out["macro_f1"] == pytest.approx(macro_f1(rows))
    low, high = bootstrap_ci(rows, "within_1km", n=200)
    assert 0 <= low <= 1 / 3 <= high <= 1
    country_only = summarize(_country_table())
    assert country_only["n_located"] == 0 and math.isnan(country_only["within_25km"])
    assert math.isnan(country_only["median_km_all"])
    assert country_only["country_accuracy"] == pytest.approx(0.4)
    assert all(math.isnan(v) for v in bootstrap_ci(_country_table(), "geoscore_all", n=50))


def test_a_country_only_truth_is_read_back_without_a_point():
    row = {"id": "a", "truth": {"lat": None, "lon": None, "country": "JP"},
           "guess": {"country": "JP", "lat": 35.0, "lon": 139.0, "confidence": 0.7}}
    scored = scored_from_result(row)
    assert not scored.located and scored.distance_km is None and scored.country_correct
    for truth in ({"lat": None, "lon": None, "country": None}, {"lat": 35.0, "lon": None, "country": "JP"},
                  None):
        with pytest.raises(ValueError, match="no truth"):
            scored_from_result({"id": "b", "truth": truth, "guess": None})
