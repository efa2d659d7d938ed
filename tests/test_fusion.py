"""Priors, the best-point rule and the committed Guess, on real country data."""

from __future__ import annotations

import math

import pytest

from geosleuth.run.fusion import PRIOR_FLOOR, Fusion, best_point, commit, prior_belief
from geosleuth.core.state import Candidate, Evidence


@pytest.mark.parametrize(("kind", "top"), [("gdp", {"US"}), ("population", {"CN", "IN"})])
def test_priors_come_from_general_sources(kind, top):
    belief = prior_belief(kind)
    probs = belief.probabilities()
    assert belief.top(1)[0][0] in top
    assert math.isclose(sum(probs.values()), 1.0, rel_tol=1e-9)
    assert min(probs.values()) >= max(probs.values()) * PRIOR_FLOOR * 0.999
    assert len(probs) > 200


def test_uniform_and_unknown_priors():
    probs = prior_belief("uniform").probabilities()
    assert max(probs.values()) == pytest.approx(min(probs.values()))
    with pytest.raises(ValueError, match="unknown prior"):
        prior_belief("flickr")


def test_no_evidence_commits_to_the_prior_top_at_its_capital():
    guess = commit(Fusion(prior=prior_belief("population")))
    assert guess.country_code in {"CN", "IN"}
    assert guess.radius_km and guess.radius_km > 500  # a country-sized radius, not a city's


def test_agreeing_points_beat_a_single_heavier_one():
    fusion = Fusion(prior=prior_belief("uniform"))
    paris = [Candidate(lat=48.85 + i * 0.01, lon=2.35, weight=0.4, country_code="FR") for i in range(3)]
    lyon = Candidate(lat=45.76, lon=4.84, weight=0.9, country_code="FR")
    fusion.add(Evidence(tool="gazetteer", country_likelihoods={"FR": 1.0}, candidates=[*paris, lyon]))
    point = best_point(fusion.belief, "FR", {fusion.steps[0].evidence.id: 1.0})
    assert point is not None and point.lat == pytest.approx(48.86, abs=0.02)
    guess = commit(fusion)
    assert guess.country_code == "FR" and guess.place and guess.region


def test_influence_tracks_each_steps_move():
    fusion = Fusion(prior=prior_belief("gdp"))
    fusion.add(Evidence(tool="text_clues", country_likelihoods={"JP": 1.0}, strength=0.9))
    fusion.add(Evidence.failure("osm", "unavailable", "offline"))
    moves = fusion.influence("JP")
    assert moves[0][1] > 0 and moves[1][1] == 0
