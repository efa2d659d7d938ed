"""Priors and per-step influence, on real country data (the committed Guess: tests/integration)."""

from __future__ import annotations

import math

import pytest

from geosleuth.core.state import Evidence
from geosleuth.run.fusion import PRIOR_FLOOR, Fusion, prior_belief


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


def test_influence_tracks_each_steps_move():
    fusion = Fusion(prior=prior_belief("gdp"))
    fusion.add(Evidence(tool="text_clues", country_likelihoods={"JP": 1.0}, strength=0.9))
    fusion.add(Evidence.failure("osm", "unavailable", "offline"))
    moves = fusion.influence("JP")
    assert moves[0][1] > 0 and moves[1][1] == 0
