"""The best-point rule and the committed Guess (placed by the gazetteer), on real country data."""

from __future__ import annotations

import pytest

from geosleuth.core.state import Candidate, Evidence
from geosleuth.run.fusion import Fusion, best_point, commit, prior_belief
from geosleuth.tools.country_points import country_point


def test_no_evidence_commits_to_the_prior_top_at_its_largest_city():
    guess = commit(Fusion(prior=prior_belief("population")))
    assert guess.country_code in {"CN", "IN"}
    point = country_point(guess.country_code)
    assert point is not None and (guess.lat, guess.lon) == (point.lat, point.lon)
    assert guess.place == point.place and guess.region
    assert guess.radius_km == point.mean_km > 500  # a country-sized radius, not a city's


def test_agreeing_points_beat_a_single_heavier_one():
    fusion = Fusion(prior=prior_belief("uniform"))
    paris = [Candidate(lat=48.85 + i * 0.01, lon=2.35, weight=0.4, country_code="FR") for i in range(3)]
    lyon = Candidate(lat=45.76, lon=4.84, weight=0.9, country_code="FR")
    fusion.add(Evidence(tool="gazetteer", country_likelihoods={"FR": 1.0}, candidates=[*paris, lyon]))
    point = best_point(fusion.belief, "FR", {fusion.steps[0].evidence.id: 1.0})
    assert point is not None and point.lat == pytest.approx(48.86, abs=0.02)
    guess = commit(fusion)
    assert guess.country_code == "FR" and guess.place and guess.region
