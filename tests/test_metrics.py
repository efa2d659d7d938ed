"""The papers' metrics on hand-checkable cases."""

from __future__ import annotations

import math

import pytest

from evals.metrics import Scored, geoscore, summarize


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
